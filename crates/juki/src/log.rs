//! `juki log`: create a log, append to it, checkpoint it (with witnesses), serve it, prove
//! inclusion and consistency, and verify a log or a receipt from outside.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use tlog::checkpoint::Policy;
use tlog::leaf_hash;
use tlog::merkle::prove_consistency;
use tlog::note::VerifierKey;
use tlog::receipt::Receipt;
use tlog::tile::MAX_ENTRY_SIZE;
use tlog_http::client::HttpSource;
use tlog_http::witness_client::WitnessSet;
use tlog_store::entries::EntryReader as _;
use tlog_store::group_commit::MAX_BATCH;
use tlog_store::integrate::{Integration, integrate};
use tlog_store::source::{TileHashReader, TileSource};
use tlog_store::tiledir::TileDir;
use tlog_store::verify::{check_consistency, verify_tree};

use crate::logdir::{LogConfig, LogDir, WitnessConfig, check_log_key};

#[derive(Subcommand)]
pub enum LogCommand {
    /// Create a log in an empty directory and publish its empty checkpoint.
    New {
        /// The log directory to create.
        #[arg(long)]
        dir: PathBuf,
        /// The log's origin, e.g. `registry.example.jp/204072`; its key must have this name.
        #[arg(long)]
        origin: String,
        /// The private key file that signs checkpoints (from `juki key generate`).
        #[arg(long)]
        key: PathBuf,
        /// A witness to ask for cosignatures, as `URL=VKEY`. Repeat for more.
        #[arg(long = "witness", value_name = "URL=VKEY")]
        witnesses: Vec<String>,
        /// How many witnesses must cosign before a checkpoint is published.
        #[arg(long, default_value_t = 0)]
        quorum: usize,
        /// The environment variable holding the key's passphrase (default JUKI_PASSPHRASE).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Append each FILE as one entry, or each line of stdin when no FILE is given. Prints each
    /// entry's index once it is durable.
    Append {
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
        /// Files to append, one entry each.
        files: Vec<PathBuf>,
        /// Do not print the indexes.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Integrate appended entries into the tiles, sign a checkpoint, collect the witnesses'
    /// cosignatures, publish it and print it.
    Checkpoint {
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
        /// The environment variable holding the key's passphrase (default JUKI_PASSPHRASE).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Rebuild every tile of the checkpointed tree from the entries, replacing lost or damaged
    /// tiles. Refuses if the entries no longer reproduce the checkpoint.
    Rebuild {
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Serve the log's checkpoint and tiles over HTTP (c2sp.org/tlog-tiles).
    Serve {
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
        /// The address to listen on, e.g. `127.0.0.1:8080` (port 0 picks a free one).
        #[arg(long)]
        listen: String,
        /// A URL path prefix to serve under, e.g. `/logs/204072`.
        #[arg(long, default_value = "")]
        prefix: String,
        /// Serve over TLS with this certificate chain (PEM).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The TLS private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Print proofs from the log's tiles.
    #[command(subcommand)]
    Prove(ProveCommand),
    /// Verify a whole log from its URL or directory: the checkpoint's signature and witness
    /// policy, every tile, every entry, and consistency with an earlier checkpoint.
    Verify {
        /// The log's tlog-tiles URL prefix, or a log directory.
        source: String,
        #[command(flatten)]
        trust: TrustArgs,
        /// An earlier checkpoint of this log that the current one must be consistent with.
        #[arg(long, value_name = "CHECKPOINT-FILE")]
        since: Option<PathBuf>,
        /// A CA certificate (PEM) to trust for an https:// source.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Verify a c2sp.org/tlog-proof receipt offline.
    VerifyReceipt {
        /// The receipt file.
        file: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// The entry the receipt is for (default: the entry carried in the receipt).
        #[arg(long)]
        entry: Option<PathBuf>,
        /// The log's entry is the juki commitment of the document (a juki registry event, a
        /// provision record): its kind and SHA-256, never the document itself.
        #[arg(long)]
        commitment: bool,
    },
}

/// Whom a verifier trusts: the log's key and origin, and a witness quorum.
#[derive(clap::Args)]
pub struct TrustArgs {
    /// The log's verifier key.
    #[arg(long)]
    vkey: String,
    /// The origin the checkpoint must carry (default: the key's name).
    #[arg(long)]
    origin: Option<String>,
    /// A witness's cosignature verifier key. Repeat for more.
    #[arg(long = "witness", value_name = "VKEY")]
    witnesses: Vec<String>,
    /// How many of the witnesses must have cosigned.
    #[arg(long, default_value_t = 0)]
    quorum: usize,
}

impl TrustArgs {
    /// The checkpoint policy and the origin to require.
    fn policy(&self) -> Result<(Policy, String)> {
        let log_key =
            VerifierKey::parse(&self.vkey).with_context(|| format!("--vkey {:?}", self.vkey))?;
        let witnesses = self
            .witnesses
            .iter()
            .map(|w| VerifierKey::parse(w).with_context(|| format!("--witness {w:?}")))
            .collect::<Result<Vec<_>>>()?;
        let origin = self.origin.clone().unwrap_or_else(|| log_key.name().to_owned());
        let policy = Policy { log_keys: vec![log_key], witnesses, quorum: self.quorum };
        policy.validate()?;
        Ok((policy, origin))
    }
}

#[derive(Subcommand)]
pub enum ProveCommand {
    /// Print a tlog-proof receipt for one entry, against the current checkpoint.
    Inclusion {
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
        /// The entry's index.
        #[arg(long)]
        index: u64,
        /// Leave the entry itself out of the receipt.
        #[arg(long)]
        no_entry: bool,
    },
    /// Print the consistency proof between two tree sizes, one base64 hash a line.
    Consistency {
        /// The log directory.
        #[arg(long)]
        dir: PathBuf,
        /// The earlier tree size.
        #[arg(long)]
        old: u64,
        /// The later tree size (default: the current checkpoint's).
        #[arg(long)]
        new: Option<u64>,
    },
}

pub fn run(command: LogCommand) -> Result<ExitCode> {
    match command {
        LogCommand::New { dir, origin, key, witnesses, quorum, passphrase_env } => {
            new(&dir, &origin, &key, &witnesses, quorum, passphrase_env.as_deref())
        }
        LogCommand::Append { dir, files, quiet } => append(&dir, &files, quiet),
        LogCommand::Checkpoint { dir, passphrase_env } => {
            let log = LogDir::open(&dir)?;
            let integration = checkpoint(&log, passphrase_env.as_deref())?;
            std::io::stdout().write_all(&integration.checkpoint)?;
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Rebuild { dir } => {
            let log = LogDir::open(&dir)?;
            let verifier = tlog_store::integrate::VerifyOnly::new(log.vkey()?, &log.config.origin);
            let size = tlog_store::integrate::rebuild(&log.entries()?, &log.tiles(), &verifier)?;
            println!("rebuilt the tiles of {} at size {size}", log.config.origin);
            Ok(ExitCode::SUCCESS)
        }
        LogCommand::Serve { dir, listen, prefix, tls_cert, tls_key } => {
            serve(&dir, &listen, &prefix, tls_cert.as_deref().zip(tls_key.as_deref()))
        }
        LogCommand::Prove(ProveCommand::Inclusion { dir, index, no_entry }) => {
            prove_inclusion(&dir, index, !no_entry)
        }
        LogCommand::Prove(ProveCommand::Consistency { dir, old, new }) => {
            prove_consistency_cmd(&dir, old, new)
        }
        LogCommand::Verify { source, trust, since, ca } => {
            let (policy, origin) = trust.policy()?;
            verify(&source, &policy, &origin, since.as_deref(), ca.as_deref())
        }
        LogCommand::VerifyReceipt { file, trust, entry, commitment } => {
            let (policy, origin) = trust.policy()?;
            verify_receipt(&file, &policy, &origin, entry.as_deref(), commitment)
        }
    }
}

fn new(
    dir: &Path,
    origin: &str,
    key: &Path,
    witnesses: &[String],
    quorum: usize,
    passphrase_env: Option<&str>,
) -> Result<ExitCode> {
    if !tlog::note::is_valid_key_name(origin) {
        bail!("{origin:?} cannot be an origin: use a schema-less URL without spaces or '+'");
    }
    let signer = crate::key::load_signer(key, passphrase_env)?;
    check_log_key(&signer.verifier(), origin)?;
    let mut witness = Vec::new();
    for spec in witnesses {
        let (url, vkey) = spec
            .split_once('=')
            .with_context(|| format!("--witness {spec:?}: expected URL=VKEY"))?;
        let parsed = VerifierKey::parse(vkey).with_context(|| format!("--witness {spec:?}"))?;
        if parsed.kind() != tlog::note::KeyKind::Cosignature {
            bail!("--witness {spec:?}: {vkey} is not a witness cosignature key");
        }
        witness.push(WitnessConfig { url: url.to_owned(), vkey: vkey.to_owned() });
    }
    if quorum > witness.len() {
        bail!("--quorum {quorum} is more than the {} witnesses given", witness.len());
    }
    let key = std::path::absolute(key)?;
    let config = LogConfig {
        origin: origin.to_owned(),
        key,
        vkey: signer.verifier().to_string(),
        witness_quorum: quorum,
        witness,
    };
    let log = LogDir::create(dir, config)?;
    log.entries()?;
    let integration = checkpoint(&log, passphrase_env)?;
    eprintln!("created log {origin} in {}", dir.display());
    std::io::stdout().write_all(&integration.checkpoint)?;
    Ok(ExitCode::SUCCESS)
}

/// One line read from stdin, or the reason reading stopped.
enum Line {
    Entry(Vec<u8>),
    TooLarge { line: u64, size: usize },
    Failed(std::io::Error),
}

fn append(dir: &Path, files: &[PathBuf], quiet: bool) -> Result<ExitCode> {
    let log = LogDir::open(dir)?;
    let mut entries = log.entries()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !files.is_empty() {
        let mut contents = Vec::with_capacity(files.len());
        for file in files {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            if bytes.len() > MAX_ENTRY_SIZE {
                bail!(
                    "{} is {} bytes; an entry holds at most {MAX_ENTRY_SIZE}. Nothing was appended",
                    file.display(),
                    bytes.len()
                );
            }
            contents.push(bytes);
        }
        let refs: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
        let first = entries.append(&refs)?;
        if !quiet {
            for index in first..first + refs.len() as u64 {
                writeln!(out, "{index}")?;
            }
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }

    // Lines arrive on a channel while the previous batch commits: group commit by
    // construction, with batches as large as the input outruns the disk.
    let (send, lines) = mpsc::sync_channel::<Line>(MAX_BATCH * 2);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut number = 0u64;
        loop {
            let mut line = Vec::new();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    number += 1;
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    let message = if line.len() > MAX_ENTRY_SIZE {
                        Line::TooLarge { line: number, size: line.len() }
                    } else {
                        Line::Entry(line)
                    };
                    let stop = !matches!(message, Line::Entry(_));
                    if send.send(message).is_err() || stop {
                        return;
                    }
                }
                Err(error) => {
                    let _ = send.send(Line::Failed(error));
                    return;
                }
            }
        }
    });
    let mut problem = None;
    while let Ok(first) = lines.recv() {
        let mut batch = Vec::new();
        let mut next = Some(first);
        while let Some(line) = next.take() {
            match line {
                Line::Entry(entry) => batch.push(entry),
                other => {
                    problem = Some(other);
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = lines.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            let first_index = entries.append(&refs)?;
            if !quiet {
                for index in first_index..first_index + refs.len() as u64 {
                    writeln!(out, "{index}")?;
                }
                out.flush()?;
            }
        }
        if problem.is_some() {
            break;
        }
    }
    out.flush()?;
    match problem {
        None => Ok(ExitCode::SUCCESS),
        Some(Line::TooLarge { line, size }) => bail!(
            "line {line} of the input is {size} bytes; an entry holds at most {MAX_ENTRY_SIZE}. \
             The lines before it were appended, it and the rest were not"
        ),
        Some(Line::Failed(error)) => {
            Err(error).context("reading stdin; the lines read before the failure were appended")
        }
        Some(Line::Entry(_)) => unreachable!("entries are never a problem"),
    }
}

/// Integrates, signs, collects cosignatures and publishes a checkpoint.
pub fn checkpoint(log: &LogDir, passphrase_env: Option<&str>) -> Result<Integration> {
    let signer = log.signer(passphrase_env)?;
    let entries = log.entries()?;
    let tiles = log.tiles();
    let witnesses = WitnessSet::new(
        log.config
            .witness
            .iter()
            .map(|w| Ok((w.url.clone(), VerifierKey::parse(&w.vkey)?)))
            .collect::<Result<Vec<_>>>()?,
        log.config.witness_quorum,
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut cosign = |integration: &Integration| -> Result<Vec<u8>, tlog_store::Error> {
        runtime.block_on(witnesses.cosign(&tiles, integration))
    };
    Ok(integrate(&entries, &tiles, &signer, &mut cosign)?)
}

fn serve(dir: &Path, listen: &str, prefix: &str, tls: Option<(&Path, &Path)>) -> Result<ExitCode> {
    let log = LogDir::open(dir)?;
    let tls = tls.map(|(cert, key)| tlog_http::tls::server_config(cert, key)).transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let address = listener.local_addr()?;
        println!("listening on {scheme}://{address}{}", prefix.trim_end_matches('/'));
        std::io::stdout().flush()?;
        let app = tlog_http::server::router(log.tiles(), prefix);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tlog_http::server::serve(listener, app, tls, shutdown).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The log's current checkpoint, verified with its own key: (size, note).
fn current_checkpoint(log: &LogDir) -> Result<(u64, tlog::Hash, Vec<u8>)> {
    use tlog_store::integrate::{CheckpointVerifier as _, VerifyOnly};
    let note = log.tiles().checkpoint()?;
    let (size, root) = VerifyOnly::new(log.vkey()?, &log.config.origin).open(&note)?;
    Ok((size, root, note))
}

fn prove_inclusion(dir: &Path, index: u64, with_entry: bool) -> Result<ExitCode> {
    let log = LogDir::open(dir)?;
    let (size, _, note) = current_checkpoint(&log)?;
    if index >= size {
        bail!(
            "entry {index} is not in the checkpointed tree (size {size}); run `juki log \
             checkpoint` if it was appended since"
        );
    }
    let tiles = log.tiles();
    let proof = tlog::merkle::prove_inclusion(index, size, &TileHashReader::new(&tiles, size))?;
    let extra = if with_entry {
        Some(log.entries()?.read_entries(index, index + 1)?.remove(0))
    } else {
        None
    };
    let receipt = Receipt { extra, index, proof, checkpoint: note };
    std::io::stdout().write_all(&receipt.to_bytes())?;
    Ok(ExitCode::SUCCESS)
}

fn prove_consistency_cmd(dir: &Path, old: u64, new: Option<u64>) -> Result<ExitCode> {
    let log = LogDir::open(dir)?;
    let (size, _, _) = current_checkpoint(&log)?;
    let new = new.unwrap_or(size);
    if new > size {
        bail!("--new {new} is beyond the checkpointed tree (size {size})");
    }
    if old > new {
        bail!("--old {old} is larger than --new {new}: a log never shrinks");
    }
    let tiles = log.tiles();
    let proof = prove_consistency(old, new, &TileHashReader::new(&tiles, new))?;
    let mut out = std::io::stdout().lock();
    for hash in proof {
        writeln!(out, "{hash}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn open_source(source: &str, ca: Option<&Path>) -> Result<Box<dyn TileSource>> {
    if is_url(source) {
        let pem = ca.map(std::fs::read).transpose().context("reading the CA certificate")?;
        return Ok(Box::new(HttpSource::new(source, pem.as_deref())?));
    }
    let path = Path::new(source);
    if path.join("tlog").join("checkpoint").exists() {
        Ok(Box::new(TileDir::new(path.join("tlog"))))
    } else if path.join("checkpoint").exists() {
        Ok(Box::new(TileDir::new(path)))
    } else {
        bail!("{source} is neither an http(s) URL nor a directory holding a log checkpoint")
    }
}

fn is_url(location: &str) -> bool {
    location.starts_with("http://") || location.starts_with("https://")
}

fn verify(
    location: &str,
    policy: &Policy,
    origin: &str,
    since: Option<&Path>,
    ca: Option<&Path>,
) -> Result<ExitCode> {
    let source = open_source(location, ca)?;
    let earlier = since
        .map(|path| -> Result<_> {
            let note =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let log_only = Policy { witnesses: Vec::new(), quorum: 0, ..policy.clone() };
            let verified = log_only.verify_origin(&note, origin).with_context(|| {
                format!("the earlier checkpoint {} is not valid", path.display())
            })?;
            Ok((verified.checkpoint.size, verified.checkpoint.root))
        })
        .transpose()?;
    let started = Instant::now();
    let note = source.checkpoint()?;
    let verified = policy.verify_origin(&note, origin).context("the log's checkpoint")?;
    let (size, root) = (verified.checkpoint.size, verified.checkpoint.root);
    if let Some((old_size, _)) = earlier
        && old_size > size
    {
        bail!(
            "the log went backwards: it now serves size {size}, but the earlier checkpoint has \
             size {old_size}"
        );
    }
    let report = verify_tree(source.as_ref(), size, &root, &mut |_| {})?;
    if let Some(old) = earlier {
        check_consistency(source.as_ref(), old, (size, root))?;
    }
    // Given a log directory, the entries database must hold what the tiles commit to.
    let entries_db = Path::new(location).join("entries.db");
    let self_checked = if !is_url(location) && entries_db.exists() {
        let entries = tlog_store::entries::SqliteEntries::open(&entries_db)?;
        Some(tlog_store::verify::check_entries(&entries, source.as_ref(), size)?)
    } else {
        None
    };
    let seconds = started.elapsed().as_secs_f64();
    println!("verified {origin}: {size} entries, root {root}");
    println!(
        "  {} hash tiles and {} entry bundles ({} entry bytes) in {seconds:.2}s, {:.0} entries/s",
        report.hash_tiles,
        report.entry_bundles,
        report.entry_bytes,
        size as f64 / seconds.max(1e-9)
    );
    for (witness, timestamp) in &verified.cosignatures {
        println!("  cosigned by {witness} at {timestamp}");
    }
    if let Some((old_size, _)) = earlier {
        println!("  consistent with the earlier checkpoint at size {old_size}");
    }
    if let Some(count) = self_checked {
        println!("  the entries database matches the tiles ({count} entries)");
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_receipt(
    file: &Path,
    policy: &Policy,
    origin: &str,
    entry: Option<&Path>,
    commitment: bool,
) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let receipt =
        Receipt::parse(&bytes).with_context(|| format!("{} is not a receipt", file.display()))?;
    let entry = match (entry, &receipt.extra) {
        (Some(path), _) => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, Some(extra)) => extra.clone(),
        (None, None) => bail!("the receipt carries no entry; give the entry with --entry FILE"),
    };
    let leaf = if commitment { registry_core::evidence::leaf(&entry) } else { leaf_hash(&entry) };
    let verified =
        receipt.verify_origin(&leaf, policy, origin).context("the receipt does not verify")?;
    println!(
        "receipt verified: entry {} is in {origin} at size {}",
        receipt.index, verified.checkpoint.size
    );
    for (witness, timestamp) in &verified.cosignatures {
        println!("  cosigned by {witness} at {timestamp}");
    }
    Ok(ExitCode::SUCCESS)
}
