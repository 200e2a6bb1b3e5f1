//! `juki init municipal`, `juki code-block`, `juki operator`, `juki move` and `juki registry`:
//! setting up a municipality's registry and its resident-code pool, signing operators'
//! enrolments and revocations offline with the admin key (from the operator's verifier key
//! alone; the signed file reaches the node through `juki office submit`, or a registry without
//! a node through `juki registry submit`), certifying moves between municipalities and
//! completing them with the national key (what the national node does online, done offline),
//! and checkpointing and verifying its log. The resident commands are in `resident`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Subcommand;
use registry_core::event::{CodeBlock, Enrolment, Event, Genesis, MAX_BLOCK, Revocation, Role};
use registry_core::moves::{ActivationCertificate, MoveNotice, MoveOutCertificate, note_hash};
use registry_core::rules::{Effect, Refusal};
use registry_domain::{ChangeReason, MunicipalityCode, RecordStatus, ResidentCode};
use registry_store::{Applied, Registry, StoreError};
use tlog::note::{KeyKind, Note, Signer, VerifierKey};
use tlog_store::entries::EntryReader as _;
use tlog_store::integrate::{CheckpointVerifier as _, VerifyOnly};
use zeroize::Zeroizing;

use crate::passphrase;
use registry_store::dir::{
    self as registrydir, CONFIG, DATABASE, NODE_KEY, OperatorKeyName, RegistryConfig, RegistryDir,
    TILES, admin_key_name, national_key_name,
};

/// The origin of a municipality's registry log unless `--origin` says otherwise.
fn default_origin(code: MunicipalityCode) -> String {
    format!("juki.local/registry/{code}")
}

