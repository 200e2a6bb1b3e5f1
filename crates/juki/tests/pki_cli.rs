//! `juki pki` end to end: real processes and files, and an in-memory TLS handshake that shows
//! a revoked certificate is refused by a server enforcing the CRL the CA wrote.

use std::path::Path;
use std::sync::Arc;

use pki::{ClientAuth, certs_from_pem, client_config, crls_from_pem, key_from_pem};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, ServerConfig, ServerConnection};

mod support;
use support::{fails, juki, ok, p, run};

const HOST: &str = "national.juki.test";

/// Runs juki, requires success, returns stdout and stderr.
fn ok2(args: &[&str]) -> (String, String) {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (support::succeeded(args, output), stderr)
}

fn field<'a>(output: &'a str, name: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name:?} line in:\n{output}"))
}

/// A CA directory in a temporary directory.
fn new_ca() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    ok(&["pki", "init-ca", "--dir", p(&ca), "--name", "juki test CA"]);
    let ca = p(&ca).to_owned();
    (dir, ca)
}

/// The PEM of a key file written by `juki pki` (unsealed: one base64 line).
fn key_pem(path: &Path) -> String {
    let line = std::fs::read_to_string(path).unwrap();
    let body: Vec<String> =
        line.trim().as_bytes().chunks(64).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", body.join("\n"))
}

#[test]
fn init_ca_writes_the_ca_and_refuses_to_overwrite_it() {
    let (_dir, ca) = new_ca();
    let ca = Path::new(&ca);
    for file in ["ca.crt", "ca.key", "revoked.txt", "crl.pem"] {
        assert!(ca.join(file).exists(), "{file} written");
    }
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(ca.join("ca.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mode = std::fs::metadata(ca).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the CA directory is private");
    assert_eq!(std::fs::read_to_string(ca.join("revoked.txt")).unwrap().trim(), "");
    let crl = std::fs::read_to_string(ca.join("crl.pem")).unwrap();
    assert_eq!(crls_from_pem(&crl).unwrap().len(), 1);

    let before = std::fs::read(ca.join("ca.key")).unwrap();
    let err = fails(&["pki", "init-ca", "--dir", p(ca), "--name", "again"]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(ca.join("ca.key")).unwrap(), before, "the CA key is untouched");
}

#[test]
fn sealed_ca_key_needs_its_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let out = juki()
        .args([
            "pki",
            "init-ca",
            "--dir",
            p(&ca),
            "--name",
            "sealed CA",
            "--passphrase-env",
            "CA_PW",
        ])
        .env("CA_PW", "a long CA passphrase")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let prefix = dir.path().join("agency");
    let args = [
        "pki",
        "issue",
        "--ca",
        p(&ca),
        "--role",
        "agency",
        "--code",
        "tax-office",
        "--out",
        p(&prefix),
    ];
    let err = fails(&args);
    assert!(err.contains("passphrase"), "{err}");
    assert!(!dir.path().join("agency.crt").exists() && !dir.path().join("agency.key").exists());
    let out = juki().args(args).env("JUKI_PASSPHRASE", "a long CA passphrase").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        field(&String::from_utf8(out.stdout).unwrap(), "identity"),
        "agency:tax-office (urn:juki:agency:tax-office)"
    );
}

