//! `juki alerts`, `juki quarantine` and `juki drill`: the national monitoring's commands on a
//! network described by its `network.json` (as `juki demo` writes it), through the
//! monitoring's certificate. They only parse arguments and call `client::monitor` and
//! `testbed::drill`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct AlertsArgs {
    /// The network's directory (holding network.json).
    #[arg(long, default_value = "juki-demo")]
    dir: PathBuf,
    /// The node whose alert log to read: `national` (the default) holds every alert of the
    /// network, raised there or reported by the nodes below; a town's or the prefecture's
    /// name reads that node's own.
    #[arg(long, default_value = "national")]
    node: String,
    /// Only the alerts numbered above this one.
    #[arg(long, default_value_t = 0)]
    after: u64,
    /// Keep printing new alerts as they arrive (until interrupted).
    #[arg(long)]
    follow: bool,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
pub enum QuarantineCommand {
    /// The towns the national node quarantined after a critical alert, held or released.
    List {
        /// The network's directory.
        #[arg(long, default_value = "juki-demo")]
        dir: PathBuf,
    },
    /// Release a quarantined town: a decision signed with a national administrator's key,
    /// for the alert that holds it, sent through the monitoring's certificate.
    Release {
        /// The network's directory.
        #[arg(long, default_value = "juki-demo")]
        dir: PathBuf,
        /// The town's municipality code.
        #[arg(long)]
        town: String,
        /// Why (one line, no personal data): what was found and what was restored.
        #[arg(long)]
        reason: String,
        /// The administrator's key file (default: the network's administrator key); its
        /// passphrase from the variable `--passphrase-env` names, JUKI_PASSPHRASE, or a prompt.
        #[arg(long)]
        key: Option<PathBuf>,
        /// The variable holding the key's passphrase.
        #[arg(long)]
        passphrase_env: Option<String>,
    },
}

#[derive(Args)]
pub struct DrillArgs {
    /// The network's directory (a running network, as `juki demo` leaves it).
    #[arg(long, default_value = "juki-demo")]
    dir: PathBuf,
    /// The drills to play (`all`, or names; `juki drill --list` names them).
    names: Vec<String>,
    /// List the drills and what each attacker does.
    #[arg(long)]
    list: bool,
}

fn monitor(network: &testbed::setup::Network) -> Result<client::monitor::Monitor> {
    client::monitor::Monitor::new(&net::TlsFiles {
        ca: network.ca.clone(),
        crl: Some(network.ca_dir.join("crl.pem")),
        cert: network.monitor.cert.clone(),
        key: network.monitor.key.clone(),
    })
}

fn load(dir: &std::path::Path) -> Result<testbed::setup::Network> {
    let mut network = testbed::setup::Network::load(dir)?;
    network.refresh();
    Ok(network)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

pub fn alerts(args: AlertsArgs) -> Result<ExitCode> {
    let network = load(&args.dir)?;
    let node = network.node(&args.node)?;
    let identity = match (node.role.as_str(), &node.code) {
        ("municipal", Some(code)) => format!("urn:juki:municipal:{code}"),
        ("prefecture", Some(code)) => format!("urn:juki:prefecture:{code}"),
        (role, _) => format!("urn:juki:{role}"),
    };
    let monitor = monitor(&network)?;
    let mut after = args.after;
    if !args.json {
        println!(
            "{:>5}  {:<20} {:<8} {:<24} {:<28} detail",
            "#", "time (UTC)", "severity", "kind", "raised by"
        );
    }
    runtime()?.block_on(async {
        loop {
            for alert in monitor.alerts(&node.network_url, &identity, after).await? {
                after = alert.id;
                if args.json {
                    println!("{}", serde_json::to_string(&alert)?);
                } else {
                    println!(
                        "{:>5}  {:<20} {:<8} {:<24} {:<28} {} (peer {})",
                        alert.id,
                        utc(alert.time),
                        alert.severity.map_or("", |s| s.as_str()),
                        alert.kind,
                        alert.raised_by.as_deref().unwrap_or(&identity),
                        alert.detail,
                        alert.peer
                    );
                }
            }
            if !args.follow {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// POSIX seconds as `YYYY-MM-DD hh:mm:ss`.
fn utc(seconds: u64) -> String {
    let stamp = registry_core::time::Timestamp::from_unix(seconds);
    let (date, time) = (stamp.date_text(), seconds % 86_400);
    format!("{date} {:02}:{:02}:{:02}", time / 3600, time / 60 % 60, time % 60)
}

pub fn quarantine(command: QuarantineCommand) -> Result<ExitCode> {
    match command {
        QuarantineCommand::List { dir } => {
            let network = load(&dir)?;
            let url = network.node("national")?.network_url.clone();
            let held = runtime()?.block_on(monitor(&network)?.quarantines(&url))?;
            if held.is_empty() {
                println!("no town was quarantined");
            }
            for q in held {
                match q.released {
                    None => println!(
                        "{}  HELD since {} after alert {} ({})",
                        q.town,
                        utc(q.since),
                        q.alert,
                        q.kind
                    ),
                    Some(at) => println!(
                        "{}  released {} by {} (alert {}, {})",
                        q.town,
                        utc(at),
                        q.released_by.unwrap_or_default(),
                        q.alert,
                        q.kind
                    ),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        QuarantineCommand::Release { dir, town, reason, key, passphrase_env } => {
            let network = load(&dir)?;
            let url = network.node("national")?.network_url.clone();
            let monitor = monitor(&network)?;
            let runtime = runtime()?;
            let held = runtime.block_on(monitor.quarantines(&url))?;
            let holding =
                held.iter().find(|q| q.town == town && q.released.is_none()).with_context(
                    || format!("{town} is not quarantined: there is nothing to release"),
                )?;
            let key = key.unwrap_or_else(|| network.administrator_key.clone());
            let administrator = crate::key::load_signer(&key, passphrase_env.as_deref())?;
            let release = wire::quarantine::Release {
                town: town.clone(),
                alert: holding.alert,
                time: crate::now().unix(),
                reason,
            };
            let released = runtime.block_on(monitor.release(&url, &release, &administrator))?;
            println!(
                "{} released from the quarantine of alert {} ({})",
                released.town, released.alert, released.kind
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn drill(args: DrillArgs) -> Result<ExitCode> {
    if args.list || args.names.is_empty() {
        for drill in testbed::drill::DRILLS {
            println!("{:<20} {}", drill.name, drill.attack);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let network = load(&args.dir)?;
    let (passed, played) = runtime()?.block_on(testbed::drill::run(&network, &args.names))?;
    println!();
    print!("{}", testbed::drill::table(&played));
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
