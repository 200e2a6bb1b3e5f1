//! `juki pki`: the network's certificate authority on the command line — creating the CA,
//! issuing certificates, signing nodes' certificate signing requests, revoking certificates and
//! publishing the revocation list, and showing what a certificate says.
//!
//! A CA directory holds `ca.crt` (PEM), `ca.key` (mode 0600, sealed when a passphrase is given),
//! `revoked.txt` (the revocation state: one hex serial per line) and `crl.pem` (the CRL nodes
//! fetch and enforce, regenerated from `revoked.txt`).
//!
//! Private keys are written with [`keyfile::write`] (0600, never overwritten, optionally
//! sealed) as PKCS#8 PEM, so an unsealed one is readable by other TLS tools; [`read_key_pem`]
//! opens one, asking for the passphrase when it is sealed.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{Args, Subcommand};
use pki::{Ca, Identity, IdentityError, Role, Serial, Validity};
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer as _;
use zeroize::Zeroizing;

use crate::passphrase;

/// The CA certificate in a CA directory.
pub const CA_CERT: &str = "ca.crt";
/// The CA key in a CA directory.
pub const CA_KEY: &str = "ca.key";
/// The revocation state: one hex serial per line.
pub const REVOKED: &str = "revoked.txt";
/// The current revocation list.
pub const CRL: &str = "crl.pem";

/// The identity a certificate is to name, as given on the command line.
#[derive(Args)]
pub struct IdentityArgs {
    /// The role: municipal, prefecture, national, witness, agency, console, signer or monitor.
    #[arg(long)]
    role: String,
    /// The role's code: a municipality code (municipal, and console for the town's office,
    /// e.g. 204072), a prefecture number (prefecture, e.g. 20) or an agency id (agency). The
    /// national and witness roles have none.
    #[arg(long)]
    code: Option<String>,
    /// A DNS name or IP address the certificate is valid for (repeatable; none for a client).
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
}

impl IdentityArgs {
    fn identity(&self) -> Result<Identity> {
        let role: Role = self.role.parse().map_err(|e: IdentityError| anyhow!("--role: {e}"))?;
        Identity::new(role, self.code.as_deref()).map_err(|e| {
            let hint = match e {
                IdentityError::MissingCode(_) => "give it with --code",
                IdentityError::UnexpectedCode { .. } => "leave out --code for this role",
                _ => "check the code",
            };
            anyhow!("{e}; {hint}")
        })
    }

    fn hosts(&self) -> Vec<&str> {
        self.hosts.iter().map(String::as_str).collect()
    }
}