#[test]
fn issue_municipal_and_show_it() {
    let (dir, ca) = new_ca();
    let prefix = dir.path().join("achi");
    let issued = ok(&[
        "pki",
        "issue",
        "--ca",
        &ca,
        "--role",
        "municipal",
        "--code",
        "204072",
        "--host",
        "achi.juki.test",
        "--host",
        "127.0.0.1",
        "--out",
        p(&prefix),
    ]);
    assert_eq!(field(&issued, "identity"), "municipal:204072 (urn:juki:municipal:204072)");
    let serial = field(&issued, "serial").to_owned();
    use std::os::unix::fs::PermissionsExt as _;
    let key = dir.path().join("achi.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    let shown = ok(&["pki", "show", p(&dir.path().join("achi.crt")), "--ca", &ca]);
    assert_eq!(field(&shown, "identity"), "municipal:204072 (urn:juki:municipal:204072)");
    assert_eq!(field(&shown, "serial"), serial);
    assert_eq!(field(&shown, "hosts"), "achi.juki.test, 127.0.0.1");
    assert_eq!(field(&shown, "validity"), "valid now");
    assert_eq!(field(&shown, "revoked"), "no");

    // Issuing onto existing files is refused and leaves them alone.
    let err = fails(&["pki", "issue", "--ca", &ca, "--role", "national", "--out", p(&prefix)]);
    assert!(err.contains("already exists"), "{err}");
    let again = ok(&["pki", "show", p(&dir.path().join("achi.crt"))]);
    assert_eq!(field(&again, "serial"), serial);
}

#[test]
fn the_ca_grants_what_it_is_told_not_what_the_csr_claims() {
    let (dir, ca) = new_ca();
    let node = dir.path().join("node");
    ok(&["pki", "csr", "--role", "national", "--host", "national.juki.test", "--out", p(&node)]);
    let csr = dir.path().join("node.csr");
    let crt = dir.path().join("node.crt");
    let (out, stderr) = ok2(&[
        "pki",
        "sign",
        "--ca",
        &ca,
        "--csr",
        p(&csr),
        "--role",
        "municipal",
        "--code",
        "204072",
        "--out",
        p(&crt),
    ]);
    assert!(stderr.contains("warning:") && stderr.contains("urn:juki:national"), "{stderr}");
    assert_eq!(field(&out, "identity"), "municipal:204072 (urn:juki:municipal:204072)");
    let shown = ok(&["pki", "show", p(&crt), "--ca", &ca]);
    assert_eq!(field(&shown, "identity"), "municipal:204072 (urn:juki:municipal:204072)");
    assert_eq!(field(&shown, "hosts"), "none");
    assert!(shown.contains(": yes"), "issued by this CA: {shown}");

    // Signing what the CSR asks for prints no warning.
    let crt2 = dir.path().join("node2.crt");
    let (_, stderr) = ok2(&[
        "pki",
        "sign",
        "--ca",
        &ca,
        "--csr",
        p(&csr),
        "--role",
        "national",
        "--host",
        "national.juki.test",
        "--out",
        p(&crt2),
    ]);
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn bad_role_and_code_combinations_are_refused() {
    let (dir, ca) = new_ca();
    let out = dir.path().join("x");
    let cases: &[(&[&str], &str)] = &[
        (&["--role", "municipal"], "needs a code"),
        (&["--role", "municipal", "--code", "204071"], "check digit"),
        (&["--role", "national", "--code", "204072"], "has no code"),
        (&["--role", "prefecture", "--code", "48"], "prefecture"),
        (&["--role", "mayor"], "unknown role"),
    ];
    for (identity, expected) in cases {
        let mut args = vec!["pki", "issue", "--ca", &ca, "--out", p(&out)];
        args.extend_from_slice(identity);
        let err = fails(&args);
        assert!(err.contains(expected), "{identity:?}: {err}");
        let mut args = vec!["pki", "csr", "--out", p(&out)];
        args.extend_from_slice(identity);
        let err = fails(&args);
        assert!(err.contains(expected), "csr {identity:?}: {err}");
    }
    for leftover in ["x.crt", "x.key", "x.csr"] {
        assert!(!dir.path().join(leftover).exists(), "{leftover} not written");
    }
}

#[test]
fn revoked_certificates_are_in_the_crl_and_refused_in_a_handshake() {
    let (dir, ca) = new_ca();
    let cap = Path::new(&ca);
    let server = dir.path().join("national");
    ok(&["pki", "issue", "--ca", &ca, "--role", "national", "--host", HOST, "--out", p(&server)]);
    let client = dir.path().join("achi");
    let issued = ok(&[
        "pki",
        "issue",
        "--ca",
        &ca,
        "--role",
        "municipal",
        "--code",
        "204072",
        "--out",
        p(&client),
    ]);
    let serial = field(&issued, "serial").to_owned();
    let client_config = client_of(cap, &client);

    // With the CA's first (empty) CRL the town's node gets in.
    handshake(server_of(cap, &server), client_config.clone()).expect("accepted before revocation");

    let out = ok(&["pki", "revoke", "--ca", &ca, "--cert", p(&dir.path().join("achi.crt"))]);
    assert!(out.contains(&serial), "{out}");
    let revoked = std::fs::read_to_string(cap.join("revoked.txt")).unwrap();
    assert_eq!(revoked.lines().collect::<Vec<_>>(), [serial.as_str()]);
    let shown = ok(&["pki", "show", p(&dir.path().join("achi.crt")), "--ca", &ca]);
    assert_eq!(field(&shown, "revoked"), "REVOKED");

    let err = handshake(server_of(cap, &server), client_config).expect_err("refused after");
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)),
        "{err:?}"
    );

    // Revoking again changes nothing; `crl` re-issues a list that still revokes it.
    ok(&["pki", "revoke", "--ca", &ca, "--serial", &serial]);
    assert_eq!(std::fs::read_to_string(cap.join("revoked.txt")).unwrap(), revoked);
    ok(&["pki", "crl", "--ca", &ca, "--days", "3"]);
    let err = handshake(server_of(cap, &server), client_of(cap, &client)).expect_err("refused");
    assert!(
        matches!(err, rustls::Error::InvalidCertificate(rustls::CertificateError::Revoked)),
        "{err:?}"
    );

    // A certificate from another CA is not revoked here.
    let (other_dir, other_ca) = new_ca();
    let stranger = other_dir.path().join("stranger");
    ok(&["pki", "issue", "--ca", &other_ca, "--role", "witness", "--out", p(&stranger)]);
    let err =
        fails(&["pki", "revoke", "--ca", &ca, "--cert", p(&other_dir.path().join("stranger.crt"))]);
    assert!(err.contains("not issued by"), "{err}");
    let err = fails(&["pki", "revoke", "--ca", &ca, "--serial", "xyz"]);
    assert!(err.contains("not a serial number"), "{err}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn with(prefix: &Path, ext: &str) -> std::path::PathBuf {
    prefix.with_extension(ext)
}

