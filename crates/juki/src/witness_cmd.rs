//! `juki witness`: running a c2sp.org/tlog-witness witness.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use serde::Deserialize;
use witness::{LogConfig, Storage, Witness};

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Serve `POST <prefix>/add-checkpoint` for the logs in the configuration.
    Serve {
        /// The witness configuration (TOML): `key`, `listen` (port 0: any free port), `state`
        /// (a SQLite file) or `storage = "postgres://…"`, optional `prefix` and `report`, and a
        /// `[[log]]` table per log with its `origin` and `vkeys`.
        #[arg(long)]
        config: PathBuf,
        /// The environment variable holding the key's passphrase (default JUKI_PASSPHRASE).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
}

/// The witness configuration file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The witness's cosignature key file.
    key: PathBuf,
    /// Where to listen (port 0: any free port, reported on stdout and in `report`).
    listen: String,
    /// The state's engine: `"sqlite"` (the default), keeping it in the file `state`, or a
    /// `postgres://` URL, keeping it in that database (tables `witness_latest`,
    /// `witness_evidence`, made by the witness's versioned migrations).
    #[serde(default)]
    storage: Option<String>,
    /// The SQLite state database (with `storage = "sqlite"` or no `storage`).
    #[serde(default)]
    state: Option<PathBuf>,
    /// URL path prefix for the submission API.
    #[serde(default)]
    prefix: String,
    /// Where to write the address it got (JSON, as a node's `listeners::Report`, listener
    /// `witness`) once it serves; removed when it stops.
    #[serde(default)]
    report: Option<PathBuf>,
    /// The logs this witness cosigns.
    #[serde(default, rename = "log")]
    logs: Vec<LogConfig>,
}

/// The listener's name in the witness's report: `report:PATH#witness` names it.
pub const REPORT_LISTENER: &str = "witness";

fn relative_to(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

/// Where the configuration puts the witness's state.
fn storage(parsed: &Config, base: &Path) -> Result<Storage> {
    match (parsed.storage.as_deref(), &parsed.state) {
        (None | Some("sqlite"), Some(state)) => Ok(Storage::Sqlite(relative_to(base, state))),
        (None | Some("sqlite"), None) => {
            bail!("the witness configuration needs `state`, the SQLite state file")
        }
        (Some(url), None) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Storage::Postgres(url.to_owned()))
        }
        (Some(url), Some(_))
            if url.starts_with("postgres://") || url.starts_with("postgresql://") =>
        {
            bail!(
                "the witness configuration names both a PostgreSQL `storage` and a SQLite `state`; keep one"
            )
        }
        (Some(_), _) => bail!("`storage` must be \"sqlite\" or a postgres:// URL"),
    }
}

pub fn run(command: WitnessCommand) -> Result<ExitCode> {
    let WitnessCommand::Serve { config, passphrase_env } = command;
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("reading {}", config.display()))?;
    let parsed: Config =
        toml::from_str(&text).with_context(|| format!("{} is malformed", config.display()))?;
    let base = config.parent().unwrap_or(Path::new("."));
    let signer =
        crate::key::load_signer(&relative_to(base, &parsed.key), passphrase_env.as_deref())?;
    let storage = storage(&parsed, base)?;
    let witness = Arc::new(Witness::open_in(signer, &parsed.logs, &storage)?);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&parsed.listen)
            .await
            .with_context(|| format!("cannot listen on {}", parsed.listen))?;
        println!(
            "listening on http://{}{} as {}",
            listener.local_addr()?,
            parsed.prefix.trim_end_matches('/'),
            witness.vkey()
        );
        std::io::stdout().flush()?;
        let report = parsed.report.as_deref().map(|path| relative_to(base, path));
        if let Some(path) = &report {
            node::report::Report {
                identity: witness.vkey().to_string(),
                pid: std::process::id(),
                listeners: [(REPORT_LISTENER.to_owned(), listener.local_addr()?)].into(),
                plain_http: [REPORT_LISTENER.to_owned()].into(),
            }
            .write(path)?;
        }
        let app = witness::router(witness, &parsed.prefix);
        let served =
            axum::serve(listener, app).with_graceful_shutdown(node::shutdown_signal()).await;
        if let Some(path) = &report {
            let _ = std::fs::remove_file(path);
        }
        served?;
        Ok(ExitCode::SUCCESS)
    })
}
