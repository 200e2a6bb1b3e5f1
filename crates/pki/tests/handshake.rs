//! Real TLS 1.3 handshakes between rustls connections in memory: who is let in, who is refused,
//! what identity a verified peer has, and certificate and CRL rotation.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pki::{
    Ca, ClientAuth, Identity, IdentityError, ReloadableServerConfig, Role, Serial, Validity,
    certs_from_pem, client_config, crls_from_pem, key_from_pem, peer_identity, server_config,
};
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

const HOST: &str = "national.juki.test";

#[derive(Debug)]
enum Refused {
    Client(rustls::Error),
    Server(rustls::Error),
}

/// Runs a handshake to completion; returns both connections, or the side that refused and why.
fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> Result<(ServerConnection, ClientConnection), Refused> {
    let mut server = ServerConnection::new(server).unwrap();
    let mut client = ClientConnection::new(client, ServerName::try_from(HOST).unwrap()).unwrap();
    for _ in 0..10 {
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut to_server).unwrap();
        }
        let mut input = &to_server[..];
        while !input.is_empty() {
            server.read_tls(&mut input).unwrap();
            server.process_new_packets().map_err(Refused::Server)?;
        }
        let mut to_client = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut to_client).unwrap();
        }
        let mut input = &to_client[..];
        while !input.is_empty() {
            client.read_tls(&mut input).unwrap();
            client.process_new_packets().map_err(Refused::Client)?;
        }
        if !client.is_handshaking()
            && !server.is_handshaking()
            && !client.wants_write()
            && !server.wants_write()
        {
            return Ok((server, client));
        }
    }
    panic!("the handshake did not finish");
}

struct Network {
    ca: Ca,
    ca_key_pem: String,
    roots: Vec<CertificateDer<'static>>,
}

impl Network {
    fn new() -> Self {
        let (ca, cert_pem, ca_key_pem) = Ca::init("juki test CA").unwrap();
        Network { ca, ca_key_pem, roots: certs_from_pem(&cert_pem).unwrap() }
    }

    fn server(&self, crls: Vec<CertificateRevocationListDer<'static>>) -> Arc<ServerConfig> {
        let national = Identity::without_code(Role::National).unwrap();
        let (cert, key) =
            self.ca.issue(&national, &[HOST, "127.0.0.1"], Validity::days(30)).unwrap();
        server_config(
            certs_from_pem(&cert).unwrap(),
            key_from_pem(&key).unwrap(),
            &self.roots,
            crls,
            ClientAuth::Required,
        )
        .unwrap()
    }

    fn client_from(&self, cert: &str, key: &str) -> Arc<ClientConfig> {
        client_config(
            certs_from_pem(cert).unwrap(),
            key_from_pem(key).unwrap(),
            &self.roots,
            vec![],
        )
        .unwrap()
    }

    fn municipal(&self, validity: Validity) -> (String, String) {
        self.ca.issue(&Identity::municipal("204072").unwrap(), &[], validity).unwrap()
    }
}

fn client_identity(server: &ServerConnection) -> Result<Identity, IdentityError> {
    peer_identity(&server.peer_certificates().expect("a verified client certificate")[0])
}

