//! Hot reload: a background task that polls a node's TLS files and swaps a new certificate or
//! CRL into its running listeners.
//!
//! The files are compared by content (they are a few kilobytes), so a rewrite within the same
//! second, or one that keeps the length, is still noticed. Replace files by writing a temporary
//! file and renaming it over the old one, so that a poll never reads half a file; `juki pki`
//! does. A certificate and its key are applied together: while only one of the two has been
//! replaced they do not match, the attempt is reported and the old pair stays in force until
//! the other file follows. Anything unusable is reported once on standard error, with the file
//! and the reason and nothing else, and the configuration in force is kept. A changed CA
//! certificate cannot be applied to a running listener (the trust root is fixed when it is
//! built); it is reported and needs a restart.

use std::sync::{Arc, Weak};
use std::time::Duration;

use pki::ReloadableServerConfig;
use tokio::task::JoinHandle;

use crate::files::{self, LoadError, Paths, TlsFiles};

/// Polls `files` every `interval` and applies a changed certificate and key
/// ([`ReloadableServerConfig::set_certificate`]) or CRL
/// ([`ReloadableServerConfig::set_crls`]) to every configuration in `configs`; see the module
/// documentation. The first poll happens at once, so a file replaced between building the
/// configurations and starting the watch is not missed. The task ends when every configuration
/// has been dropped; abort the handle to end it earlier. Must be called within a tokio runtime.
pub fn watch(
    files: TlsFiles,
    configs: Vec<Arc<ReloadableServerConfig>>,
    interval: Duration,
) -> JoinHandle<()> {
    let configs: Vec<Weak<ReloadableServerConfig>> = configs.iter().map(Arc::downgrade).collect();
    tokio::spawn(async move {
        let mut state = ServerFiles::default();
        let mut reports = Reports::default();
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let live: Vec<Arc<ReloadableServerConfig>> =
                configs.iter().filter_map(Weak::upgrade).collect();
            if live.is_empty() {
                return;
            }
            reports.show(state.poll(&files, &live));
        }
    })
}

/// What was last applied from the files.
#[derive(Default)]
struct ServerFiles {
    identity: Option<(Vec<u8>, Vec<u8>)>,
    crl: Option<Vec<u8>>,
    ca: Option<Vec<u8>>,
}

impl ServerFiles {
    /// Applies what changed; returns what could not be applied.
    fn poll(&mut self, files: &TlsFiles, configs: &[Arc<ReloadableServerConfig>]) -> Vec<String> {
        let mut problems = Vec::new();
        match (files::read(&files.cert), files::read(&files.key)) {
            (Ok(cert), Ok(key)) => {
                let pair = (cert, key);
                if self.identity.as_ref() != Some(&pair) {
                    match apply_identity(files, &pair, configs) {
                        Ok(()) => self.identity = Some(pair),
                        Err(error) => problems.push(format!(
                            "net: keeping the current certificate; the new one is not usable: \
                             {error}"
                        )),
                    }
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                problems.push(format!("net: keeping the current certificate: {error}"));
            }
        }
        if let Some(crl_path) = &files.crl {
            match files::read(crl_path) {
                Ok(crl) if self.crl.as_ref() != Some(&crl) => {
                    let applied = files::parse_crls(crl_path, &crl).and_then(|crls| {
                        configs.iter().try_for_each(|config| {
                            config
                                .set_crls(crls.clone())
                                .map_err(|source| LoadError::Pem { path: crl_path.clone(), source })
                        })
                    });
                    match applied {
                        Ok(()) => self.crl = Some(crl),
                        Err(error) => problems.push(format!(
                            "net: keeping the current CRL; the new one is not usable: {error}"
                        )),
                    }
                }
                Ok(_) => {}
                Err(error) => problems.push(format!("net: keeping the current CRL: {error}")),
            }
        }
        match files::read(&files.ca) {
            Ok(ca) => match &self.ca {
                None => self.ca = Some(ca),
                Some(known) if *known != ca => problems.push(format!(
                    "net: {} has changed; a new CA certificate takes effect only when the node \
                     is restarted",
                    files.ca.display()
                )),
                Some(_) => {}
            },
            Err(error) => problems.push(format!("net: {error}")),
        }
        problems
    }
}

fn apply_identity(
    files: &TlsFiles,
    (cert, key): &(Vec<u8>, Vec<u8>),
    configs: &[Arc<ReloadableServerConfig>],
) -> Result<(), LoadError> {
    let chain = files::parse_certs(&files.cert, cert)?;
    let key = files::parse_key(&files.key, key)?;
    configs.iter().try_for_each(|config| {
        config
            .set_certificate(chain.clone(), key.clone_key())
            .map_err(|error| Paths::from(files).refused(error))
    })
}

/// Prints each problem once, not at every poll while it lasts.
#[derive(Default)]
pub(crate) struct Reports {
    last: Vec<String>,
}

impl Reports {
    pub(crate) fn show(&mut self, problems: Vec<String>) {
        for problem in &problems {
            if !self.last.contains(problem) {
                eprintln!("{problem}");
            }
        }
        self.last = problems;
    }
}
