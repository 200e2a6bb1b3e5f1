//! Certificates and CRLs replaced on disk while nodes keep running: `net::watch` for listeners,
//! `Client::watch` for clients.

mod support;

use std::time::Duration;

use net::{Client, ClientError, Expect};
use pki::{ClientAuth, Identity, Validity};
use support::{POLL, Pki, eventually, municipal, national, replace, start};

#[tokio::test]
async fn revoked_client_is_refused_once_the_new_crl_is_loaded() {
    let pki = Pki::new();
    let crl = pki.write_crl(&[]);
    let (mut server_files, _) = pki.issue("national", &national(), Validity::days(1));
    server_files.crl = Some(crl.clone());
    let (revoked_files, revoked_serial) = pki.issue("aichi", &municipal(), Validity::days(1));
    let (good_files, _) =
        pki.issue("suwa", &Identity::municipal("202061").unwrap(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::Required).await;
    let watcher = net::watch(server_files.clone(), vec![server.config.clone()], POLL);

    let url = server.url("/who");
    Client::new(&revoked_files).unwrap().get(&url, &Expect::Any).await.unwrap();
    Client::new(&good_files).unwrap().get(&url, &Expect::Any).await.unwrap();
    assert_eq!(server.hits(), 2);

    pki.write_crl(&[revoked_serial]);
    // Each attempt is a new client, so a new connection and a new handshake.
    let error = eventually("the revoked client is refused", || async {
        Client::new(&revoked_files).unwrap().get(&url, &Expect::Any).await.err()
    })
    .await;
    match &error {
        ClientError::Tls { reason, .. } => {
            assert!(reason.contains("CertificateRevoked"), "{error}")
        }
        other => panic!("expected a TLS refusal, got {other:?}: {other}"),
    }
    let hits = server.hits();
    let response = Client::new(&good_files).unwrap().get(&url, &Expect::Any).await.unwrap();
    assert!(String::from_utf8(response.body).unwrap().starts_with("urn:juki:municipal:202061 "));
    assert_eq!(server.hits(), hits + 1);

    // A CRL file that is no longer a CRL is reported and the last good one stays in force.
    replace(&crl, b"not a CRL");
    tokio::time::sleep(3 * POLL).await;
    assert!(Client::new(&revoked_files).unwrap().get(&url, &Expect::Any).await.is_err());
    Client::new(&good_files).unwrap().get(&url, &Expect::Any).await.unwrap();
    watcher.abort();
    server.stop().await;
}

#[tokio::test]
async fn rotated_server_certificate_is_presented_to_new_connections() {
    let pki = Pki::new();
    let (server_files, old_serial) = pki.issue("national", &national(), Validity::days(1));
    let (client_files, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::Required).await;
    let watcher = net::watch(server_files.clone(), vec![server.config.clone()], POLL);
    let url = server.url("/who");

    let pooled = Client::new(&client_files).unwrap();
    assert_eq!(pooled.get(&url, &Expect::Any).await.unwrap().server.serial, old_serial);

    // The same paths, a new certificate and key (written one after the other: for a moment the
    // watcher sees a certificate with the old key, and must keep the old pair).
    let (_, new_serial) = pki.issue("national", &national(), Validity::days(30));
    assert_ne!(new_serial, old_serial);
    eventually("a new connection sees the new certificate", || async {
        let response = Client::new(&client_files).unwrap().get(&url, &Expect::Any).await.unwrap();
        (response.server.serial == new_serial).then_some(())
    })
    .await;
    // The connection opened before the rotation goes on with the certificate it was made with.
    assert_eq!(pooled.get(&url, &Expect::Any).await.unwrap().server.serial, old_serial);

    // A certificate file that is not a certificate is reported; the current one stays.
    replace(&server_files.cert, b"garbage");
    tokio::time::sleep(3 * POLL).await;
    let response = Client::new(&client_files).unwrap().get(&url, &Expect::Any).await.unwrap();
    assert_eq!(response.server.serial, new_serial);
    watcher.abort();
    server.stop().await;
}

#[tokio::test]
async fn watch_ends_when_the_configurations_are_dropped() {
    let pki = Pki::new();
    let (server_files, _) = pki.issue("national", &national(), Validity::days(1));
    let config = server_files.server_config(ClientAuth::Required).unwrap();
    let watcher = net::watch(server_files, vec![config.clone()], POLL);
    tokio::time::sleep(POLL).await;
    assert!(!watcher.is_finished());
    drop(config);
    tokio::time::timeout(Duration::from_secs(2), watcher).await.unwrap().unwrap();
}

#[tokio::test]
async fn client_refuses_a_server_revoked_in_its_reloaded_crl() {
    let pki = Pki::new();
    let crl = pki.write_crl(&[]);
    let (server_files, server_serial) = pki.issue("national", &national(), Validity::days(1));
    let (mut client_files, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    client_files.crl = Some(crl.clone());
    let mut server = start(&server_files, ClientAuth::Required).await;
    let url = server.url("/who");
    let client = Client::new(&client_files).unwrap();
    assert!(!client.reload().unwrap(), "nothing changed yet");
    client.get(&url, &Expect::Any).await.unwrap();

    let watcher = client.watch(POLL);
    pki.write_crl(&[server_serial]);
    // The same client (its connections go with the old configuration).
    let error = eventually("the client refuses the revoked server", || async {
        client.get(&url, &Expect::Any).await.err()
    })
    .await;
    match &error {
        ClientError::Tls { reason, .. } => {
            assert!(reason.contains("not acceptable") && reason.contains("revoked"), "{error}")
        }
        other => panic!("expected a TLS refusal, got {other:?}: {other}"),
    }
    // From now on nothing reaches the server.
    let hits = server.hits();
    assert!(client.get(&url, &Expect::Any).await.is_err());

    // An unusable CRL file is refused by `reload` and the one in force stays.
    replace(&crl, b"not a CRL");
    let problem = client.reload().unwrap_err();
    assert!(matches!(problem, net::LoadError::NoCrl { .. }), "{problem}");
    assert!(client.get(&url, &Expect::Any).await.is_err());
    assert_eq!(server.hits(), hits);
    watcher.abort();
    server.stop().await;
}
