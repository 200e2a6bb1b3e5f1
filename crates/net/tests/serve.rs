//! `net::serve` and `net::Client` over real sockets on 127.0.0.1: who is let in, what the
//! handler sees, whom the client agrees to talk to, and shutdown.

mod support;

use std::time::{Duration, Instant, SystemTime};

use net::{Client, ClientError, Expect, ServerCert};
use pki::{ClientAuth, Identity, Role, Validity};
use support::{Pki, municipal, national, start};

#[tokio::test]
async fn mutual_tls_request_sees_the_verified_peer() {
    let pki = Pki::new();
    let (server_files, server_serial) = pki.issue("national", &national(), Validity::days(1));
    let (client_files, client_serial) = pki.issue("aichi", &municipal(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::Required).await;
    let client = Client::new(&client_files).unwrap();

    let response = client.get(&server.url("/who"), &Expect::Identity(national())).await.unwrap();
    assert_eq!(
        String::from_utf8(response.body).unwrap(),
        format!("urn:juki:municipal:204072 {client_serial}")
    );
    assert_eq!(response.server, ServerCert { identity: national(), serial: server_serial });

    let echoed = client
        .post(
            &server.url("/echo"),
            b"batch".to_vec(),
            "application/octet-stream",
            &Expect::Role(Role::National),
        )
        .await
        .unwrap();
    assert_eq!(echoed.body, b"batch");
    assert_eq!(server.hits(), 2);
    server.stop().await;
}

/// Asserts that a call was refused in the TLS handshake and never reached a handler.
fn assert_tls_refused(error: &ClientError) {
    match error {
        ClientError::Tls { reason, .. } => {
            assert!(reason.contains("refused our client certificate"), "{error}")
        }
        other => panic!("expected a TLS refusal, got {other:?}: {other}"),
    }
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let pki = Pki::new();
    let (server_files, _) = pki.issue("national", &national(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::Required).await;
    let anonymous = Client::anonymous(&pki.ca_path, None).unwrap();
    let error = anonymous.get(&server.url("/open"), &Expect::Any).await.unwrap_err();
    assert_tls_refused(&error);
    assert!(error.to_string().contains("CertificateRequired"), "{error}");
    assert_eq!(server.hits(), 0);
    server.stop().await;
}

#[tokio::test]
async fn expired_client_certificate_is_refused() {
    let pki = Pki::new();
    let (server_files, _) = pki.issue("national", &national(), Validity::days(1));
    let now = SystemTime::now();
    let expired = Validity {
        not_before: now - Duration::from_secs(10 * 86_400),
        not_after: now - Duration::from_secs(86_400),
    };
    let (client_files, _) = pki.issue("expired", &municipal(), expired);
    let mut server = start(&server_files, ClientAuth::Required).await;
    let error = Client::new(&client_files)
        .unwrap()
        .get(&server.url("/who"), &Expect::Any)
        .await
        .unwrap_err();
    assert_tls_refused(&error);
    assert_eq!(server.hits(), 0);
    server.stop().await;
}

#[tokio::test]
async fn certificate_from_another_ca_is_refused() {
    // Another CA of the same name (its certificates name our CA as issuer, but their signatures
    // do not verify), and one of another name.
    for other in [Pki::new(), Pki::named("another CA")] {
        refused_across_cas(Pki::new(), other).await;
    }
}

async fn refused_across_cas(pki: Pki, other: Pki) {
    let (server_files, _) = pki.issue("national", &national(), Validity::days(1));
    let (mut client_files, _) = other.issue("aichi", &municipal(), Validity::days(1));
    // The client trusts our CA, so it accepts the server, but presents the other CA's
    // certificate.
    client_files.ca = pki.ca_path.clone();
    let mut server = start(&server_files, ClientAuth::Required).await;
    let error = Client::new(&client_files)
        .unwrap()
        .get(&server.url("/who"), &Expect::Any)
        .await
        .unwrap_err();
    assert_tls_refused(&error);
    assert_eq!(server.hits(), 0);

    // And a server of the other CA is refused by our client.
    let (other_server_files, _) = other.issue("national", &national(), Validity::days(1));
    let mut other_server = start(&other_server_files, ClientAuth::Required).await;
    let (ours, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    let error =
        Client::new(&ours).unwrap().get(&other_server.url("/who"), &Expect::Any).await.unwrap_err();
    match &error {
        ClientError::Tls { reason, .. } => {
            assert!(reason.contains("server's certificate is not acceptable"), "{error}")
        }
        other => panic!("expected our client to refuse the server, got {other:?}"),
    }
    assert_eq!(other_server.hits(), 0);
    server.stop().await;
    other_server.stop().await;
}

#[tokio::test]
async fn client_refuses_a_server_that_is_not_the_expected_one() {
    let pki = Pki::new();
    let nagano = Identity::prefecture("20").unwrap();
    let niigata = Identity::prefecture("15").unwrap();
    let (server_files, _) = pki.issue("niigata", &niigata, Validity::days(1));
    let (client_files, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::Required).await;
    let client = Client::new(&client_files).unwrap();

    let error = client
        .post(
            &server.url("/echo"),
            b"batch for Nagano".to_vec(),
            "application/octet-stream",
            &Expect::Identity(nagano.clone()),
        )
        .await
        .unwrap_err();
    match &error {
        ClientError::WrongServer { expected, found, .. } => {
            assert_eq!(expected, &Expect::Identity(nagano.clone()));
            assert_eq!(found, &niigata);
        }
        other => panic!("expected a wrong server error, got {other:?}: {other}"),
    }
    let message = error.to_string();
    assert!(
        message.contains("urn:juki:prefecture:15")
            && message.contains("urn:juki:prefecture:20")
            && message.contains("nothing was sent"),
        "{message}"
    );
    // The handshake was refused: the batch never reached a handler.
    assert_eq!(server.hits(), 0);

    let error = client.get(&server.url("/who"), &Expect::Role(Role::National)).await.unwrap_err();
    assert!(matches!(error, ClientError::WrongServer { .. }), "{error}");
    assert_eq!(server.hits(), 0);

    // The same client, expecting what the server is, gets through.
    let response = client.get(&server.url("/who"), &Expect::Role(Role::Prefecture)).await.unwrap();
    assert_eq!(response.server.identity, niigata);
    client.get(&server.url("/who"), &Expect::Identity(niigata)).await.unwrap();
    assert_eq!(server.hits(), 2);
    server.stop().await;
}

#[tokio::test]
async fn server_tls_only_listener_serves_anonymous_clients_without_a_peer() {
    let pki = Pki::new();
    let (server_files, _) = pki.issue("national", &national(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::None).await;
    let anonymous = Client::anonymous(&pki.ca_path, None).unwrap();

    let response = anonymous.get(&server.url("/open"), &Expect::Any).await.unwrap();
    assert_eq!(response.body, b"anonymous");

    let error = anonymous.get(&server.url("/who"), &Expect::Any).await.unwrap_err();
    match &error {
        ClientError::Status { status, body, .. } => {
            assert_eq!(status.as_u16(), 401);
            let body: serde_json::Value = serde_json::from_str(body).expect("a JSON error body");
            assert_eq!(body["code"], "no-peer");
            assert_eq!(body["message"], net::NO_PEER_MESSAGE);
        }
        other => panic!("expected a 401, got {other:?}: {other}"),
    }

    // A client with a certificate is not asked for it here, so it is anonymous too.
    let (client_files, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    let response =
        Client::new(&client_files).unwrap().get(&server.url("/open"), &Expect::Any).await.unwrap();
    assert_eq!(response.body, b"anonymous");
    // `/open` ran twice; `/who`'s extractor refused before its handler ran.
    assert_eq!(server.hits(), 2);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_requests_under_way_and_stops_accepting() {
    let pki = Pki::new();
    let (server_files, _) = pki.issue("national", &national(), Validity::days(1));
    let (client_files, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::Required).await;
    let client = Client::new(&client_files).unwrap();
    // An idle keep-alive connection, which shutdown must not wait for.
    client.get(&server.url("/open"), &Expect::Any).await.unwrap();

    let slow = tokio::spawn({
        let client = client.clone();
        let url = server.url("/slow");
        async move { client.get(&url, &Expect::Any).await }
    });
    support::eventually("the slow handler runs", || async { (server.hits() == 2).then_some(()) })
        .await;
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(2), "shutdown took {:?}", started.elapsed());
    assert_eq!(slow.await.unwrap().unwrap().body, b"slow");

    let error = Client::new(&client_files)
        .unwrap()
        .get(&server.url("/open"), &Expect::Any)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains("could not connect"), "{error}");
}

#[tokio::test]
async fn client_errors_are_precise() {
    let pki = Pki::new();
    let (server_files, _) = pki.issue("national", &national(), Validity::days(1));
    let (client_files, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    let mut server = start(&server_files, ClientAuth::Required).await;
    let client = Client::new(&client_files).unwrap();

    let error = client.get(&server.url("/nothing-here"), &Expect::Any).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Status { status, .. } if status.as_u16() == 404),
        "{error}"
    );
    let plain = format!("http://127.0.0.1:{}/who", server.addr.port());
    let error = client.get(&plain, &Expect::Any).await.unwrap_err();
    assert!(matches!(error, ClientError::Url { .. }), "{error}");
    assert!(error.to_string().contains("https://"), "{error}");

    let limited = client
        .clone()
        .with_options(net::ClientOptions { max_body: 4, ..net::ClientOptions::default() });
    let error = limited
        .post(&server.url("/echo"), b"too long".to_vec(), "text/plain", &Expect::Any)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::TooLarge { limit: 4, .. }), "{error}");

    let hasty = client.clone().with_options(net::ClientOptions {
        timeout: Duration::from_millis(100),
        ..net::ClientOptions::default()
    });
    let error = hasty.get(&server.url("/slow"), &Expect::Any).await.unwrap_err();
    assert!(matches!(error, ClientError::Timeout { .. }), "{error:?}");
    server.stop().await;
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused_when_loading() {
    let pki = Pki::new();
    let (files, _) = pki.issue("aichi", &municipal(), Validity::days(1));
    let (other, _) = pki.issue("other", &municipal(), Validity::days(1));
    let mismatched = net::TlsFiles { key: other.key, ..files };
    let error = Client::new(&mismatched).unwrap_err();
    assert!(matches!(error, net::LoadError::Refused { .. }), "{error}");
    assert!(error.to_string().contains("aichi.crt"), "{error}");
    let error = mismatched.server_config(ClientAuth::Required).unwrap_err();
    assert!(matches!(error, net::LoadError::Refused { .. }), "{error}");
}