#[derive(Subcommand)]
pub enum InitCommand {
    /// Create a municipality's registry in a new directory.
    ///
    /// Creates DIR with registry.toml, registry.db, node.key (the node's checkpoint key) and
    /// tlog/ (the registry log's tiles). Generates the municipality's admin key into the separate
    /// file given with --admin-out: it enrols and revokes operators, so keep it offline (on
    /// removable media, sealed with a passphrase) and never in DIR. Records the genesis event
    /// signed by it and publishes the first checkpoint. The national key, which allocates
    /// resident-code blocks, is either given (--national-vkey) or generated (--national-key-out).
    ///
    /// Example: juki init municipal --code 204072 --dir /srv/juki/204072 --admin-out
    /// /media/usb/admin.key --national-vkey national.juki.local+…
    Municipal {
        /// The municipality's six-digit code (全国地方公共団体コード), e.g. 204072 for 阿智村.
        #[arg(long)]
        code: String,
        /// The registry directory to create; it must not hold a registry yet.
        #[arg(long)]
        dir: PathBuf,
        /// Where to write the municipality's admin key (outside DIR). It must not exist.
        #[arg(long, value_name = "FILE")]
        admin_out: PathBuf,
        /// The national key's verifier key, which signs resident-code blocks.
        #[arg(long, value_name = "VKEY", group = "national")]
        national_vkey: Option<String>,
        /// Generate a national key into this file instead (for a test or a first node) and
        /// print its verifier key.
        #[arg(long, value_name = "FILE", group = "national")]
        national_key_out: Option<PathBuf>,
        /// The registry log's origin (default juki.local/registry/CODE).
        #[arg(long)]
        origin: Option<String>,
        /// Seal the admin key (and a generated national key) with the passphrase in this
        /// environment variable. Recommended: the admin key is the registry's root of trust. It
        /// must have at least 12 characters and not be a common or breached password, repeated
        /// or sequential characters, nor contain the keys' names or a word of them.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum CodeBlockCommand {
    /// Issue a block of resident codes to a municipality, signed by the national key, into a
    /// `juki.code-block/v1` file for `juki code-block add`.
    ///
    /// The block is the ten-digit bases FIRST .. FIRST+COUNT-1; each resident code is a base
    /// followed by its check digit. The node accepts the file only within 10 minutes of its
    /// signing (as every signed event), so add it promptly.
    Issue {
        /// The national key file (passphrase from --passphrase-env, JUKI_PASSPHRASE or a
        /// prompt if it is sealed).
        #[arg(long, value_name = "FILE")]
        national_key: PathBuf,
        /// The municipality the block is for, e.g. 204072.
        #[arg(long, value_name = "CODE")]
        municipality: String,
        /// The first ten-digit base of the block, e.g. 2040720000.
        #[arg(long, value_name = "TEN_DIGITS")]
        first: String,
        /// How many codes the block holds (1 to 10,000,000).
        #[arg(long, value_name = "N")]
        count: u64,
        /// Where to write the signed block. It must not exist.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The environment variable holding the national key's passphrase.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Add a signed code block (from `juki code-block issue`) to the registry's pool.
    Add {
        /// The registry directory.
        #[arg(long)]
        dir: PathBuf,
        /// The signed code-block file.
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Sign an operator's enrolment (a clerk or a supervisor) with the municipality's admin
    /// key, offline, into a file for the town's node.
    ///
    /// The operator generates their own key and gives you only its verifier key: `juki key
    /// generate --name op.CODE.HOST/HANDLE --out FILE --passphrase-env VAR`, where HOST is the
    /// registry origin's host (juki.local by default), e.g. op.204072.juki.local/tanaka. The
    /// municipality and the handle come from that name. The signed enrolment reaches the node
    /// through the office API (`juki office submit`), or a registry directory without a node
    /// through `juki registry submit`; the admin key never goes near the node.
    ///
    /// Example: juki operator enroll --admin-key /media/usb/admin.key --vkey
    /// op.204072.juki.local/tanaka+… --role clerk --out tanaka.enrol
    Enroll {
        /// The admin key file (passphrase from --admin-passphrase-env, JUKI_PASSPHRASE or a
        /// prompt).
        #[arg(long, value_name = "FILE")]
        admin_key: PathBuf,
        /// The operator's verifier key, as `juki key generate` printed it for them.
        #[arg(long, value_name = "VKEY")]
        vkey: String,
        /// What the operator does: a clerk at the counter, or a supervisor who approves.
        #[arg(long, value_parser = ["clerk", "supervisor"])]
        role: String,
        /// Where to write the signed enrolment. It must not exist.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The environment variable holding the admin key's passphrase.
        #[arg(long, value_name = "VAR")]
        admin_passphrase_env: Option<String>,
    },
    /// Sign an operator key's revocation with the admin key, offline, into a file for the
    /// town's node (`juki office submit`, or `juki registry submit` without a node): nothing
    /// the key signs is accepted once it is recorded.
    Revoke {
        /// The admin key file (passphrase from --admin-passphrase-env, JUKI_PASSPHRASE or a
        /// prompt).
        #[arg(long, value_name = "FILE")]
        admin_key: PathBuf,
        /// The operator's verifier key, as `juki operator list` shows it.
        #[arg(long, value_name = "VKEY")]
        vkey: String,
        /// Where to write the signed revocation. It must not exist.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The environment variable holding the admin key's passphrase.
        #[arg(long, value_name = "VAR")]
        admin_passphrase_env: Option<String>,
    },
    /// List the operators ever enrolled, with their roles and whether they are revoked.
    List {
        /// The registry directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum MoveCommand {
    /// 転出証明書情報: certify a resident's move out of a municipality, signed by the national
    /// key, for the municipality moved to (`juki resident move-in --move-out FILE`).
    ///
    /// Reads the registry moved out of (without changing it), finds the move-out (国内転出) that
    /// closed the resident's record, and signs a `juki.move-out/v1` certificate naming it by
    /// the SHA-256 of its exact signed note, with the identity that carries over. Writes the
    /// certificate to --out, or to standard output.
    Certify {
        /// The national key file (passphrase from --passphrase-env, JUKI_PASSPHRASE or a
        /// prompt if it is sealed).
        #[arg(long, value_name = "FILE")]
        national_key: PathBuf,
        /// The registry directory of the municipality moved out of.
        #[arg(long, value_name = "DIR")]
        from_registry: PathBuf,
        /// The resident code of the person who moved out.
        #[arg(long, value_name = "CODE")]
        resident: String,
        /// Write the certificate here (it must not exist) instead of to standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// The environment variable holding the national key's passphrase.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// Issue the national key's activation certificate (`juki.activation/v1`) for a record closed
    /// in a registry directory, so that the record may be reopened (a cancellation, a move back in
    /// from abroad) or entered in another registry under the same code.
    ///
    /// This is the offline counterpart, for registries that no network serves, of the national
    /// signer's `/v1/sign/activation`: it certifies what the registry directory given shows (the
    /// record closed by its current change), so give it the registry where the person was last
    /// registered. On a network the signer decides from its custody of every code.
    Activate {
        /// The national key file (passphrase from --passphrase-env, JUKI_PASSPHRASE or a
        /// prompt if it is sealed).
        #[arg(long, value_name = "FILE")]
        national_key: PathBuf,
        /// The registry directory whose record of the resident is closed.
        #[arg(long, value_name = "DIR")]
        from_registry: PathBuf,
        /// The resident code.
        #[arg(long, value_name = "CODE")]
        resident: String,
        /// The municipality where the record will become active (default: the one of
        /// --from-registry).
        #[arg(long, value_name = "CODE")]
        to: Option<String>,
        /// Write the certificate here (it must not exist).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The environment variable holding the national key's passphrase.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
    /// 転入通知: tell the municipality moved out of that the resident has moved in, signed by the
    /// national key, and record the notice in its registry. This completes the move there.
    ///
    /// Reads the registry moved to (without changing it), finds the move-in that made the
    /// resident's record and the certificate it carries, and submits a `juki.move-notice/v1`
    /// naming the move-out and the move-in to the registry moved out of.
    Notice {
        /// The national key file (passphrase from --passphrase-env, JUKI_PASSPHRASE or a
        /// prompt if it is sealed).
        #[arg(long, value_name = "FILE")]
        national_key: PathBuf,
        /// The registry directory of the municipality moved out of, which records the notice.
        #[arg(long, value_name = "DIR")]
        from_registry: PathBuf,
        /// The registry directory of the municipality moved to.
        #[arg(long, value_name = "DIR")]
        to_registry: PathBuf,
        /// The resident code of the person who moved.
        #[arg(long, value_name = "CODE")]
        resident: String,
        /// The environment variable holding the national key's passphrase.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Record signed event files in a registry directory that no node serves: enrolments and
    /// revocations signed offline (`juki operator enroll|revoke --out FILE`), or any other
    /// signed event. Each is decided by the rules; the first refusal stops, and what it refused
    /// records nothing. A town with a node receives them through its office API instead
    /// (`juki office submit`).
    Submit {
        /// The registry directory.
        #[arg(long)]
        dir: PathBuf,
        /// The signed event files, recorded in this order.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Integrate the registry log's new events into its tiles and publish a checkpoint signed
    /// by the node key. The tiles hold commitments (event kind and hash), no personal data.
    Checkpoint {
        /// The registry directory.
        #[arg(long)]
        dir: PathBuf,
    },
    /// Check the registry against its log: replay every signed event through the rules and
    /// compare the result with the stored tables, and check the log's entries against the
    /// published tiles and checkpoint. Prints every difference (by resident code and field,
    /// never values) and exits non-zero if there is any.
    Verify {
        /// The registry directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Submits a signed event; a refusal says that nothing was recorded.
pub fn submit(registry: &mut Registry, note: &[u8]) -> Result<Applied> {
    let now = crate::now();
    registry.submit(note, now).map_err(|error| match error {
        StoreError::Refused(refusal) => refused(&refusal),
        other => anyhow!(other),
    })
}

/// The error for a refused event.
pub fn refused(refusal: &Refusal) -> anyhow::Error {
    let code = wire::errors::Code::of_refusal(refusal);
    anyhow!("[{code}] refused: {refusal}. Nothing was recorded")
}

/// Signs an event's text with each signer, in order.
pub fn sign(event: &Event, signers: &[&Signer]) -> Result<Vec<u8>> {
    let mut note = Note::new(event.to_text()).context("the event text cannot be signed")?;
    for signer in signers {
        note.sign(signer).with_context(|| format!("signing with {}", signer.name()))?;
    }
    Ok(note.to_bytes())
}

/// A new Ed25519 key named `name`, from the system's random generator.
fn generate(name: &str) -> Result<Signer> {
    let mut seed = Zeroizing::new([0u8; 32]);
    keyfile::random_bytes(seed.as_mut())?;
    Signer::from_seed(name, KeyKind::Ed25519, *seed)
        .with_context(|| format!("{name:?} cannot be a key name"))
}

/// Writes a key file; a passphrase must not contain the key's name (`keyfile::write_for`).
fn write_key(path: &Path, signer: &Signer, passphrase: Option<&str>) -> Result<()> {
    keyfile::write_for(path, &signer.to_private_string(), passphrase, &[signer.name()])
        .with_context(|| format!("writing the key file {}", path.display()))
}

/// Writes a new file (never overwriting one) and syncs it.
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// The municipality's code, name and prefecture, for messages.
pub fn describe(code: MunicipalityCode) -> String {
    format!("{code} {} ({})", code.name(), code.prefecture().name())
}

pub fn parse_municipality(flag: &str, text: &str) -> Result<MunicipalityCode> {
    MunicipalityCode::parse(text).map_err(|e| anyhow!("{flag}: {e}"))
}

/// Files and directories created by a command that fails half-way, removed on drop unless
/// the command completed.
#[derive(Default)]
struct Undo {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
    done: bool,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for file in self.files.iter().rev() {
            let _ = std::fs::remove_file(file);
        }
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub fn run_init(command: InitCommand) -> Result<ExitCode> {
    let InitCommand::Municipal {
        code,
        dir,
        admin_out,
        national_vkey,
        national_key_out,
        origin,
        passphrase_env,
    } = command;
    let municipality = parse_municipality("--code", &code)?;
    if national_vkey.is_none() && national_key_out.is_none() {
        bail!("give the national key's verifier key (--national-vkey) or --national-key-out FILE");
    }
    let origin = origin.unwrap_or_else(|| default_origin(municipality));
    if !tlog::note::is_valid_key_name(&origin) || registrydir::origin_host(&origin).is_empty() {
        bail!(
            "--origin {origin:?} cannot be a log origin: use a schema-less URL without spaces or \
             '+', e.g. {}",
            default_origin(municipality)
        );
    }
    if dir.exists() && !dir.is_dir() {
        bail!("{} exists and is not a directory", dir.display());
    }
    if registrydir::holds_registry(&dir) {
        bail!(
            "{} already holds a registry (or part of one); choose a new directory",
            dir.display()
        );
    }
    let inside = |path: &Path| -> Result<bool> {
        let dir = std::path::absolute(&dir)?;
        Ok(std::path::absolute(path)?.starts_with(dir))
    };
    if admin_out.exists() {
        bail!("{} already exists; key files are never overwritten", admin_out.display());
    }
    if inside(&admin_out)? {
        bail!(
            "--admin-out {} is inside the registry directory; the admin key must be kept apart \
             from the node (e.g. on removable media)",
            admin_out.display()
        );
    }
    if let Some(out) = &national_key_out {
        if out.exists() {
            bail!("{} already exists; key files are never overwritten", out.display());
        }
        if std::path::absolute(out)? == std::path::absolute(&admin_out)? {
            bail!("--national-key-out and --admin-out must be different files");
        }
        if inside(out)? {
            bail!("--national-key-out {} is inside the registry directory", out.display());
        }
    }
    let given_national = national_vkey
        .as_deref()
        .map(|text| -> Result<VerifierKey> {
            let key =
                VerifierKey::parse(text).with_context(|| format!("--national-vkey {text:?}"))?;
            if key.kind() != KeyKind::Ed25519 {
                bail!("--national-vkey: the national key must be an Ed25519 (type 0x01) key");
            }
            Ok(key)
        })
        .transpose()?;
    let admin_name = admin_key_name(municipality, &origin);
    let national_name = national_key_name(&origin);
    let passphrase = passphrase_env
        .as_deref()
        .map(|var| {
            let mut files = vec![admin_out.as_path()];
            files.extend(national_key_out.as_deref());
            passphrase::for_sealing(var, &[&admin_name, &national_name], &files)
        })
        .transpose()?;
    let passphrase = passphrase.as_deref().map(|p| p.as_str());

    let admin = generate(&admin_name)?;
    let node = generate(&origin)?;
    let generated_national = match &national_key_out {
        Some(_) => Some(generate(&national_name)?),
        None => None,
    };
    let national = match (&given_national, &generated_national) {
        (Some(key), _) => key.clone(),
        (None, Some(signer)) => signer.verifier(),
        (None, None) => bail!("give --national-vkey or --national-key-out"),
    };

    let mut undo = Undo::default();
    if !dir.exists() {
        // Owner-only (0700): the registry database and the node key are in it.
        keyfile::private::create_dir_all(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        undo.dirs.push(dir.clone());
    }
    write_key(&admin_out, &admin, passphrase)?;
    undo.files.push(admin_out.clone());
    if let (Some(out), Some(signer)) = (&national_key_out, &generated_national) {
        write_key(out, signer, passphrase)?;
        undo.files.push(out.clone());
    }
    let node_key = dir.join(NODE_KEY);
    write_key(&node_key, &node, None)?;
    undo.files.push(node_key);
    let db = dir.join(DATABASE);
    undo.files.extend(["", "-wal", "-shm"].map(|s| dir.join(format!("{DATABASE}{s}"))));
    undo.dirs.push(dir.join(TILES));
    undo.files.push(dir.join(format!(".{TILES}.lock")));
    let mut registry = Registry::create(&db, municipality, &national)?;
    let genesis =
        Event::Genesis(Genesis { municipality, admin: admin.verifier(), time: crate::now() });
    submit(&mut registry, &sign(&genesis, &[&admin])?)?;
    let config = RegistryConfig {
        municipality: municipality.to_string(),
        origin: origin.clone(),
        key: PathBuf::from(NODE_KEY),
        vkey: node.verifier().to_string(),
        national: national.to_string(),
    };
    let config_path = dir.join(CONFIG);
    tlog_store::tiledir::write_atomic(&config_path, toml::to_string_pretty(&config)?.as_bytes())?;
    undo.files.push(config_path);
    tlog_store::tiledir::sync_dir(&dir)?;
    let opened = RegistryDir { dir: dir.clone(), config, municipality };
    let integration = opened.checkpoint(&mut registry)?;
    undo.done = true;

    eprintln!("created the registry of {} in {}", describe(municipality), dir.display());
    eprintln!(
        "  {CONFIG}, {DATABASE} (genesis recorded), {NODE_KEY} (checkpoint key), {TILES}/ \
         (checkpoint at size {})",
        integration.size
    );
    eprintln!(
        "admin key written to {}{}: keep it offline; it enrols and revokes operators",
        admin_out.display(),
        if passphrase.is_some() { " (sealed)" } else { " (NOT sealed: use --passphrase-env)" }
    );
    if let Some(out) = &national_key_out {
        eprintln!("national key written to {}: it signs resident-code blocks", out.display());
    }
    println!("municipality {municipality}");
    println!("origin {origin}");
    println!("node-vkey {}", node.verifier());
    println!("admin-vkey {}", admin.verifier());
    println!("national-vkey {national}");
    Ok(ExitCode::SUCCESS)
}

/// Exactly ten ASCII digits.
fn parse_ten_digits(text: &str) -> Result<u64> {
    if text.len() != 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        bail!(
            "--first is the block's first ten-digit base: exactly ten ASCII digits, e.g. 2040720000"
        );
    }
    Ok(text.parse()?)
}

/// The `juki.code-block/v1` event in a signed note file.
fn read_code_block(path: &Path) -> Result<(Vec<u8>, CodeBlock)> {
    let size =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > 1 << 20 {
        bail!("{} is {size} bytes: not a code-block file", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let note = Note::parse(&bytes)
        .with_context(|| format!("{} is not a signed note (a code-block file)", path.display()))?;
    match Event::parse(note.text()) {
        Ok(Event::CodeBlock(block)) => Ok((bytes, block)),
        Ok(_) => bail!("{} is a signed event, but not a code block", path.display()),
        Err(e) => Err(anyhow!("{} is not a code block: {e}", path.display())),
    }
}

pub fn run_code_block(command: CodeBlockCommand) -> Result<ExitCode> {
    match command {
        CodeBlockCommand::Issue {
            national_key,
            municipality,
            first,
            count,
            out,
            passphrase_env,
        } => {
            let municipality = parse_municipality("--municipality", &municipality)?;
            let first = parse_ten_digits(&first)?;
            if count == 0 || count > MAX_BLOCK || first + count > 10_000_000_000 {
                bail!(
                    "--count must be 1 to {MAX_BLOCK}, and the block must end at or below \
                     9999999999"
                );
            }
            if out.exists() {
                bail!("{} already exists; choose another file", out.display());
            }
            let signer = crate::key::load_signer(&national_key, passphrase_env.as_deref())?;
            if signer.kind() != KeyKind::Ed25519 {
                bail!("{} is a witness key, not the national key", national_key.display());
            }
            let event =
                Event::CodeBlock(CodeBlock { municipality, first, count, time: crate::now() });
            let note = sign(&event, &[&signer])?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            file.write_all(&note)?;
            file.sync_all()?;
            eprintln!(
                "issued {count} resident codes (ten-digit bases {first:010} to {:010}) to {}, \
                 signed by {}; add them with `juki code-block add --dir DIR {}` within 10 minutes",
                first + count - 1,
                describe(municipality),
                signer.name(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        CodeBlockCommand::Add { dir, file } => {
            let registry_dir = RegistryDir::open(&dir)?;
            let mut registry = registry_dir.registry()?;
            let (note, block) = read_code_block(&file)?;
            if block.municipality != registry.municipality() {
                bail!(
                    "{} is a block for {}, but this is the registry of {}. Nothing was recorded",
                    file.display(),
                    describe(block.municipality),
                    describe(registry.municipality())
                );
            }
            let blocks: Vec<(i64, i64)> = {
                let conn = registry.connection();
                let mut select = conn.prepare("SELECT first, count FROM code_blocks")?;
                select.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
            };
            let (first, end) = (block.first as i64, (block.first + block.count) as i64);
            if blocks.iter().any(|&(f, c)| first < f + c && f < end) {
                bail!(
                    "{} overlaps a code block already in the pool (was it added before?). Nothing \
                     was recorded",
                    file.display()
                );
            }
            let applied = submit(&mut registry, &note)?;
            let total: u64 = blocks.iter().map(|&(_, c)| c as u64).sum::<u64>() + block.count;
            println!(
                "added {} resident codes ({:010} to {:010}) as event {}; the pool now holds {total}",
                block.count,
                block.first,
                block.first + block.count - 1,
                applied.index
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An operator's verifier key, given with `--vkey`, and what its name says.
fn parse_operator_vkey(text: &str) -> Result<(VerifierKey, OperatorKeyName)> {
    let key = VerifierKey::parse(text).with_context(|| format!("--vkey {text:?}"))?;
    if key.kind() != KeyKind::Ed25519 {
        bail!("--vkey: an operator key is an Ed25519 (type 0x01) key");
    }
    let name = OperatorKeyName::parse(key.name()).ok_or_else(|| {
        anyhow!(
            "--vkey: the key is named {:?}, but an operator's key is named op.CODE.HOST/HANDLE \
             (e.g. op.204072.juki.local/tanaka; the handle is 1 to 32 lower-case letters, \
             digits, '.', '_' or '-'); the operator generates it with `juki key generate --name \
             op.CODE.HOST/HANDLE --out FILE --passphrase-env VAR`",
            key.name()
        )
    })?;
    Ok((key, name))
}

/// Loads the admin key that enrols and revokes `operator`: the key named
/// `admin.CODE.HOST` for the operator's municipality and host. (That it is the very key the
/// registry's genesis names, the registry decides when the event reaches it.)
fn load_admin(path: &Path, variable: Option<&str>, operator: &OperatorKeyName) -> Result<Signer> {
    let signer = crate::key::load_signer(path, variable)?;
    let expected = operator.admin_key_name();
    if signer.kind() != KeyKind::Ed25519 || signer.name() != expected {
        bail!(
            "--admin-key {} holds the key {}, but an operator of {} is enrolled and revoked with \
             its admin key, {expected}. Nothing was signed",
            path.display(),
            signer.name(),
            describe(operator.municipality)
        );
    }
    Ok(signer)
}

pub fn run_operator(command: OperatorCommand) -> Result<ExitCode> {
    match command {
        OperatorCommand::Enroll { admin_key, vkey, role, out, admin_passphrase_env } => {
            let (operator, name) = parse_operator_vkey(&vkey)?;
            let role: Role = role.parse().map_err(|()| anyhow!("--role is clerk or supervisor"))?;
            if out.exists() {
                bail!("{} already exists; choose another file. Nothing was signed", out.display());
            }
            let admin = load_admin(&admin_key, admin_passphrase_env.as_deref(), &name)?;
            let event = Event::Enrolment(Enrolment {
                municipality: name.municipality,
                operator: operator.clone(),
                role,
                time: crate::now(),
            });
            write_new(&out, &sign(&event, &[&admin])?)?;
            eprintln!(
                "signed the enrolment of {} as {} of {} into {}; it takes effect when the \
                 town's node records it: `juki office submit … {}` (or `juki registry submit \
                 --dir DIR {}` for a registry without a node)",
                name.handle,
                role.code(),
                describe(name.municipality),
                out.display(),
                out.display(),
                out.display()
            );
            println!("{operator}");
            Ok(ExitCode::SUCCESS)
        }
        OperatorCommand::Revoke { admin_key, vkey, out, admin_passphrase_env } => {
            let (operator, name) = parse_operator_vkey(&vkey)?;
            if out.exists() {
                bail!("{} already exists; choose another file. Nothing was signed", out.display());
            }
            let admin = load_admin(&admin_key, admin_passphrase_env.as_deref(), &name)?;
            let event = Event::Revocation(Revocation {
                municipality: name.municipality,
                operator: operator.clone(),
                time: crate::now(),
            });
            write_new(&out, &sign(&event, &[&admin])?)?;
            eprintln!(
                "signed the revocation of {} ({}) into {}; nothing it signs is accepted once the \
                 town's node records it: `juki office submit … {}` (or `juki registry submit \
                 --dir DIR {}`)",
                name.handle,
                describe(name.municipality),
                out.display(),
                out.display(),
                out.display()
            );
            println!("{operator}");
            Ok(ExitCode::SUCCESS)
        }
        OperatorCommand::List { dir } => {
            let registry_dir = RegistryDir::open(&dir)?;
            let registry = registry_dir.registry()?;
            let operators = registry.operators()?;
            if operators.is_empty() {
                eprintln!("no operators are enrolled yet; enrol one with `juki operator enroll`");
            }
            for o in operators {
                println!(
                    "{:<10} {:<8} enrolled {}  {}",
                    o.role.code(),
                    if o.revoked { "revoked" } else { "active" },
                    o.enrolled,
                    o.key
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn run_registry(command: RegistryCommand) -> Result<ExitCode> {
    match command {
        RegistryCommand::Checkpoint { dir } => {
            let registry_dir = RegistryDir::open(&dir)?;
            let mut registry = registry_dir.registry()?;
            let integration = registry_dir.checkpoint(&mut registry)?;
            eprintln!(
                "checkpointed {} at size {} (was {})",
                registry_dir.config.origin, integration.size, integration.old_size
            );
            std::io::stdout().write_all(&integration.checkpoint)?;
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Verify { dir } => verify(&dir),
        RegistryCommand::Submit { dir, files } => {
            let registry_dir = RegistryDir::open(&dir)?;
            let mut registry = registry_dir.registry()?;
            for path in &files {
                let size = std::fs::metadata(path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .len();
                if size > 1 << 20 {
                    bail!("{} is {size} bytes: not a signed event", path.display());
                }
                let note =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                let applied = submit(&mut registry, &note)
                    .with_context(|| format!("{} was not recorded", path.display()))?;
                let kind = match &applied.effect {
                    Effect::Genesis(_) => "genesis",
                    Effect::Enrol(_) => "enrolment",
                    Effect::Revoke(_) => "revocation",
                    Effect::CodeBlock(_) => "code-block",
                    Effect::Change { .. } => "change",
                    Effect::MoveNotice(_) => "move-notice",
                    Effect::MoveWithdrawal(_) => "move-withdrawal",
                };
                println!("{} {kind} event {}", path.display(), applied.index);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The resident whose history holds the event at `index`, from the history table: a hint for
/// differences about one event.
fn resident_of_event(registry: &mut Registry, index: u64) -> Option<String> {
    registry
        .connection()
        .query_row("SELECT code, number FROM history WHERE event_idx = ?1", [index as i64], |r| {
            Ok(format!(
                "resident {}'s history entry {}",
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?
            ))
        })
        .ok()
}

fn verify(dir: &Path) -> Result<ExitCode> {
    let registry_dir = RegistryDir::open(dir)?;
    let mut registry = registry_dir.registry()?;
    let mut problems: Vec<String> = Vec::new();
    for difference in registry.verify()? {
        let mut line = difference.to_string();
        // A difference about one event ("event N …") names no resident: the event itself is
        // what cannot be trusted. The history table says whose record it made; say so.
        if difference.resident.is_none()
            && let Some(index) = difference
                .what
                .strip_prefix("event ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
            && let Some(hint) = resident_of_event(&mut registry, index)
        {
            line.push_str(&format!(" (the tables record it as {hint})"));
        }
        problems.push(line);
    }
    let events = registry.connection().entry_count()?;
    let tiles = registry_dir.tiles();
    let mut checkpointed = None;
    match tiles.read_checkpoint()? {
        None => eprintln!("note: no checkpoint yet; run `juki registry checkpoint`"),
        Some(note) => {
            let verifier = VerifyOnly::new(registry_dir.vkey()?, &registry_dir.config.origin);
            match verifier.open(&note) {
                Err(e) => problems.push(format!("the published checkpoint does not verify: {e}")),
                Ok((size, root)) => {
                    let conn = &*registry.connection();
                    let checked = tlog_store::verify::verify_tree(&tiles, size, &root, &mut |_| {})
                        .map_err(|e| format!("the tiles do not match the checkpoint: {e}"))
                        .and_then(|_| {
                            tlog_store::verify::check_entries(conn, &tiles, size).map_err(|e| {
                                format!("the log's entries do not match the tiles: {e}")
                            })
                        });
                    match checked {
                        Ok(_) => checkpointed = Some(size),
                        Err(problem) => problems.push(problem),
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        let residents: i64 =
            registry.connection().query_row("SELECT count(*) FROM residents", [], |r| r.get(0))?;
        println!(
            "registry of {} verified: {events} events replayed, {residents} resident record{} \
             and their history match the log",
            describe(registry.municipality()),
            if residents == 1 { "" } else { "s" }
        );
        if let Some(size) = checkpointed {
            println!(
                "  the log's entries match the tiles and the checkpoint signed by the node key \
                 (size {size}{})",
                if size < events {
                    format!("; {} newer events are not checkpointed yet", events - size)
                } else {
                    String::new()
                }
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        println!("{problem}");
    }
    eprintln!(
        "error: the registry of {} differs from its log in {} way{}; the derived tables or the \
         events were changed behind the log's back",
        describe(registry.municipality()),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::FAILURE)
}

/// Loads the national key and checks every registry given trusts it.
fn load_national(path: &Path, variable: Option<&str>, registries: &[&Registry]) -> Result<Signer> {
    let signer = crate::key::load_signer(path, variable)?;
    if signer.kind() != KeyKind::Ed25519 {
        bail!("{} is a witness key, not the national key", path.display());
    }
    for registry in registries {
        if signer.verifier() != *registry.national() {
            bail!(
                "{} ({}) is not the national key of the registry of {}. Nothing was signed",
                path.display(),
                signer.name(),
                describe(registry.municipality())
            );
        }
    }
    Ok(signer)
}

fn parse_resident(text: &str) -> Result<ResidentCode> {
    ResidentCode::parse(text).map_err(|e| anyhow!("--resident: {e}"))
}

/// The change that made a resident's current record, with its exact note and log index.
fn current_change(
    registry: &Registry,
    code: ResidentCode,
) -> Result<(u64, Vec<u8>, registry_core::event::Change)> {
    let (index, note) = registry.current_event(code)?.ok_or_else(|| {
        anyhow!(
            "no resident {code} is recorded in the registry of {}. Nothing was signed",
            describe(registry.municipality())
        )
    })?;
    let parsed = Note::parse(&note).context("the stored event is not a signed note")?;
    match Event::parse(parsed.text()) {
        Ok(Event::Change(change)) => Ok((index, note, change)),
        _ => bail!("the stored event {index} is not a change; run `juki registry verify`"),
    }
}

pub fn run_move(command: MoveCommand) -> Result<ExitCode> {
    match command {
        MoveCommand::Certify { national_key, from_registry, resident, out, passphrase_env } => {
            let code = parse_resident(&resident)?;
            let registry = RegistryDir::open(&from_registry)?.registry()?;
            let from = registry.municipality();
            let (index, note, change) = current_change(&registry, code)?;
            if let Some(out) = &out
                && out.exists()
            {
                bail!("{} already exists; choose another file", out.display());
            }
            let certificate = MoveOutCertificate::from_move_out(&note, &change, crate::now())
                .map_err(|e| {
                    anyhow!(
                        "resident {code}'s record in {} was not closed by a move-out to \
                             another municipality: {e}. Nothing was signed",
                        describe(from)
                    )
                })?;
            let signer = load_national(&national_key, passphrase_env.as_deref(), &[&registry])?;
            let mut signed =
                Note::new(certificate.to_text()).context("the certificate cannot be signed")?;
            signed.sign(&signer).with_context(|| format!("signing with {}", signer.name()))?;
            let bytes = signed.to_bytes();
            match &out {
                Some(out) => {
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(out)
                        .with_context(|| format!("creating {}", out.display()))?;
                    file.write_all(&bytes)?;
                    file.sync_all()?;
                }
                None => std::io::stdout().write_all(&bytes)?,
            }
            eprintln!(
                "certified the move of resident {code} from {} to {} (move-out event {index}), \
                 signed by {}; the municipality moved to records it with `juki resident move-in \
                 --move-out FILE`",
                describe(from),
                describe(certificate.to),
                signer.name()
            );
            Ok(ExitCode::SUCCESS)
        }
        MoveCommand::Activate {
            national_key,
            from_registry,
            resident,
            to,
            out,
            passphrase_env,
        } => {
            let code = parse_resident(&resident)?;
            let registry = RegistryDir::open(&from_registry)?.registry()?;
            let from = registry.municipality();
            let to = to.map(|to| parse_municipality("--to", &to)).transpose()?.unwrap_or(from);
            let (index, note, change) = current_change(&registry, code)?;
            if change.record.status == RecordStatus::Active {
                bail!(
                    "resident {code}'s record in {} is active: a code is certified for a new \
                     activation only once its record is closed. Nothing was signed",
                    describe(from)
                );
            }
            if out.exists() {
                bail!("{} already exists; choose another file", out.display());
            }
            let certificate = ActivationCertificate {
                municipality: to,
                resident: code,
                from,
                after: note_hash(&note),
                time: crate::now(),
            };
            let signer = load_national(&national_key, passphrase_env.as_deref(), &[&registry])?;
            let mut signed =
                Note::new(certificate.to_text()).context("the certificate cannot be signed")?;
            signed.sign(&signer).with_context(|| format!("signing with {}", signer.name()))?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            file.write_all(&signed.to_bytes())?;
            file.sync_all()?;
            eprintln!(
                "certified that resident {code} is active nowhere after event {index} of {}, for \
                 {}, signed by {}; record the change with `--activation {}` within 30 days",
                describe(from),
                describe(to),
                signer.name(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        MoveCommand::Notice {
            national_key,
            from_registry,
            to_registry,
            resident,
            passphrase_env,
        } => {
            let code = parse_resident(&resident)?;
            let mut from = RegistryDir::open(&from_registry)?.registry()?;
            let to = RegistryDir::open(&to_registry)?.registry()?;
            let (index, note, change) = current_change(&to, code)?;
            let (ChangeReason::MoveIn, Some(embedded)) = (change.reason(), &change.move_out) else {
                bail!(
                    "resident {code}'s current record in {} was not made by a move-in from \
                     another municipality (it is {}); there is no move to notify. Nothing was \
                     recorded",
                    describe(to.municipality()),
                    change.reason().code()
                );
            };
            let known: tlog::note::Verifiers = [to.national().clone()].into_iter().collect();
            let opened = tlog::note::open(embedded.as_bytes(), &known)
                .context("the move-in's certificate does not verify with the national key")?;
            let certificate = MoveOutCertificate::parse(opened.text())
                .context("the move-in's certificate does not parse")?;
            if certificate.from != from.municipality() {
                bail!(
                    "resident {code} moved in to {} from {}, not from {}. Nothing was recorded",
                    describe(to.municipality()),
                    describe(certificate.from),
                    describe(from.municipality())
                );
            }
            let signer = load_national(&national_key, passphrase_env.as_deref(), &[&from, &to])?;
            let notice = Event::MoveNotice(MoveNotice {
                municipality: from.municipality(),
                resident: code,
                to: to.municipality(),
                event: certificate.event,
                move_in: note_hash(&note),
                time: crate::now(),
            });
            let applied = submit(&mut from, &sign(&notice, &[&signer])?)?;
            println!(
                "recorded the move-in notice for resident {code} in {} as event {}: the move to \
                 {} (its event {index}) is complete",
                describe(from.municipality()),
                applied.index,
                describe(to.municipality())
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