fn server_of(ca: &Path, prefix: &Path) -> Arc<ServerConfig> {
    pki::server_config(
        certs_from_pem(&read(&with(prefix, "crt"))).unwrap(),
        key_from_pem(&key_pem(&with(prefix, "key"))).unwrap(),
        &certs_from_pem(&read(&ca.join("ca.crt"))).unwrap(),
        crls_from_pem(&read(&ca.join("crl.pem"))).unwrap(),
        ClientAuth::Required,
    )
    .unwrap()
}

fn client_of(ca: &Path, prefix: &Path) -> Arc<ClientConfig> {
    client_config(
        certs_from_pem(&read(&with(prefix, "crt"))).unwrap(),
        key_from_pem(&key_pem(&with(prefix, "key"))).unwrap(),
        &certs_from_pem(&read(&ca.join("ca.crt"))).unwrap(),
        vec![],
    )
    .unwrap()
}

/// An in-memory TLS 1.3 handshake; the error of whichever side refused.
fn handshake(server: Arc<ServerConfig>, client: Arc<ClientConfig>) -> Result<(), rustls::Error> {
    let mut server = ServerConnection::new(server).unwrap();
    let mut client = ClientConnection::new(client, ServerName::try_from(HOST).unwrap()).unwrap();
    for _ in 0..10 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        let mut input = &buf[..];
        while !input.is_empty() {
            server.read_tls(&mut input).unwrap();
            server.process_new_packets()?;
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        let mut input = &buf[..];
        while !input.is_empty() {
            client.read_tls(&mut input).unwrap();
            client.process_new_packets()?;
        }
        if !client.is_handshaking()
            && !server.is_handshaking()
            && !client.wants_write()
            && !server.wants_write()
        {
            return Ok(());
        }
    }
    panic!("the handshake did not finish");
}
