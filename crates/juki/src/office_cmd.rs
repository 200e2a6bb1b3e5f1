//! `juki office`: a town office's console talking to its node's office API — submitting events
//! signed elsewhere (the admin's offline enrolments and revocations) and the approval queue,
//! where a second person approves a sensitive change from their own session. Each process
//! holds at most one operator's key; submitting an admin-signed event needs none.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use registry_core::event::Event;
use registry_domain::{MunicipalityCode, ResidentCode};
use tlog::note::Note;

use crate::registry_cmd::{describe, parse_municipality};

/// The console: which town's office API, and the console's certificate.
#[derive(clap::Args)]
pub struct ConsoleArgs {
    /// The town whose office API it is, e.g. 204072; the node must present that town's
    /// certificate (urn:juki:municipal:CODE).
    #[arg(long, value_name = "CODE")]
    town: String,
    /// The office API's URL, e.g. https://achi.example:8443.
    #[arg(long, value_name = "URL")]
    node: String,
    /// The console's certificate (urn:juki:console:CODE, from `juki pki issue --role console`).
    #[arg(long, value_name = "FILE")]
    console_cert: PathBuf,
    /// The console certificate's key.
    #[arg(long, value_name = "FILE")]
    console_key: PathBuf,
    /// The network's CA certificate.
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// The CA's revocation list, to refuse a revoked node.
    #[arg(long, value_name = "FILE")]
    crl: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum OfficeCommand {
    /// Submit signed events to the town's node: an enrolment or a revocation the admin signed
    /// offline (`juki operator enroll|revoke --out FILE`), or any other signed event. Needs no
    /// operator key; the node decides each event by the rules (an enrolment must be signed by
    /// the town's admin key), and each one it records is printed with its log index.
    ///
    /// Example: juki office submit --town 204072 --node https://achi.example:8443
    /// --console-cert console.crt --console-key console.key --ca ca.crt tanaka.enrol
    Submit {
        #[command(flatten)]
        console: ConsoleArgs,
        /// The signed event files, submitted in this order; the first refusal stops.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// List the changes waiting at the town's node for a second person's approval, with the
    /// text each proposes.
    Pending {
        #[command(flatten)]
        console: ConsoleArgs,
    },
    /// Approve a change waiting at the town's node, from your own session: checks it is the
    /// change of the resident you name, signs exactly the proposed text with your key and
    /// submits it with both signatures. The proposer cannot approve their own change, and one
    /// of the two must be a supervisor.
    Approve {
        #[command(flatten)]
        console: ConsoleArgs,
        /// Your operator key file (its passphrase from JUKI_PASSPHRASE or a prompt). The one
        /// key this process loads.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The proposal's number, as `juki office pending` lists it.
        #[arg(long, value_name = "N")]
        id: u64,
        /// The resident code of the change you approve, as on the paper in front of you; a
        /// proposal for anyone else is not approved.
        #[arg(long, value_name = "CODE")]
        resident: String,
    },
}

impl ConsoleArgs {
    fn console(&self) -> Result<client::office::Console> {
        let town = parse_municipality("--town", &self.town)?;
        let files = net::TlsFiles {
            cert: self.console_cert.clone(),
            key: self.console_key.clone(),
            ca: self.ca.clone(),
            crl: self.crl.clone(),
        };
        client::office::Console::new(town, &self.node, &files)
            .with_context(|| format!("the console of {}", describe(town)))
    }
}

/// A signed event file: its bytes, and the event it holds.
fn read_event(path: &Path) -> Result<(Vec<u8>, Event)> {
    let size =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > 1 << 20 {
        bail!("{} is {size} bytes: not a signed event", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let note = Note::parse(&bytes)
        .with_context(|| format!("{} is not a signed note (a signed event)", path.display()))?;
    let event = Event::parse(note.text())
        .with_context(|| format!("{} is a signed note, but not a juki event", path.display()))?;
    Ok((bytes, event))
}

/// The error for a node's refusal, as the command line prints it (`[code] …`).
fn refused(error: anyhow::Error, what: &str) -> anyhow::Error {
    match error.downcast_ref::<client::Refused>() {
        Some(refused) => anyhow!("{refused}. {what}"),
        None => error,
    }
}

pub fn run(command: OfficeCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match command {
        OfficeCommand::Submit { console, files } => {
            let town = parse_municipality("--town", &console.town)?;
            // Every file is read and checked before anything is sent.
            let mut events = Vec::new();
            for path in &files {
                let (bytes, event) = read_event(path)?;
                if event.municipality() != town {
                    bail!(
                        "{} is an event of {}, not of {} (--town). Nothing was submitted",
                        path.display(),
                        describe(event.municipality()),
                        describe(town)
                    );
                }
                events.push((path, bytes));
            }
            let console = console.console()?;
            for (path, bytes) in events {
                let submitted = runtime
                    .block_on(console.submit_signed(bytes))
                    .map_err(|e| refused(e, &format!("{} was not recorded", path.display())))?;
                println!("{} {} event {}", path.display(), submitted.kind, submitted.index);
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficeCommand::Pending { console } => {
            let pending = runtime.block_on(console.console()?.pending())?;
            if pending.is_empty() {
                eprintln!("no change waits for approval");
            }
            for proposal in pending {
                println!(
                    "id {} resident {} reason {} proposed-by {} at {}",
                    proposal.id,
                    proposal.resident,
                    proposal.reason,
                    proposal.proposed_by,
                    proposal.time
                );
                let text = Note::parse(proposal.note.as_bytes())
                    .map(|n| n.text().to_owned())
                    .unwrap_or_default();
                for line in text.lines() {
                    println!("    {line}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OfficeCommand::Approve { console, key, id, resident } => {
            let resident =
                ResidentCode::parse(&resident).map_err(|e| anyhow!("--resident: {e}"))?;
            let town: MunicipalityCode = parse_municipality("--town", &console.town)?;
            let console = console.console()?;
            let operator = crate::resident::load_operator_key(&key, "--key")?;
            let proposal =
                runtime.block_on(console.pending())?.into_iter().find(|p| p.id == id).ok_or_else(
                    || {
                        anyhow!(
                            "no change {id} waits for approval at {}; see `juki office pending`",
                            describe(town)
                        )
                    },
                )?;
            let note = Note::parse(proposal.note.as_bytes())
                .with_context(|| format!("proposal {id} is not a signed note"))?;
            crate::resident::not_signed_by(&note, &operator, &key)?;
            let submitted = runtime
                .block_on(console.approve(&operator, id, |change| {
                    if change.record.resident_code != resident
                        && change.previous_code != Some(resident)
                    {
                        bail!(
                            "change {id} is a change of another resident than {resident} \
                             (--resident); it was not approved"
                        );
                    }
                    Ok(())
                }))
                .map_err(|e| refused(e, "Nothing was recorded"))?;
            println!("approved {id}");
            println!("resident {}", proposal.resident);
            println!("reason {}", proposal.reason);
            println!("proposed-by {}", proposal.proposed_by);
            println!("approved-by {}", operator.name());
            println!("event {}", submitted.index);
            Ok(ExitCode::SUCCESS)
        }
    }
}