#[test]
fn valid_client_is_accepted_and_identified() {
    let net = Network::new();
    let (cert, key) = net.municipal(Validity::days(1));
    let (server, client) = handshake(net.server(vec![]), net.client_from(&cert, &key)).unwrap();
    let identity = client_identity(&server).unwrap();
    assert_eq!(identity.role, Role::Municipal);
    assert_eq!(identity.code.as_deref(), Some("204072"));
    // The client can check the server's role the same way.
    let server_identity = peer_identity(&client.peer_certificates().unwrap()[0]).unwrap();
    assert_eq!(server_identity, Identity::without_code(Role::National).unwrap());
    assert_eq!(server.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn client_without_certificate_is_refused() {
    let net = Network::new();
    let client = pki::anonymous_client_config(&net.roots, vec![]).unwrap();
    match handshake(net.server(vec![]), client) {
        Err(Refused::Server(rustls::Error::NoCertificatesPresented)) => {}
        other => panic!("expected NoCertificatesPresented, got {:?}", other.err()),
    }
}

#[test]
fn server_without_client_auth_accepts_anonymous_clients() {
    let net = Network::new();
    let (cert, key) = net
        .ca
        .issue(&Identity::without_code(Role::National).unwrap(), &[HOST], Validity::days(1))
        .unwrap();
    let server = server_config(
        certs_from_pem(&cert).unwrap(),
        key_from_pem(&key).unwrap(),
        &net.roots,
        vec![],
        ClientAuth::None,
    )
    .unwrap();
    let client = pki::anonymous_client_config(&net.roots, vec![]).unwrap();
    let (server, _) = handshake(server, client).unwrap();
    assert!(server.peer_certificates().is_none());
}

#[test]
fn revoked_client_is_refused() {
    let net = Network::new();
    let (revoked_cert, revoked_key) = net.municipal(Validity::days(1));
    let (good_cert, good_key) = net.municipal(Validity::days(1));
    let crl = net
        .ca
        .crl(
            &[Serial::of_pem(&revoked_cert).unwrap()],
            SystemTime::now() + Duration::from_secs(3600),
        )
        .unwrap();
    let server = net.server(crls_from_pem(&crl).unwrap());
    match handshake(server.clone(), net.client_from(&revoked_cert, &revoked_key)) {
        Err(Refused::Server(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Revoked,
        ))) => {}
        other => panic!("expected a revoked certificate error, got {:?}", other.err()),
    }
    handshake(server, net.client_from(&good_cert, &good_key)).unwrap();
}

#[test]
fn crl_from_a_loaded_ca_is_enforced() {
    let (_, cert_pem, key_pem) = Ca::init("reloaded CA").unwrap();
    let ca = Ca::load(&cert_pem, &key_pem).unwrap();
    let net = Network { ca, ca_key_pem: key_pem, roots: certs_from_pem(&cert_pem).unwrap() };
    let (cert, key) = net.municipal(Validity::days(1));
    let crl = net
        .ca
        .crl(&[Serial::of_pem(&cert).unwrap()], SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    assert!(matches!(
        handshake(net.server(crls_from_pem(&crl).unwrap()), net.client_from(&cert, &key)),
        Err(Refused::Server(rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)))
    ));
}

#[test]
fn expired_client_is_refused() {
    let net = Network::new();
    let now = SystemTime::now();
    let (cert, key) = net.municipal(Validity {
        not_before: now - Duration::from_secs(10 * 86_400),
        not_after: now - Duration::from_secs(86_400),
    });
    match handshake(net.server(vec![]), net.client_from(&cert, &key)) {
        Err(Refused::Server(rustls::Error::InvalidCertificate(e))) => {
            assert!(
                matches!(
                    e,
                    rustls::CertificateError::Expired
                        | rustls::CertificateError::ExpiredContext { .. }
                ),
                "{e:?}"
            );
        }
        other => panic!("expected an expired certificate error, got {:?}", other.err()),
    }
}

#[test]
fn client_from_another_ca_is_refused() {
    let net = Network::new();
    let other = Network::new();
    let (cert, key) = other.municipal(Validity::days(1));
    // The client trusts our CA (so it accepts the server) but presents the other CA's
    // certificate.
    let client = net.client_from(&cert, &key);
    match handshake(net.server(vec![]), client) {
        Err(Refused::Server(rustls::Error::InvalidCertificate(e))) => {
            assert!(
                matches!(
                    e,
                    rustls::CertificateError::UnknownIssuer
                        | rustls::CertificateError::BadSignature
                ),
                "{e:?}"
            );
        }
        other => panic!("expected an unknown issuer error, got {:?}", other.err()),
    }
}

#[test]
fn server_from_another_ca_is_refused_by_the_client() {
    let net = Network::new();
    let other = Network::new();
    let (cert, key) = net.municipal(Validity::days(1));
    match handshake(other.server(vec![]), net.client_from(&cert, &key)) {
        Err(Refused::Client(rustls::Error::InvalidCertificate(_))) => {}
        other => panic!("expected the client to refuse, got {:?}", other.err()),
    }
}

#[test]
fn csr_identity_is_decided_by_the_ca() {
    let net = Network::new();
    let national = Identity::without_code(Role::National).unwrap();
    let (csr_pem, key_pem) = pki::csr(&national, &["evil.example"]).unwrap();
    let granted = Identity::municipal("204072").unwrap();
    let cert_pem = net.ca.sign_csr(&csr_pem, &granted, &[], Validity::days(1)).unwrap();
    let leaf = &certs_from_pem(&cert_pem).unwrap()[0];
    assert_eq!(peer_identity(leaf).unwrap(), granted);
    let leaf_bytes = String::from_utf8_lossy(leaf.as_ref()).into_owned();
    assert!(!leaf_bytes.contains("evil.example") && !leaf_bytes.contains("urn:juki:national"));
    // The node's own key works with the certificate, and the server sees the granted identity.
    let (server, _) = handshake(net.server(vec![]), net.client_from(&cert_pem, &key_pem)).unwrap();
    assert_eq!(client_identity(&server).unwrap(), granted);
}

#[test]
fn tampered_csr_is_refused() {
    let net = Network::new();
    let (csr_pem, _) = pki::csr(&Identity::municipal("204072").unwrap(), &[]).unwrap();
    let mut der = rustls::pki_types::pem::PemObject::from_pem_slice(csr_pem.as_bytes())
        .map(|d: rustls::pki_types::CertificateSigningRequestDer<'static>| d.as_ref().to_vec())
        .unwrap();
    let last = der.len() - 1;
    der[last] ^= 1;
    let tampered = pem_encode("CERTIFICATE REQUEST", &der);
    let result =
        net.ca.sign_csr(&tampered, &Identity::municipal("204072").unwrap(), &[], Validity::days(1));
    assert!(matches!(result, Err(pki::CaError::Csr(_))), "{result:?}");
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> =
        b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn self_signed_with_uris(uris: &[&str]) -> CertificateDer<'static> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["node.example".to_owned()]).unwrap();
    for uri in uris {
        params.subject_alt_names.push(rcgen::SanType::URI((*uri).try_into().unwrap()));
    }
    params.self_signed(&key).unwrap().der().clone()
}

#[test]
fn peer_identity_needs_exactly_one_juki_uri() {
    assert_eq!(peer_identity(&self_signed_with_uris(&[])), Err(IdentityError::NoIdentity));
    assert_eq!(
        peer_identity(&self_signed_with_uris(&["https://example.org/x"])),
        Err(IdentityError::NoIdentity)
    );
    assert_eq!(
        peer_identity(&self_signed_with_uris(&["urn:juki:municipal:204072", "urn:juki:national"])),
        Err(IdentityError::SeveralIdentities(2))
    );
    assert_eq!(
        peer_identity(&self_signed_with_uris(&["urn:juki:municipal:204072", "URN:JUKI:national"])),
        Err(IdentityError::SeveralIdentities(2))
    );
    assert_eq!(
        peer_identity(&self_signed_with_uris(&["https://example.org/x", "urn:juki:prefecture:20"])),
        Ok(Identity::prefecture("20").unwrap())
    );
    assert!(matches!(
        peer_identity(&self_signed_with_uris(&["urn:juki:municipal:999999"])),
        Err(IdentityError::InvalidCode { .. })
    ));
    assert!(matches!(
        peer_identity(&CertificateDer::from(vec![0x30, 0x00])),
        Err(IdentityError::Certificate(_))
    ));
}

#[test]
fn rotation_changes_the_certificate_for_new_handshakes() {
    let net = Network::new();
    let national = Identity::without_code(Role::National).unwrap();
    let (old_cert, old_key) = net.ca.issue(&national, &[HOST], Validity::days(1)).unwrap();
    let (new_cert, new_key) = net.ca.issue(&national, &[HOST], Validity::days(30)).unwrap();
    let (client_cert, client_key) = net.municipal(Validity::days(1));
    let client = net.client_from(&client_cert, &client_key);

    let reloadable = ReloadableServerConfig::new(
        certs_from_pem(&old_cert).unwrap(),
        key_from_pem(&old_key).unwrap(),
        net.roots.clone(),
        vec![],
        ClientAuth::Required,
    )
    .unwrap();
    let presented = |reloadable: &ReloadableServerConfig| {
        let (_, client) = handshake(reloadable.current(), client.clone()).unwrap();
        client.peer_certificates().unwrap()[0].clone()
    };
    assert_eq!(presented(&reloadable), certs_from_pem(&old_cert).unwrap()[0]);

    // A handshake that started before the swap keeps its configuration.
    let in_flight = reloadable.current();
    reloadable
        .set_certificate(certs_from_pem(&new_cert).unwrap(), key_from_pem(&new_key).unwrap())
        .unwrap();
    assert_eq!(presented(&reloadable), certs_from_pem(&new_cert).unwrap()[0]);
    let (_, old_client) = handshake(in_flight, client.clone()).unwrap();
    assert_eq!(old_client.peer_certificates().unwrap()[0], certs_from_pem(&old_cert).unwrap()[0]);

    // A key that does not match its certificate is refused and the current one stays.
    let (_, wrong_key) = net.ca.issue(&national, &[HOST], Validity::days(1)).unwrap();
    assert!(
        reloadable
            .set_certificate(certs_from_pem(&old_cert).unwrap(), key_from_pem(&wrong_key).unwrap())
            .is_err()
    );
    assert_eq!(presented(&reloadable), certs_from_pem(&new_cert).unwrap()[0]);

    // Revoking the client at run time refuses it from the next handshake on.
    let crl = net
        .ca
        .crl(
            &[Serial::of_pem(&client_cert).unwrap()],
            SystemTime::now() + Duration::from_secs(3600),
        )
        .unwrap();
    reloadable.set_crls(crls_from_pem(&crl).unwrap()).unwrap();
    assert!(matches!(
        handshake(reloadable.current(), client),
        Err(Refused::Server(rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)))
    ));
}

/// A CRL revoking nobody whose `nextUpdate` is `offset` seconds from now (negative: already
/// past). `Ca::crl` always starts a list now (and rcgen refuses a `nextUpdate` before its
/// `thisUpdate`), so an expired list is signed here with the CA's key, as a CA that stopped
/// publishing would have left it.
fn crl_due(net: &Network, offset: i64) -> Vec<CertificateRevocationListDer<'static>> {
    let now = time::OffsetDateTime::now_utc();
    let params = rcgen::CertificateRevocationListParams {
        this_update: now + time::Duration::seconds(offset.min(0) - 3600),
        next_update: now + time::Duration::seconds(offset),
        crl_number: rcgen::SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    };
    let key = rcgen::KeyPair::from_pem(&net.ca_key_pem).unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_der(net.ca.cert_der(), key).unwrap();
    vec![params.signed_by(&issuer).unwrap().der().clone()]
}