#[derive(Subcommand)]
pub enum PkiCommand {
    /// Create the network's certificate authority in a new directory.
    ///
    /// Writes ca.crt, ca.key (mode 0600), an empty revoked.txt and crl.pem. The CA key is the
    /// most precious key in the network: seal it with --passphrase-env and keep the directory
    /// offline.
    InitCa {
        /// The CA directory to create; it must not exist (or be empty).
        #[arg(long)]
        dir: PathBuf,
        /// The CA's name (its certificate's common name), e.g. "Juki Net CA".
        #[arg(long)]
        name: String,
        /// Seal ca.key with the passphrase in this environment variable (recommended). It must
        /// have at least 12 characters and not be a common or breached password, repeated or
        /// sequential characters, nor contain the CA's name or a word of it.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Issue a certificate and a fresh key: writes PREFIX.crt and PREFIX.key (mode 0600).
    ///
    /// Example: juki pki issue --ca ca --role municipal --code 204072 --host achi.juki.local
    /// --out achi
    Issue {
        /// The CA directory.
        #[arg(long, value_name = "CA_DIR")]
        ca: PathBuf,
        #[command(flatten)]
        identity: IdentityArgs,
        /// Write PREFIX.crt and PREFIX.key; neither may exist.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: u64,
        /// The variable holding ca.key's passphrase (else JUKI_PASSPHRASE, else a prompt).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// On a node: make its own key and a certificate signing request (PREFIX.key, mode 0600,
    /// and PREFIX.csr). The key never leaves the node; send PREFIX.csr to the CA.
    Csr {
        #[command(flatten)]
        identity: IdentityArgs,
        /// Write PREFIX.csr and PREFIX.key; neither may exist.
        #[arg(long, value_name = "PREFIX")]
        out: PathBuf,
        /// Seal PREFIX.key with the passphrase in this environment variable. It must have at
        /// least 12 characters and not be a common or breached password, repeated or
        /// sequential characters, nor contain the identity, a host or a word of them.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// At the CA: sign a node's CSR. The certificate names the identity and hosts given here,
    /// whatever the CSR asks for; a warning says when they differ.
    Sign {
        /// The CA directory.
        #[arg(long, value_name = "CA_DIR")]
        ca: PathBuf,
        /// The node's certificate signing request (PEM).
        #[arg(long, value_name = "FILE")]
        csr: PathBuf,
        #[command(flatten)]
        identity: IdentityArgs,
        /// Where to write the certificate; it must not exist.
        #[arg(long, value_name = "FILE.crt")]
        out: PathBuf,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: u64,
        /// The variable holding ca.key's passphrase (else JUKI_PASSPHRASE, else a prompt).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Revoke a certificate (by file or serial): adds it to revoked.txt and regenerates
    /// crl.pem. Distribute the new crl.pem to every node.
    Revoke {
        /// The CA directory.
        #[arg(long, value_name = "CA_DIR")]
        ca: PathBuf,
        /// The certificate to revoke (it must have been issued by this CA).
        #[arg(long, value_name = "FILE.crt", group = "what")]
        cert: Option<PathBuf>,
        /// The serial number to revoke, in hex.
        #[arg(long, value_name = "HEX", group = "what")]
        serial: Option<String>,
        /// Days until the new CRL's next update.
        #[arg(long, default_value_t = DEFAULT_CRL_DAYS)]
        days: u64,
        /// The variable holding ca.key's passphrase (else JUKI_PASSPHRASE, else a prompt).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Re-issue crl.pem from revoked.txt (before the current one's next update passes).
    Crl {
        /// The CA directory.
        #[arg(long, value_name = "CA_DIR")]
        ca: PathBuf,
        /// Days until the CRL's next update.
        #[arg(long, default_value_t = DEFAULT_CRL_DAYS)]
        days: u64,
        /// The variable holding ca.key's passphrase (else JUKI_PASSPHRASE, else a prompt).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Show a certificate: identity, serial, validity, hosts; with --ca, whether this CA issued
    /// it and whether it is revoked.
    Show {
        /// The certificate (PEM).
        cert: PathBuf,
        /// The CA directory to check the certificate against.
        #[arg(long, value_name = "CA_DIR")]
        ca: Option<PathBuf>,
    },
}

/// How long a CRL is valid unless `--days` says otherwise.
const DEFAULT_CRL_DAYS: u64 = 7;

pub fn run(command: PkiCommand) -> Result<ExitCode> {
    match command {
        PkiCommand::InitCa { dir, name, passphrase_env } => init_ca(&dir, &name, passphrase_env),
        PkiCommand::Issue { ca, identity, out, days, passphrase_env } => {
            let id = identity.identity()?;
            let crt = with_suffix(&out, "crt");
            let key = with_suffix(&out, "key");
            refuse_existing(&[&crt, &key])?;
            let ca = CaDir::open(&ca, passphrase_env.as_deref())?;
            let (cert_pem, key_pem) = ca
                .ca
                .issue(&id, &identity.hosts(), validity(days)?)
                .context("issuing the certificate")?;
            write_key_and(&key, &key_pem, None, &[], &crt, &cert_pem)?;
            println!("serial: {}", Serial::of_pem(&cert_pem)?);
            println!("identity: {id} ({})", id.to_uri());
            println!("wrote {} and {}", crt.display(), key.display());
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Csr { identity, out, passphrase_env } => {
            let id = identity.identity()?;
            let csr_path = with_suffix(&out, "csr");
            let key = with_suffix(&out, "key");
            refuse_existing(&[&csr_path, &key])?;
            let hosts = identity.hosts();
            let uri = id.to_uri();
            let mut context = vec![uri.as_str()];
            context.extend(hosts.iter().copied());
            let passphrase = passphrase_env
                .as_deref()
                .map(|var| passphrase::for_sealing(var, &context, &[&key]))
                .transpose()?;
            let (csr_pem, key_pem) =
                pki::csr(&id, &hosts).context("making the certificate request")?;
            write_key_and(
                &key,
                &key_pem,
                passphrase.as_deref().map(|p| p.as_str()),
                &context,
                &csr_path,
                &csr_pem,
            )?;
            println!("identity requested: {id} ({})", id.to_uri());
            println!(
                "wrote {} (send it to the CA) and {} (keep it on this node)",
                csr_path.display(),
                key.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Sign { ca, csr, identity, out, days, passphrase_env } => {
            let id = identity.identity()?;
            refuse_existing(&[&out])?;
            let csr_pem = fs::read_to_string(&csr)
                .with_context(|| format!("cannot read the CSR {}", csr.display()))?;
            let ca = CaDir::open(&ca, passphrase_env.as_deref())?;
            let hosts = identity.hosts();
            let cert_pem = ca
                .ca
                .sign_csr(&csr_pem, &id, &hosts, validity(days)?)
                .with_context(|| format!("cannot sign {}", csr.display()))?;
            // The CSR's self-signature verified, so it parses; what it asks for is only shown.
            if let Some((claimed, claimed_hosts)) = csr_claims(&csr_pem) {
                let granted = id.to_uri();
                let mut granted_hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
                granted_hosts.sort();
                if claimed != [granted.clone()] || claimed_hosts != granted_hosts {
                    eprintln!(
                        "warning: the CSR asks for identity [{}] and hosts [{}]; the certificate \
                         grants {granted} and hosts [{}], as given on the command line",
                        claimed.join(", "),
                        claimed_hosts.join(", "),
                        granted_hosts.join(", ")
                    );
                }
            }
            write_new(&out, cert_pem.as_bytes())?;
            println!("serial: {}", Serial::of_pem(&cert_pem)?);
            println!("identity: {id} ({})", id.to_uri());
            println!("wrote {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Revoke { ca, cert, serial, days, passphrase_env } => {
            let dir = ca;
            let ca = CaDir::open(&dir, passphrase_env.as_deref())?;
            let serial = match (cert, serial) {
                (Some(path), _) => {
                    let pem = fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    if !ca.issued(&pem)? {
                        bail!(
                            "{} was not issued by the CA in {}; revoking it here would have no \
                             effect",
                            path.display(),
                            dir.display()
                        );
                    }
                    Serial::of_pem(&pem)
                        .with_context(|| format!("cannot read the serial of {}", path.display()))?
                }
                (None, Some(hex)) => hex.parse::<Serial>()?,
                (None, None) => bail!("say what to revoke with --cert FILE or --serial HEX"),
            };
            let mut revoked = ca.revoked()?;
            if revoked.contains(&serial) {
                println!("{serial} is already revoked; crl.pem unchanged");
                return Ok(ExitCode::SUCCESS);
            }
            revoked.push(serial.clone());
            // Sign the new CRL before changing anything, so a failure leaves both files as
            // they were.
            let crl = ca.crl(&revoked, days)?;
            let mut text = revoked.iter().map(|s| format!("{s}\n")).collect::<String>();
            if text.is_empty() {
                text.push('\n');
            }
            replace(&dir.join(REVOKED), text.as_bytes())?;
            replace(&dir.join(CRL), crl.as_bytes())?;
            println!("revoked {serial}");
            println!(
                "wrote {} ({} revoked); distribute it to every node",
                dir.join(CRL).display(),
                revoked.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Crl { ca, days, passphrase_env } => {
            let dir = ca;
            let ca = CaDir::open(&dir, passphrase_env.as_deref())?;
            let revoked = ca.revoked()?;
            let crl = ca.crl(&revoked, days)?;
            replace(&dir.join(CRL), crl.as_bytes())?;
            println!(
                "wrote {} ({} revoked, next update in {days} days)",
                dir.join(CRL).display(),
                revoked.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        PkiCommand::Show { cert, ca } => show(&cert, ca.as_deref()),
    }
}

fn validity(days: u64) -> Result<Validity> {
    if days == 0 || days > 20 * 366 {
        bail!("--days {days} is out of range: give 1 to {}", 20 * 366);
    }
    Ok(Validity::days(days))
}

fn init_ca(dir: &Path, name: &str, passphrase_env: Option<String>) -> Result<ExitCode> {
    if name.trim().is_empty() {
        bail!("--name is empty: give the CA a name, e.g. \"Juki Net CA\"");
    }
    if dir.exists() {
        let empty = fs::read_dir(dir)
            .with_context(|| format!("{} exists and cannot be read", dir.display()))?
            .next()
            .is_none();
        if !empty {
            bail!(
                "{} already exists and is not empty (a CA is never overwritten); choose a new \
                 directory",
                dir.display()
            );
        }
    }
    let passphrase = passphrase_env
        .as_deref()
        .map(|var| passphrase::for_sealing(var, &[name], &[&dir.join(CA_KEY)]))
        .transpose()?;
    let (ca, cert_pem, key_pem) = Ca::init(name).context("creating the CA")?;
    let crl = ca
        .crl(&[], SystemTime::now() + Duration::from_secs(DEFAULT_CRL_DAYS * 86_400))
        .context("signing the first CRL")?;

    // Everything is written into a staging directory beside DIR, which is then renamed into
    // place, so a failure leaves no half-made CA behind.
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = dir
        .file_name()
        .ok_or_else(|| anyhow!("{} is not a usable directory name", dir.display()))?;
    let staging =
        parent.join(format!(".{}.partial-{}", file_name.to_string_lossy(), std::process::id()));
    let result = (|| -> Result<()> {
        std::os::unix::fs::DirBuilderExt::mode(&mut fs::DirBuilder::new(), 0o700)
            .create(&staging)
            .with_context(|| format!("cannot create {}", staging.display()))?;
        keyfile::write_for(
            &staging.join(CA_KEY),
            &key_pem,
            passphrase.as_deref().map(|p| p.as_str()),
            &[name],
        )?;
        write_new(&staging.join(CA_CERT), cert_pem.as_bytes())?;
        write_new(&staging.join(REVOKED), b"")?;
        write_new(&staging.join(CRL), crl.as_bytes())?;
        fs::rename(&staging, dir).with_context(|| {
            format!("cannot move the new CA into {} (did it appear meanwhile?)", dir.display())
        })?;
        sync_dir(&parent);
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    println!("CA {name:?} created in {}", dir.display());
    println!("serial: {}", Serial::of_pem(&cert_pem)?);
    if passphrase.is_none() {
        eprintln!(
            "warning: {} is not sealed with a passphrase; it is the most precious key in the \
             network (use --passphrase-env)",
            dir.join(CA_KEY).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A loaded CA directory.
struct CaDir {
    dir: PathBuf,
    ca: Ca,
}

impl CaDir {
    fn open(dir: &Path, passphrase_env: Option<&str>) -> Result<CaDir> {
        let cert_pem = read_ca_cert(dir)?;
        let key_path = dir.join(CA_KEY);
        if !key_path.exists() {
            bail!("{} is missing; the CA key is needed for this", key_path.display());
        }
        let key_pem = read_key_pem(&key_path, passphrase_env)?;
        let ca = Ca::load(&cert_pem, &key_pem)
            .with_context(|| format!("cannot load the CA in {}", dir.display()))?;
        Ok(CaDir { dir: dir.to_path_buf(), ca })
    }

    /// Whether this CA signed `cert_pem`.
    fn issued(&self, cert_pem: &str) -> Result<bool> {
        issued_by(self.ca.cert_pem(), cert_pem)
    }

    fn revoked(&self) -> Result<Vec<Serial>> {
        read_revoked(&self.dir)
    }

    fn crl(&self, revoked: &[Serial], days: u64) -> Result<String> {
        if days == 0 || days > 366 {
            bail!("--days {days} is out of range for a CRL: give 1 to 366");
        }
        self.ca
            .crl(revoked, SystemTime::now() + Duration::from_secs(days * 86_400))
            .context("signing the CRL")
    }
}

fn read_ca_cert(dir: &Path) -> Result<String> {
    let path = dir.join(CA_CERT);
    if !path.exists() {
        bail!(
            "{} has no {CA_CERT}: is it a CA directory made by `juki pki init-ca`?",
            dir.display()
        );
    }
    fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_revoked(dir: &Path) -> Result<Vec<Serial>> {
    let path = dir.join(REVOKED);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} is missing: it is the CA's revocation state; restore it from a backup (an empty \
             file if nothing was ever revoked)",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut serials = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let serial = line
            .parse::<Serial>()
            .with_context(|| format!("{} line {}: fix or remove it", path.display(), number + 1))?;
        if !serials.contains(&serial) {
            serials.push(serial);
        }
    }
    Ok(serials)
}

/// Whether `cert_pem`'s signature verifies with the CA certificate's key and its issuer is the
/// CA's subject.
fn issued_by(ca_pem: &str, cert_pem: &str) -> Result<bool> {
    let ca_der = pem_der(ca_pem, "CERTIFICATE").context("the CA certificate")?;
    let der = pem_der(cert_pem, "CERTIFICATE")?;
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der)
        .map_err(|e| anyhow!("the CA certificate does not parse: {e}"))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| anyhow!("the certificate does not parse: {e}"))?;
    Ok(cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok())
}

/// The DER of the first PEM block labelled `label`.
fn pem_der(pem: &str, label: &str) -> Result<Vec<u8>> {
    match x509_parser::pem::Pem::iter_from_buffer(pem.as_bytes()).next() {
        Some(Ok(block)) if block.label == label => Ok(block.contents),
        Some(Ok(block)) => bail!("expected a PEM {label}, found a {}", block.label),
        Some(Err(e)) => bail!("not valid PEM: {e}"),
        None => bail!("no PEM {label} found"),
    }
}

/// The identity URIs and hosts a CSR asks for (sorted), or `None` if it does not parse.
fn csr_claims(csr_pem: &str) -> Option<(Vec<String>, Vec<String>)> {
    let der = pem_der(csr_pem, "CERTIFICATE REQUEST").ok()?;
    let (_, csr) =
        x509_parser::certification_request::X509CertificationRequest::from_der(&der).ok()?;
    let (mut uris, mut hosts) = (Vec::new(), Vec::new());
    for ext in csr.requested_extensions().into_iter().flatten() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext {
            for name in &san.general_names {
                match name {
                    GeneralName::URI(uri) => uris.push(uri.to_string()),
                    GeneralName::DNSName(dns) => hosts.push(dns.to_string()),
                    GeneralName::IPAddress(ip) => hosts.push(ip_string(ip)),
                    _ => {}
                }
            }
        }
    }
    uris.sort();
    hosts.sort();
    Some((uris, hosts))
}

fn ip_string(bytes: &[u8]) -> String {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        std::net::IpAddr::from(v4).to_string()
    } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
        std::net::IpAddr::from(v6).to_string()
    } else {
        format!("{bytes:02x?}")
    }
}

fn show(path: &Path, ca_dir: Option<&Path>) -> Result<ExitCode> {
    let pem =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let der = pem_der(&pem, "CERTIFICATE").with_context(|| format!("{}", path.display()))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| anyhow!("{} does not parse as a certificate: {e}", path.display()))?;
    let leaf = pki::certs_from_pem(&pem)?.remove(0);
    match pki::peer_identity(&leaf) {
        Ok(id) => println!("identity: {id} ({})", id.to_uri()),
        Err(e) => println!("identity: none ({e})"),
    }
    let serial = Serial::of_pem(&pem)?;
    println!("serial: {serial}");
    println!("issuer: {}", cert.issuer());
    let validity = cert.validity();
    println!("not before: {}", validity.not_before);
    println!("not after: {}", validity.not_after);
    let now = x509_parser::time::ASN1Time::now();
    let status = if now < validity.not_before {
        "not yet valid"
    } else if now > validity.not_after {
        "EXPIRED"
    } else {
        "valid now"
    };
    println!("validity: {status}");
    let mut hosts = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => hosts.push(dns.to_string()),
                GeneralName::IPAddress(ip) => hosts.push(ip_string(ip)),
                _ => {}
            }
        }
    }
    println!("hosts: {}", if hosts.is_empty() { "none".into() } else { hosts.join(", ") });
    if let Some(dir) = ca_dir {
        let ca_pem = read_ca_cert(dir)?;
        let issued = issued_by(&ca_pem, &pem)?;
        println!("issued by {}: {}", dir.display(), if issued { "yes" } else { "NO" });
        let revoked = read_revoked(dir)?.contains(&serial);
        println!("revoked: {}", if revoked { "REVOKED" } else { "no" });
    }
    Ok(ExitCode::SUCCESS)
}

/// `PREFIX.ext`, keeping any dots already in PREFIX.
fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn refuse_existing(paths: &[&Path]) -> Result<()> {
    for path in paths {
        if path.exists() {
            bail!("{} already exists; choose another --out or remove it first", path.display());
        }
    }
    Ok(())
}

/// Writes a new key file (a passphrase must not contain `context`, see `keyfile::write_for`),
/// then a new file beside it; if the second fails, the key is removed.
fn write_key_and(
    key: &Path,
    key_pem: &str,
    passphrase: Option<&str>,
    context: &[&str],
    other: &Path,
    contents: &str,
) -> Result<()> {
    keyfile::write_for(key, key_pem, passphrase, context)?;
    if let Err(e) = write_new(other, contents.as_bytes()) {
        let _ = fs::remove_file(key);
        return Err(e);
    }
    Ok(())
}

/// Reads a private key written by `juki pki` (opening it with the passphrase if sealed) and
/// returns it as PEM (`-----BEGIN PRIVATE KEY-----`), as rustls and rcgen take it.
pub fn read_key_pem(path: &Path, passphrase_env: Option<&str>) -> Result<Zeroizing<String>> {
    let pem = passphrase::read_key(path, passphrase_env)?;
    if !pem.starts_with("-----BEGIN ") {
        bail!("{} does not hold a PEM private key written by `juki pki`", path.display());
    }
    Ok(pem)
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".tmp-{}", std::process::id()));
    PathBuf::from(s)
}

fn write_tmp(path: &Path, contents: &[u8]) -> Result<PathBuf> {
    let tmp = tmp_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
    }
    Ok(tmp)
}

/// Writes a file that must not exist, all or nothing (temporary file, then a hard link, which
/// refuses to replace an existing file).
fn write_new(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = write_tmp(path, contents)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    linked.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow!("{} already exists; choose another path or remove it first", path.display())
        }
        _ => anyhow!("cannot write {}: {e}", path.display()),
    })?;
    if let Some(parent) = path.parent() {
        sync_dir(parent);
    }
    Ok(())
}

/// Replaces a file atomically (temporary file, then rename).
fn replace(path: &Path, contents: &[u8]) -> Result<()> {
    let tmp = write_tmp(path, contents)?;
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot replace {}", path.display()));
    }
    if let Some(parent) = path.parent() {
        sync_dir(parent);
    }
    Ok(())
}

fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