#[test]
fn server_refuses_every_client_while_its_crl_is_expired() {
    let net = Network::new();
    let (cert, key) = net.municipal(Validity::days(1));
    match handshake(net.server(crl_due(&net, -60)), net.client_from(&cert, &key)) {
        Err(Refused::Server(rustls::Error::InvalidCertificate(e))) => assert!(
            matches!(
                e,
                rustls::CertificateError::ExpiredRevocationList
                    | rustls::CertificateError::ExpiredRevocationListContext { .. }
            ),
            "{e:?}"
        ),
        other => panic!("expected an expired CRL error, got {:?}", other.err()),
    }
    // The same client, with a CRL that is still current, is let in.
    handshake(net.server(crl_due(&net, 3600)), net.client_from(&cert, &key)).unwrap();
}

#[test]
fn client_refuses_every_server_while_its_crl_is_expired() {
    let net = Network::new();
    let (cert, key) = net.municipal(Validity::days(1));
    let client_with = |crls| {
        client_config(certs_from_pem(&cert).unwrap(), key_from_pem(&key).unwrap(), &net.roots, crls)
            .unwrap()
    };
    match handshake(net.server(vec![]), client_with(crl_due(&net, -60))) {
        Err(Refused::Client(rustls::Error::InvalidCertificate(e))) => assert!(
            matches!(
                e,
                rustls::CertificateError::ExpiredRevocationList
                    | rustls::CertificateError::ExpiredRevocationListContext { .. }
            ),
            "{e:?}"
        ),
        other => panic!("expected the client to refuse an expired CRL, got {:?}", other.err()),
    }
    handshake(net.server(vec![]), client_with(crl_due(&net, 3600))).unwrap();
    // The anonymous client uses the same verifier.
    let anonymous = pki::anonymous_client_config(&net.roots, crl_due(&net, -60)).unwrap();
    let open_server = {
        let national = Identity::without_code(Role::National).unwrap();
        let (cert, key) = net.ca.issue(&national, &[HOST], Validity::days(1)).unwrap();
        server_config(
            certs_from_pem(&cert).unwrap(),
            key_from_pem(&key).unwrap(),
            &net.roots,
            vec![],
            ClientAuth::None,
        )
        .unwrap()
    };
    assert!(matches!(
        handshake(open_server, anonymous),
        Err(Refused::Client(rustls::Error::InvalidCertificate(_)))
    ));
}

#[test]
fn reloaded_expired_crl_refuses_and_a_fresh_one_readmits() {
    let net = Network::new();
    let national = Identity::without_code(Role::National).unwrap();
    let (server_cert, server_key) = net.ca.issue(&national, &[HOST], Validity::days(1)).unwrap();
    let (cert, key) = net.municipal(Validity::days(1));
    let client = net.client_from(&cert, &key);
    let reloadable = ReloadableServerConfig::new(
        certs_from_pem(&server_cert).unwrap(),
        key_from_pem(&server_key).unwrap(),
        net.roots.clone(),
        crl_due(&net, 3600),
        ClientAuth::Required,
    )
    .unwrap();
    handshake(reloadable.current(), client.clone()).unwrap();
    reloadable.set_crls(crl_due(&net, -60)).unwrap();
    assert!(matches!(
        handshake(reloadable.current(), client.clone()),
        Err(Refused::Server(rustls::Error::InvalidCertificate(_)))
    ));
    reloadable.set_crls(crl_due(&net, 3600)).unwrap();
    handshake(reloadable.current(), client).unwrap();
}
