//! `juki resident`: recording changes to residents' identity records (本人確認情報), and showing,
//! listing and searching them. Every read of personal data (`show`, `history`, `search`) is a
//! read request (`juki.read/v1`) signed with the reader's operator key and recorded as a
//! provision naming them before anything is shown: at a town's node through its office API
//! (`--network`), or, for a registry directory's own administration while no node serves it
//! (`--dir`), in the directory's provision journal, which the node publishes when it next runs.
//!
//! Every change is a `juki.change/v1` event carrying the whole record after the change, built
//! here from the current record (read from the signed event that made it), signed by the
//! operator's key (`--key`, the one key a process loads) and submitted to the registry, which
//! decides it by the rules and records it in one transaction. A change that needs two people
//! is written instead, signed by the first, as a proposal (`--propose-out FILE`) once the
//! rules found nothing else missing; the second person approves it in a process of their own
//! (`juki resident approve`), which signs the same text and submits it. A refused change
//! records nothing. A move-in from another municipality carries the move-out certificate
//! (`juki move certify`) as it was signed.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use clap::{ArgGroup, Subcommand, ValueEnum};
use registry_core::event::{Change, Event};
use registry_core::moves::MoveOutCertificate;
use registry_core::rules::Refusal;
use registry_domain::{
    Address, ChangeInfo, ChangeReason, Date, FormerSurname, IdentityRecordParts, IndividualNumber,
    MunicipalityCode, Name, NameReading, PersonName, ReasonFamily, RecordStatus, ResidentCode, Sex,
};
use registry_store::{Registry, StoreError};
use tlog::note::{Note, Signer};
use zeroize::Zeroizing;

use crate::registry_cmd::{describe, parse_municipality, refused, sign, submit, write_new};
use registry_store::dir::RegistryDir;
use wire::read::{ReadKind, ReadRequest};

/// Who signs a change, where, and when it takes effect.
#[derive(clap::Args)]
pub struct Signing {
    /// The registry directory.
    #[arg(long)]
    dir: PathBuf,
    /// Your operator key file, the one key this command loads. Its passphrase comes from
    /// JUKI_PASSPHRASE or a prompt.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// For a change that needs two people (消除, death, corrections other than a move or of the
    /// former surname, name changes, code changes, cancellations): check it and write it,
    /// signed by you alone, to FILE as a proposal instead of recording it. A second person —
    /// a supervisor if you are not one — approves it from their own session with `juki
    /// resident approve --dir DIR --key THEIR_KEY FILE` within 10 minutes.
    #[arg(long, value_name = "FILE")]
    propose_out: Option<PathBuf>,
    /// The date the change takes effect (異動年月日), YYYY-MM-DD. Default: today (UTC); for a
    /// birth, the date of birth.
    #[arg(long, value_name = "DATE")]
    effective: Option<String>,
}

/// The identity fields of a person entering the register.
#[derive(clap::Args)]
pub struct Identity {
    /// 氏名: the name as in the family register, e.g. "熊谷 花子".
    #[arg(long)]
    name: String,
    /// フリガナ: the reading in katakana, family and given name separated by one space, e.g.
    /// "クマガイ ハナコ".
    #[arg(long)]
    reading: String,
    /// 生年月日: the date of birth, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    birth: String,
    /// 性別: 1 or male (男), 2 or female (女).
    #[arg(long)]
    sex: String,
    /// 住所: the address in this municipality after its name, e.g. "大字智里 1234番地".
    #[arg(long)]
    address: String,
    /// 個人番号: the 12-digit individual number, if known.
    #[arg(long, value_name = "DIGITS")]
    individual_number: Option<String>,
    /// 旧氏: a former surname to record, with --former-reading.
    #[arg(long, requires = "former_reading")]
    former_name: Option<String>,
    /// The former surname's reading in katakana.
    #[arg(long, requires = "former_name")]
    former_reading: Option<String>,
}

/// Fields a correction may change; each is optional.
#[derive(clap::Args)]
pub struct Fields {
    /// The corrected name (氏名).
    #[arg(long)]
    name: Option<String>,
    /// The corrected reading (フリガナ), in katakana.
    #[arg(long)]
    reading: Option<String>,
    /// The corrected date of birth, YYYY-MM-DD.
    #[arg(long, value_name = "DATE")]
    birth: Option<String>,
    /// The corrected sex: 1 or male, 2 or female.
    #[arg(long)]
    sex: Option<String>,
    /// The corrected address in this municipality (after its name).
    #[arg(long)]
    address: Option<String>,
    /// The corrected 12-digit individual number (個人番号).
    #[arg(long, value_name = "DIGITS")]
    individual_number: Option<String>,
    /// The former surname (旧氏) to record.
    #[arg(long)]
    former_name: Option<String>,
    /// The former surname's reading, in katakana.
    #[arg(long)]
    former_reading: Option<String>,
    /// Remove the recorded former surname (with --kind former-surname).
    #[arg(long, conflicts_with_all = ["former_name", "former_reading"])]
    clear_former: bool,
}

/// Which correction (修正) is recorded.
#[derive(Clone, Copy, ValueEnum)]
pub enum CorrectionKind {
    /// 誤記修正: a clerical error corrected (any field; two operators).
    Clerical,
    /// 職権修正: corrected by the mayor's authority (any field; two operators).
    ExOfficio,
    /// 軽微な修正: a minor correction, e.g. an address renamed (any field; two operators).
    Minor,
    /// 氏名の変更: a change of name notified by the family-register office (name, reading and
    /// former surname only; two operators).
    NameChange,
    /// 旧氏の記載・変更・削除: the former surname entered, changed or removed (--clear-former);
    /// one operator.
    FormerSurname,
}

#[derive(Subcommand)]
pub enum ResidentCommand {
    /// 出生: record a birth. Draws a new resident code from the town's pool and prints it.
    ///
    /// Example: juki resident birth --dir D --key tanaka.key --name "熊谷 花子" --reading
    /// "クマガイ ハナコ" --birth 2026-11-20 --sex 2 --address "大字智里 1234番地"
    Birth {
        #[command(flatten)]
        signing: Signing,
        #[command(flatten)]
        identity: Identity,
    },
    /// 転入: record a person moving in from another municipality, with the move-out
    /// certificate (--move-out FILE, from `juki move certify`), or from abroad (--from-abroad).
    /// The person keeps their resident code (--code); a former resident who moved away and
    /// comes back continues their record. The code, name, reading, former surname, date of
    /// birth and sex must be those the certificate states.
    MoveIn {
        #[command(flatten)]
        signing: Signing,
        /// The person's resident code (住民票コード), from the move-out certificate.
        #[arg(long)]
        code: String,
        #[command(flatten)]
        identity: Identity,
        /// The move-out certificate (転出証明書情報): the signed `juki.move-out/v1` file the
        /// national node issued for the move out of the previous municipality.
        #[arg(long, value_name = "FILE", conflicts_with = "from_abroad")]
        move_out: Option<PathBuf>,
        /// The person comes from abroad (国外転入); no move-out certificate.
        #[arg(long)]
        from_abroad: bool,
        /// For a move-in from abroad under a code already used (a former resident coming
        /// back, or a code another municipality gave): the national key's activation
        /// certificate (`juki.activation/v1`, from the signer, or `juki move activate`).
        #[arg(long, value_name = "FILE", requires = "from_abroad")]
        activation: Option<PathBuf>,
    },
    /// 転出: record a resident moving out to another municipality (--to CODE) or abroad
    /// (--abroad). Closes the record; needs two operators.
    #[command(group(ArgGroup::new("destination").required(true).args(["to", "abroad"])))]
    MoveOut {
        #[command(flatten)]
        signing: Signing,
        /// The resident code.
        #[arg(long)]
        code: String,
        /// The municipality moved to, e.g. 202029.
        #[arg(long, value_name = "MUNICIPALITY")]
        to: Option<String>,
        /// The resident moves abroad (国外転出).
        #[arg(long)]
        abroad: bool,
    },
    /// 転居: record a move within the municipality: only the address changes.
    Move {
        #[command(flatten)]
        signing: Signing,
        /// The resident code.
        #[arg(long)]
        code: String,
        /// The new address in this municipality (after its name).
        #[arg(long)]
        address: String,
    },
    /// 死亡: record a death. Closes the record; needs two operators.
    Death {
        #[command(flatten)]
        signing: Signing,
        /// The resident code.
        #[arg(long)]
        code: String,
    },
    /// 修正: correct an active record. Give the kind and the fields that change.
    Correct {
        #[command(flatten)]
        signing: Signing,
        /// The resident code.
        #[arg(long)]
        code: String,
        /// Which correction.
        #[arg(long, value_enum)]
        kind: CorrectionKind,
        #[command(flatten)]
        fields: Fields,
    },
    /// 異動の取消し: cancel the latest change to a record; needs two operators.
    ///
    /// If the record is closed (a move out, a death), it is reopened unchanged
    /// (cancellation-entry, 異動の取消し（増）). If it is open and the latest change entered it (a
    /// birth, a move in, a reopening), it is closed again (cancellation-deletion,
    /// 異動の取消し（減）). If it is open and the latest change corrected it (a move, a
    /// correction, a name change), the fields are restored to what they were before
    /// (cancellation-correction, 異動の取消し（修正）). A resident-code change cannot be
    /// cancelled.
    Cancel {
        #[command(flatten)]
        signing: Signing,
        /// The resident code.
        #[arg(long)]
        code: String,
        /// To reopen a closed record: the national key's activation certificate
        /// (`juki.activation/v1`, from the signer, or `juki move activate`), its word that the
        /// code is active in no municipality.
        #[arg(long, value_name = "FILE")]
        activation: Option<PathBuf>,
    },
    /// 住民票コードの変更請求: give a resident a new code, drawn from the pool; the old code is
    /// retired for good. Needs two operators. Prints the new code.
    CodeChange {
        #[command(flatten)]
        signing: Signing,
        /// The resident's current code.
        #[arg(long)]
        code: String,
    },
    /// Approve a change another operator proposed (`--propose-out FILE`), from your own
    /// session: signs exactly the proposed text with your key and records the change with both
    /// signatures. You cannot approve a proposal you signed, and one of the two must be a
    /// supervisor. Prints what was recorded.
    ///
    /// Example: juki resident approve --dir D --key suzuki.key death.proposal
    Approve {
        /// The registry directory.
        #[arg(long)]
        dir: PathBuf,
        /// Your operator key file, the one key this command loads. Its passphrase comes from
        /// JUKI_PASSPHRASE or a prompt.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The proposal file.
        #[arg(value_name = "FILE")]
        proposal: PathBuf,
    },
    /// Show a resident's current record: a read of personal data, signed with your operator
    /// key and recorded as a provision naming you before anything is shown.
    ///
    /// Example: juki resident show --network NET --town 204072 --key tanaka.key --purpose
    /// 窓口での本人確認 --code 20407200072
    Show {
        #[command(flatten)]
        reading: Reading,
        /// The resident code.
        #[arg(long)]
        code: String,
    },
    /// List every snapshot of a resident's record, oldest first (履歴), from a registry
    /// directory: a read of personal data, signed with your operator key and recorded as a
    /// provision naming you (only offline, `--dir`: the office API serves current records).
    History {
        #[command(flatten)]
        reading: Reading,
        /// The resident code.
        #[arg(long)]
        code: String,
    },
    /// Search residents by reading or name (width, kana and old kanji folded; a prefix
    /// matches), and by date of birth: a read of personal data, signed with your operator key;
    /// every resident found is recorded as a provision naming you before anything is shown.
    #[command(group(ArgGroup::new("criteria").required(true).multiple(true).args(["reading_text", "name", "birth"])))]
    Search {
        #[command(flatten)]
        reading: Reading,
        /// A reading (katakana or hiragana), or its beginning.
        #[arg(long = "reading", id = "reading_text", value_name = "TEXT", conflicts_with = "name")]
        reading_text: Option<String>,
        /// A name, or its beginning.
        #[arg(long)]
        name: Option<String>,
        /// The date of birth, YYYY-MM-DD.
        #[arg(long, value_name = "DATE")]
        birth: Option<String>,
        /// At most this many results (1 to 100).
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Where a read of personal data goes, who signs it and why. Every read is a read request
/// (`juki.read/v1`) signed with the reader's one operator key and recorded as a provision
/// naming them before anything is shown.
#[derive(clap::Args)]
#[command(group(ArgGroup::new("place").required(true).args(["network", "node", "dir"])))]
pub struct Reading {
    /// The network directory (its network.json, as `juki demo` writes it): the read goes to
    /// the node of --town through its office API with the town's console certificate; the
    /// node checks your signature and records the read, and the answer's evidence is checked
    /// against the town's registration.
    #[arg(long, value_name = "DIR", requires = "town")]
    network: Option<PathBuf>,
    /// The town (its municipality code) whose office API is read, with --network or --node;
    /// the node must present that town's certificate (urn:juki:municipal:CODE).
    #[arg(long, value_name = "CODE")]
    town: Option<String>,
    /// The town's office API, e.g. https://achi.example:8443, called with the console's
    /// certificate as `juki office` calls it (--console-cert, --console-key, --ca, --crl); the
    /// answer's evidence is checked against the town's registration (--registration).
    #[arg(
        long,
        value_name = "URL",
        requires_all = ["town", "console_cert", "console_key", "ca", "registration"]
    )]
    node: Option<String>,
    /// With --node: the console's certificate (urn:juki:console:CODE).
    #[arg(long, value_name = "FILE", requires = "node")]
    console_cert: Option<PathBuf>,
    /// With --node: the console certificate's key.
    #[arg(long, value_name = "FILE", requires = "node")]
    console_key: Option<PathBuf>,
    /// With --node: the network's CA certificate.
    #[arg(long, value_name = "FILE", requires = "node")]
    ca: Option<PathBuf>,
    /// With --node: the CA's revocation list, to refuse a revoked node.
    #[arg(long, value_name = "FILE", requires = "node")]
    crl: Option<PathBuf>,
    /// With --node: the town's registration as the network registered it (JSON: municipality,
    /// origin, vkey, witnesses, quorum, admin — one of `towns` in a network.json), with which
    /// every record's evidence is checked.
    #[arg(long, value_name = "FILE", requires = "node")]
    registration: Option<PathBuf>,
    /// A registry directory, for its own administration while no node serves it: your key
    /// must be an operator enrolled there and not revoked, and the read is recorded in the
    /// directory's provision journal (node.db), which the town's node publishes, witnessed,
    /// when it next runs.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Your operator key file, the one key this command loads. Its passphrase comes from
    /// JUKI_PASSPHRASE or a prompt.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Why you read, on one line (at most 200 bytes): recorded with the read.
    #[arg(long)]
    purpose: String,
}

fn parse_code(text: &str) -> Result<ResidentCode> {
    ResidentCode::parse(text).map_err(|e| anyhow!("--code: {e}"))
}

fn parse_date(flag: &str, text: &str) -> Result<Date> {
    Date::parse(text).map_err(|e| anyhow!("{flag}: {e}"))
}

fn parse_sex(text: &str) -> Result<Sex> {
    match text.trim() {
        "1" | "male" | "m" | "男" => Ok(Sex::Male),
        "2" | "female" | "f" | "女" => Ok(Sex::Female),
        _ => bail!("--sex is 1 or male (男), 2 or female (女)"),
    }
}

fn parse_name(text: &str) -> Result<PersonName> {
    PersonName::new(text).map_err(|e| anyhow!("--name: {e}"))
}

fn parse_reading(flag: &str, text: &str) -> Result<NameReading> {
    NameReading::new(text).map_err(|e| anyhow!("{flag}: {e}"))
}

fn parse_address(municipality: MunicipalityCode, text: &str) -> Result<Address> {
    Address::new(municipality, text).map_err(|e| anyhow!("--address: {e}"))
}

fn parse_individual_number(text: &str) -> Result<IndividualNumber> {
    IndividualNumber::parse(text).map_err(|e| anyhow!("--individual-number: {e}"))
}

fn former(name: Option<&str>, reading: Option<&str>) -> Result<Option<FormerSurname>> {
    match (name, reading) {
        (Some(name), Some(reading)) => Ok(Some(FormerSurname::new(
            PersonName::new(name).map_err(|e| anyhow!("--former-name: {e}"))?,
            parse_reading("--former-reading", reading)?,
        ))),
        (None, None) => Ok(None),
        _ => bail!("a former surname (--former-name) comes with its reading (--former-reading)"),
    }
}

/// Today's date (UTC), the default effective date.
fn today() -> Result<Date> {
    Ok(Date::parse(&crate::now().date_text())?)
}

impl Signing {
    fn effective(&self) -> Result<Date> {
        match &self.effective {
            Some(text) => parse_date("--effective", text),
            None => today(),
        }
    }
}

impl Identity {
    /// The record of a person entering the register for `reason`.
    fn record(
        &self,
        municipality: MunicipalityCode,
        code: ResidentCode,
        reason: ChangeReason,
        effective: Date,
        history_number: registry_domain::HistoryNumber,
    ) -> Result<IdentityRecordParts> {
        let name = Name::new(
            parse_name(&self.name)?,
            parse_reading("--reading", &self.reading)?,
            former(self.former_name.as_deref(), self.former_reading.as_deref())?,
        );
        Ok(IdentityRecordParts {
            resident_code: code,
            name,
            birth_date: parse_date("--birth", &self.birth)?,
            sex: parse_sex(&self.sex)?,
            address: parse_address(municipality, &self.address)?,
            individual_number: self
                .individual_number
                .as_deref()
                .map(parse_individual_number)
                .transpose()?,
            latest_change: ChangeInfo::new(reason, effective),
            history_number,
            status: RecordStatus::Active,
        })
    }
}

/// The snapshot after `current` for `reason`, with the identity fields unchanged.
pub fn next_snapshot(
    current: &IdentityRecordParts,
    reason: ChangeReason,
    effective: Date,
) -> Result<IdentityRecordParts> {
    current.next_snapshot(reason, effective).context("the record's history is full")
}

fn current_record(registry: &Registry, code: ResidentCode) -> Result<IdentityRecordParts> {
    registry.resident(code)?.ok_or_else(|| {
        anyhow!(
            "no resident with this code is recorded in {}; check the code (`juki code check`) or \
             find the resident with `juki resident search`. Nothing was recorded",
            describe(registry.municipality())
        )
    })
}

/// Loads an operator's key file. A sealed file's passphrase comes from JUKI_PASSPHRASE or, on
/// a terminal, a prompt.
pub fn load_operator_key(path: &Path, flag: &str) -> Result<Signer> {
    let variable = crate::passphrase::DEFAULT_VARIABLE;
    let secret = if keyfile::is_sealed(path)? {
        let passphrase = match std::env::var(variable) {
            Ok(value) if !value.is_empty() => Zeroizing::new(value),
            _ if std::io::stdin().is_terminal() => Zeroizing::new(rpassword::prompt_password(
                format!("Passphrase for your key {}: ", path.display()),
            )?),
            _ => bail!(
                "{flag} {} is passphrase-protected and there is no terminal to ask on; set \
                 {variable}",
                path.display()
            ),
        };
        keyfile::read(path, Some(&passphrase))?
    } else {
        keyfile::read(path, None)?
    };
    Signer::parse(&secret)
        .with_context(|| format!("{flag} {} does not hold a juki signing key", path.display()))
}

/// Refuses to approve a proposal `operator`'s key already signed: the second signature must be
/// a second person's.
pub fn not_signed_by(note: &Note, operator: &Signer, path: &Path) -> Result<()> {
    if note.signatures().iter().any(|s| s.name == operator.name() && s.id == operator.id()) {
        bail!(
            "--key {}: your key ({}) already signed this proposal; a second person approves it \
             with their own key in their own session. Nothing was recorded",
            path.display(),
            operator.name()
        );
    }
    Ok(())
}

/// The key `signer` (given with `flag` as `path`) must be an operator enrolled here and not
/// revoked.
fn check_enrolled(registry: &Registry, flag: &str, path: &Path, signer: &Signer) -> Result<()> {
    let operators = registry.operators()?;
    match operators.iter().find(|o| o.key == signer.verifier()) {
        None => bail!(
            "{flag} {}: the key {} is not an operator enrolled in {}'s registry (see `juki \
             operator list`). Nothing was recorded",
            path.display(),
            signer.name(),
            describe(registry.municipality())
        ),
        Some(o) if o.revoked => bail!(
            "{flag} {}: the operator key {} was revoked and can sign nothing more. Nothing was \
             recorded",
            path.display(),
            signer.name()
        ),
        Some(_) => Ok(()),
    }
}

/// The error for a change that needs two people but was not written as a proposal.
fn needs_a_proposal(reason: ChangeReason) -> anyhow::Error {
    anyhow!(
        "{} ({}) needs two different operators, one of them a supervisor: write it as a \
         proposal with --propose-out FILE, and a second person approves it in their own session \
         with `juki resident approve --dir DIR --key THEIR_KEY FILE`. Nothing was recorded",
        reason.code(),
        reason.label()
    )
}

/// Prints what a change records (or proposes).
fn print_change(change: &Change, note_lines: &[String]) {
    let record = &change.record;
    let reason = change.reason();
    println!("resident {}", record.resident_code);
    println!("history {}", record.history_number);
    println!("reason {} {}", reason.code(), reason.label());
    println!("effective {}", record.latest_change.date());
    if let Some(previous) = change.previous_code {
        println!("previous-code {previous}");
    }
    if let Some(to) = change.moved_to {
        println!("moved-to {}", describe(to));
    }
    for line in note_lines {
        println!("{line}");
    }
}

/// Signs the change with the operator's key and submits it, or, for a change that needs two
/// people, writes it as a proposal; prints what was recorded or proposed.
fn sign_and_submit(
    registry: &mut Registry,
    signing: &Signing,
    mut change: Change,
    note_lines: &[String],
) -> Result<ExitCode> {
    let reason = change.reason();
    match (reason.needs_two_operators(), &signing.propose_out) {
        (true, None) => return Err(needs_a_proposal(reason)),
        (false, Some(_)) => bail!(
            "{} ({}) needs one operator: record it without --propose-out. Nothing was written",
            reason.code(),
            reason.label()
        ),
        (true, Some(out)) if out.exists() => {
            bail!("{} already exists; choose another file. Nothing was written", out.display())
        }
        _ => {}
    }
    let key = load_operator_key(&signing.key, "--key")?;
    check_enrolled(registry, "--key", &signing.key, &key)?;
    let now = crate::now();
    change.time = now;
    let note = sign(&Event::Change(change.clone()), &[&key])?;
    let Some(out) = &signing.propose_out else {
        let applied = submit(registry, &note)?;
        print_change(&change, note_lines);
        println!("event {}", applied.index);
        return Ok(ExitCode::SUCCESS);
    };
    // Everything but the second person is checked now: a proposal is written only if the one
    // thing it lacks is an approval.
    match registry.check(&note, now) {
        Err(StoreError::Refused(Refusal::SecondOperatorMissing { signed: 1, .. })) => {}
        Ok(_) => bail!("the change needs no second operator. Nothing was written"),
        Err(StoreError::Refused(refusal)) => return Err(refused(&refusal)),
        Err(other) => return Err(other.into()),
    }
    write_new(out, &note)?;
    print_change(&change, note_lines);
    println!("proposed-by {}", key.name());
    println!("proposal {}", out.display());
    eprintln!(
        "proposed: nothing is recorded until a second person{} approves it in their own session \
         within 10 minutes: juki resident approve --dir {} --key THEIR_KEY {}",
        if registry
            .operators()?
            .iter()
            .any(|o| o.key == key.verifier() && o.role == registry_core::event::Role::Supervisor)
        {
            ""
        } else {
            ", a supervisor,"
        },
        signing.dir.display(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A proposal file: its note and the change it proposes.
fn read_proposal(path: &Path) -> Result<(Note, Change)> {
    let size =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > 1 << 20 {
        bail!("{} is {size} bytes: not a proposal", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let note = Note::parse(&bytes).with_context(|| {
        format!("{} is not a signed note (a proposal from --propose-out)", path.display())
    })?;
    match Event::parse(note.text()) {
        Ok(Event::Change(change)) => Ok((note, change)),
        _ => bail!(
            "{} is not a proposed change (a juki.change/v1 from --propose-out)",
            path.display()
        ),
    }
}

/// `juki resident approve`: the second person's signature on a proposal, recorded.
fn approve(dir: &Path, key_path: &Path, proposal: &Path) -> Result<ExitCode> {
    let registry_dir = RegistryDir::open(dir)?;
    let mut registry = registry_dir.registry()?;
    let (mut note, change) = read_proposal(proposal)?;
    let reason = change.reason();
    if !reason.needs_two_operators() {
        bail!(
            "{} proposes {} ({}), which needs one operator and no approval. Nothing was recorded",
            proposal.display(),
            reason.code(),
            reason.label()
        );
    }
    let key = load_operator_key(key_path, "--key")?;
    check_enrolled(&registry, "--key", key_path, &key)?;
    not_signed_by(&note, &key, key_path)?;
    let proposed_by: Vec<String> = note.signatures().iter().map(|s| s.name.clone()).collect();
    note.sign(&key).with_context(|| format!("signing with {}", key.name()))?;
    let applied = submit(&mut registry, &note.to_bytes())?;
    print_change(&change, &[]);
    for name in proposed_by {
        println!("proposed-by {name}");
    }
    println!("approved-by {}", key.name());
    println!("event {}", applied.index);
    Ok(ExitCode::SUCCESS)
}

pub fn run(command: ResidentCommand) -> Result<ExitCode> {
    match command {
        ResidentCommand::Birth { signing, identity } => {
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let birth = parse_date("--birth", &identity.birth)?;
            let effective = match &signing.effective {
                Some(text) => parse_date("--effective", text)?,
                None => birth,
            };
            // Validate the input before drawing a code.
            let placeholder = ResidentCode::from_ten_digits(0).expect("a valid base");
            identity.record(
                registry.municipality(),
                placeholder,
                ChangeReason::Birth,
                effective,
                registry_domain::HistoryNumber::FIRST,
            )?;
            let code = registry.draw_fresh_code()?;
            let record = identity.record(
                registry.municipality(),
                code,
                ChangeReason::Birth,
                effective,
                registry_domain::HistoryNumber::FIRST,
            )?;
            record_change(&mut registry, &signing, record, None, None, &[])
        }
        ResidentCommand::MoveIn { signing, code, identity, move_out, from_abroad, activation } => {
            let activation = activation.as_deref().map(read_activation).transpose()?;
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let code = parse_code(&code)?;
            let certificate = match (&move_out, from_abroad) {
                (Some(path), false) => Some(read_move_out(path)?),
                (None, true) => None,
                _ => bail!(
                    "a move-in from another municipality (国内転入) needs the move-out certificate: \
                     --move-out FILE, issued by the national node (`juki move certify`); for a \
                     move-in from abroad give --from-abroad. Nothing was recorded"
                ),
            };
            let reason =
                if from_abroad { ChangeReason::MoveInFromAbroad } else { ChangeReason::MoveIn };
            let history_number = match registry.resident(code)? {
                None => registry_domain::HistoryNumber::FIRST,
                Some(current) if current.status == RecordStatus::Active => bail!(
                    "the person with this code is already a resident of {}. Nothing was recorded",
                    describe(registry.municipality())
                ),
                Some(current) => {
                    current.history_number.next().context("the record's history is full")?
                }
            };
            let record = identity.record(
                registry.municipality(),
                code,
                reason,
                signing.effective()?,
                history_number,
            )?;
            let lines: Vec<String> = certificate
                .iter()
                .map(|(_, c)| format!("moved-in-from {}", describe(c.from)))
                .collect();
            let change = Change {
                municipality: registry.municipality(),
                record,
                previous_code: None,
                moved_to: None,
                move_out: certificate.map(|(note, _)| note),
                activation,
                time: crate::now(),
            };
            sign_and_submit(&mut registry, &signing, change, &lines)
        }
        ResidentCommand::MoveOut { signing, code, to, abroad } => {
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let code = parse_code(&code)?;
            let (reason, to) = match (to, abroad) {
                (Some(to), false) => {
                    (ChangeReason::MoveOut, Some(parse_municipality("--to", &to)?))
                }
                (None, true) => (ChangeReason::MoveOutAbroad, None),
                _ => bail!("give the destination: --to MUNICIPALITY or --abroad"),
            };
            if to == Some(registry.municipality()) {
                bail!(
                    "--to is this municipality; a move within it is `juki resident move`. \
                     Nothing was recorded"
                );
            }
            let current = current_record(&registry, code)?;
            let next = next_snapshot(&current, reason, signing.effective()?)?;
            record_change(&mut registry, &signing, next, None, to, &[])
        }
        ResidentCommand::Move { signing, code, address } => {
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let code = parse_code(&code)?;
            let current = current_record(&registry, code)?;
            let mut next = next_snapshot(&current, ChangeReason::MoveWithin, signing.effective()?)?;
            next.address = parse_address(registry.municipality(), &address)?;
            if next.address == current.address {
                bail!("--address is the address already recorded. Nothing was recorded");
            }
            record_change(&mut registry, &signing, next, None, None, &[])
        }
        ResidentCommand::Death { signing, code } => {
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let code = parse_code(&code)?;
            let current = current_record(&registry, code)?;
            let next = next_snapshot(&current, ChangeReason::Death, signing.effective()?)?;
            record_change(&mut registry, &signing, next, None, None, &[])
        }
        ResidentCommand::Correct { signing, code, kind, fields } => {
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let code = parse_code(&code)?;
            let current = current_record(&registry, code)?;
            let next = correct(&registry, &current, kind, &fields, signing.effective()?)?;
            record_change(&mut registry, &signing, next, None, None, &[])
        }
        ResidentCommand::Cancel { signing, code, activation } => {
            let activation = activation.as_deref().map(read_activation).transpose()?;
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let code = parse_code(&code)?;
            let current = current_record(&registry, code)?;
            let history = registry.history(code)?;
            let next = cancellation(&current, &history, signing.effective()?)?;
            let line = format!(
                "cancelled {} {} of history {}",
                current.latest_change.reason().code(),
                current.latest_change.reason().label(),
                current.history_number
            );
            let change = Change {
                municipality: registry.municipality(),
                record: next,
                previous_code: None,
                moved_to: None,
                move_out: None,
                activation,
                time: crate::now(),
            };
            sign_and_submit(&mut registry, &signing, change, &[line])
        }
        ResidentCommand::CodeChange { signing, code } => {
            let dir = RegistryDir::open(&signing.dir)?;
            let mut registry = dir.registry()?;
            let code = parse_code(&code)?;
            let current = current_record(&registry, code)?;
            let mut next =
                next_snapshot(&current, ChangeReason::ResidentCodeChange, signing.effective()?)?;
            if current.status != RecordStatus::Active {
                bail!(
                    "the record is closed; a closed record changes only by a cancellation. \
                     Nothing was recorded"
                );
            }
            if signing.propose_out.is_none() {
                // Fail before drawing a code (the rules would refuse anyway).
                return Err(needs_a_proposal(ChangeReason::ResidentCodeChange));
            }
            next.resident_code = registry.draw_fresh_code()?;
            record_change(&mut registry, &signing, next, Some(code), None, &[])
        }
        ResidentCommand::Approve { dir, key, proposal } => approve(&dir, &key, &proposal),
        ResidentCommand::Show { reading, code } => {
            let code = parse_code(&code)?;
            let record = match reading.place()? {
                Place::Office(clerk, runtime) => runtime
                    .block_on(clerk.lookup_record(code, &reading.purpose))
                    .map_err(|e| office_refused(e, "Nothing was read"))?,
                Place::Offline(offline) => {
                    let record = current_record(&offline.registry, code)?;
                    offline.record(ReadKind::Lookup, &[code], &reading.purpose, None)?;
                    record
                }
            };
            show(&record);
            Ok(ExitCode::SUCCESS)
        }
        ResidentCommand::History { reading, code } => {
            let code = parse_code(&code)?;
            let Place::Offline(offline) = reading.place()? else {
                bail!(
                    "the office API serves current records only: read a resident's history from \
                     the registry directory (--dir) with your operator key"
                );
            };
            current_record(&offline.registry, code)?;
            let history = offline.registry.history(code)?;
            offline.record(ReadKind::Lookup, &[code], &reading.purpose, Some("history"))?;
            for snapshot in history {
                println!("{}", history_line(&snapshot));
            }
            Ok(ExitCode::SUCCESS)
        }
        ResidentCommand::Search { reading, reading_text, name, birth, limit } => {
            let birth = birth.as_deref().map(|b| parse_date("--birth", b)).transpose()?;
            let text = reading_text.or(name);
            if let Some(text) = &text
                && text.trim().is_empty()
            {
                bail!("the search text is empty; give a name or reading, or its beginning");
            }
            if !(1..=wire::read::MAX_SEARCH).contains(&limit) {
                bail!("--limit is 1 to {}", wire::read::MAX_SEARCH);
            }
            let found = match reading.place()? {
                Place::Office(clerk, runtime) => runtime
                    .block_on(clerk.search(text.as_deref(), birth, limit, &reading.purpose))
                    .map_err(|e| office_refused(e, "Nothing was read"))?,
                Place::Offline(offline) => {
                    let found = offline.registry.search(text.as_deref(), birth, limit as usize)?;
                    let codes: Vec<ResidentCode> = found.iter().map(|r| r.resident_code).collect();
                    let mut search = offline.request(ReadKind::Search, &reading.purpose)?;
                    search.text = text.clone();
                    search.birth = birth;
                    search.limit = Some(limit);
                    offline.record_request(&search, &codes, "search")?;
                    found
                }
            };
            if found.is_empty() {
                eprintln!("no resident matches");
            }
            for record in &found {
                println!(
                    "{}  {}  {}  {}  {}  {}",
                    record.resident_code,
                    record.name.name(),
                    record.name.reading(),
                    record.birth_date,
                    record.address.full_text(),
                    status_text(record.status)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Where a read goes: a town's office API, or a registry directory no node serves.
enum Place {
    Office(Box<client::office::Clerk>, tokio::runtime::Runtime),
    Offline(Box<Offline>),
}

impl Reading {
    fn place(&self) -> Result<Place> {
        let purpose = self.purpose.trim();
        if purpose.is_empty() || self.purpose.len() > 200 || self.purpose.contains('\n') {
            bail!("--purpose is why you read, on one line of at most 200 bytes. Nothing was read");
        }
        let operator = load_operator_key(&self.key, "--key")?;
        let office = |clerk| -> Result<Place> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            Ok(Place::Office(Box::new(clerk), runtime))
        };
        if let (Some(network), Some(town)) = (&self.network, &self.town) {
            parse_municipality("--town", town)?;
            let network = testbed::setup::Network::load(network)?;
            return office(testbed::setup::console_clerk(&network, town, operator)?);
        }
        if let (Some(url), Some(town), Some(cert), Some(key), Some(ca), Some(registration)) = (
            &self.node,
            &self.town,
            &self.console_cert,
            &self.console_key,
            &self.ca,
            &self.registration,
        ) {
            let town = parse_municipality("--town", town)?;
            let text = std::fs::read_to_string(registration)
                .with_context(|| format!("reading {}", registration.display()))?;
            let keys: wire::trust::TownKeys = serde_json::from_str(&text).with_context(|| {
                format!("{} is not a town's registration (JSON)", registration.display())
            })?;
            let files = net::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                ca: ca.clone(),
                crl: self.crl.clone(),
            };
            let clerk = client::office::Clerk::new(town, url, &files, operator, &[keys])
                .with_context(|| format!("the console of {}", describe(town)))?;
            return office(clerk);
        }
        let dir = self.dir.as_ref().context("--network or --dir")?;
        let opened = RegistryDir::open(dir)?;
        let registry = opened.registry()?;
        check_enrolled(&registry, "--key", &self.key, &operator)?;
        let town = opened.municipality;
        let identity = format!("urn:juki:municipal:{town}");
        Ok(Place::Offline(Box::new(Offline {
            journal: dir.join(node::logs::NODE_DB),
            registry,
            town,
            identity,
            operator,
        })))
    }
}

/// A read of a registry directory no node serves: signed with an enrolled operator's key and
/// recorded, like every read at the office, in the directory's provision journal (`node.db`)
/// before anything is shown; the town's node integrates, witnesses and publishes those records
/// with its own when it next runs.
struct Offline {
    registry: Registry,
    journal: PathBuf,
    town: MunicipalityCode,
    identity: String,
    operator: Signer,
}

impl Offline {
    fn request(&self, kind: ReadKind, purpose: &str) -> Result<ReadRequest> {
        Ok(ReadRequest {
            town: self.town,
            operator: self.operator.verifier(),
            kind,
            resident: None,
            keeper: None,
            text: None,
            birth: None,
            limit: None,
            purpose: purpose.to_owned(),
            time: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs(),
            nonce: client::office::read_nonce()?,
        })
    }

    /// Records the read of `codes` (one request for the one resident of a lookup).
    fn record(
        &self,
        kind: ReadKind,
        codes: &[ResidentCode],
        purpose: &str,
        recorded_as: Option<&str>,
    ) -> Result<()> {
        let mut request = self.request(kind, purpose)?;
        request.resident = codes.first().copied();
        self.record_request(&request, codes, recorded_as.unwrap_or(kind.as_str()))
    }

    /// Signs `request` and records one provision of each of `codes` under it, each naming the
    /// operator and carrying the signed request, the same rules deciding it as at the office.
    fn record_request(
        &self,
        request: &ReadRequest,
        codes: &[ResidentCode],
        kind: &str,
    ) -> Result<()> {
        let note = request.sign(&self.operator)?;
        let operators = self.registry.operators()?;
        let read = wire::read::open_at_home(&note, self.town, &operators, request.time)
            .map_err(|e| anyhow!("[{}] {e}. Nothing was read", e.code()))?;
        let mut journal = node::journal::Journal::open(&self.journal)?;
        let operator = read.request.operator.to_string();
        let time = request.time;
        for code in codes {
            journal.record(&wire::documents::Provision {
                kind,
                resident: &code.to_string(),
                by: &self.identity,
                to: OFFLINE_READER,
                source: None,
                purpose: &read.request.purpose,
                items: None,
                time,
                operator: Some(&operator),
                request: Some(&read.note),
            })?;
        }
        Ok(())
    }
}

/// Whom a provision record of an offline read names as the requester: the operator's console
/// is the registry directory itself, no certificate involved.
const OFFLINE_READER: &str = "offline";

/// The error for a node's refusal of a read, as the command line prints it (`[code] …`).
fn office_refused(error: anyhow::Error, what: &str) -> anyhow::Error {
    match error.downcast_ref::<client::Refused>() {
        Some(refused) => anyhow!("{refused}. {what}"),
        None => error,
    }
}

/// Wraps a record into a change and records it.
fn record_change(
    registry: &mut Registry,
    signing: &Signing,
    record: IdentityRecordParts,
    previous_code: Option<ResidentCode>,
    moved_to: Option<MunicipalityCode>,
    note_lines: &[String],
) -> Result<ExitCode> {
    let change = Change {
        municipality: registry.municipality(),
        record,
        previous_code,
        moved_to,
        move_out: None,
        activation: None,
        time: crate::now(),
    };
    sign_and_submit(registry, signing, change, note_lines)
}

/// An activation certificate file: its exact text (the signed note, carried into the change as
/// it is; the rules open and check it).
fn read_activation(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the activation certificate {}", path.display()))?;
    if !text.starts_with(registry_core::moves::ACTIVATION) {
        bail!(
            "{} is not an activation certificate (juki.activation/v1). Nothing was recorded",
            path.display()
        );
    }
    Ok(text)
}

/// A move-out certificate file: its exact text (the signed note, carried into the move-in as
/// it is) and what it says. Its signature is checked by the rules, over these bytes.
fn read_move_out(path: &Path) -> Result<(String, MoveOutCertificate)> {
    let size =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > 1 << 20 {
        bail!("--move-out {} is {size} bytes: not a move-out certificate", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let note = Note::parse(&bytes).with_context(|| {
        format!("--move-out {} is not a signed note (a move-out certificate)", path.display())
    })?;
    let certificate = MoveOutCertificate::parse(note.text()).with_context(|| {
        format!(
            "--move-out {} is a signed note, but not a move-out certificate (juki.move-out/v1)",
            path.display()
        )
    })?;
    let text = String::from_utf8(bytes).context("a signed note is UTF-8")?;
    Ok((text, certificate))
}

/// The record after a correction of `kind` with the given fields.
fn correct(
    registry: &Registry,
    current: &IdentityRecordParts,
    kind: CorrectionKind,
    fields: &Fields,
    effective: Date,
) -> Result<IdentityRecordParts> {
    let current_former = current.name.former().cloned();
    let former_given = fields.former_name.is_some() || fields.former_reading.is_some();
    let reason = match kind {
        CorrectionKind::Clerical => ChangeReason::ClericalCorrection,
        CorrectionKind::ExOfficio => ChangeReason::ExOfficioCorrection,
        CorrectionKind::Minor => ChangeReason::MinorCorrection,
        CorrectionKind::NameChange => ChangeReason::NameChange,
        CorrectionKind::FormerSurname if fields.clear_former => ChangeReason::FormerSurnameDeletion,
        CorrectionKind::FormerSurname if current_former.is_some() => {
            ChangeReason::FormerSurnameChange
        }
        CorrectionKind::FormerSurname => ChangeReason::FormerSurnameEntry,
    };
    let mut next = next_snapshot(current, reason, effective)?;
    let name = match &fields.name {
        Some(text) => parse_name(text)?,
        None => current.name.name().clone(),
    };
    let reading = match &fields.reading {
        Some(text) => parse_reading("--reading", text)?,
        None => current.name.reading().clone(),
    };
    let former = if fields.clear_former {
        if current_former.is_none() {
            bail!("--clear-former: no former surname is recorded. Nothing was recorded");
        }
        None
    } else if former_given {
        let name = match (&fields.former_name, &current_former) {
            (Some(text), _) => Some(text.clone()),
            (None, Some(f)) => Some(f.surname().to_string()),
            (None, None) => None,
        };
        let reading = match (&fields.former_reading, &current_former) {
            (Some(text), _) => Some(text.clone()),
            (None, Some(f)) => Some(f.reading().to_string()),
            (None, None) => None,
        };
        former(name.as_deref(), reading.as_deref())?
    } else {
        current_former.clone()
    };
    next.name = Name::new(name, reading, former);
    if let Some(text) = &fields.birth {
        next.birth_date = parse_date("--birth", text)?;
    }
    if let Some(text) = &fields.sex {
        next.sex = parse_sex(text)?;
    }
    if let Some(text) = &fields.address {
        next.address = parse_address(registry.municipality(), text)?;
    }
    if let Some(text) = &fields.individual_number {
        next.individual_number = Some(parse_individual_number(text)?);
    }
    let unchanged = next.name == current.name
        && next.birth_date == current.birth_date
        && next.sex == current.sex
        && next.address == current.address
        && next.individual_number == current.individual_number;
    if unchanged {
        bail!(
            "nothing to correct: give the fields that change (--name, --reading, --birth, --sex, \
             --address, --individual-number, --former-name, --former-reading or --clear-former) \
             with values other than those recorded. Nothing was recorded"
        );
    }
    Ok(next)
}

/// The cancellation of the latest change to a record (see `juki resident cancel --help`).
fn cancellation(
    current: &IdentityRecordParts,
    history: &[IdentityRecordParts],
    effective: Date,
) -> Result<IdentityRecordParts> {
    let latest = current.latest_change.reason();
    if current.status != RecordStatus::Active {
        return next_snapshot(current, ChangeReason::CancellationEntry, effective);
    }
    match latest.family() {
        ReasonFamily::Entry => {
            next_snapshot(current, ChangeReason::CancellationDeletion, effective)
        }
        ReasonFamily::Deletion => bail!("the record is open but its latest change closed it"),
        ReasonFamily::Correction => {
            if matches!(
                latest,
                ChangeReason::ResidentCodeChange | ChangeReason::ResidentCodeExOfficioEntry
            ) {
                bail!(
                    "the latest change is a resident-code change, which cannot be cancelled (the \
                     old code is retired for good); if needed, give the resident another new code \
                     with `juki resident code-change`. Nothing was recorded"
                );
            }
            let before = history
                .len()
                .checked_sub(2)
                .and_then(|i| history.get(i))
                .context("the record has no earlier snapshot to restore")?;
            let mut next = next_snapshot(current, ChangeReason::CancellationCorrection, effective)?;
            next.name = before.name.clone();
            next.birth_date = before.birth_date;
            next.sex = before.sex;
            next.address = before.address.clone();
            next.individual_number = before.individual_number;
            Ok(next)
        }
    }
}

fn status_text(status: RecordStatus) -> String {
    match status {
        RecordStatus::Active => "active (住民)".to_owned(),
        RecordStatus::Closed { reason } => {
            format!("closed (除票): {} {}", reason.code(), reason.label())
        }
    }
}

fn show(record: &IdentityRecordParts) {
    let municipality = record.address.municipality();
    println!("resident-code {}", record.resident_code);
    println!("name {}", record.name.name());
    println!("reading {}", record.name.reading());
    if let Some(former) = record.name.former() {
        println!("former-surname {} ({})", former.surname(), former.reading());
    }
    match record.birth_date.wareki() {
        Ok(wareki) => println!("birth {} ({wareki})", record.birth_date),
        Err(_) => println!("birth {}", record.birth_date),
    }
    println!("sex {} {}", record.sex.code(), record.sex.label());
    println!("address {}", record.address.full_text());
    println!("address-municipality {}", describe(municipality));
    match record.individual_number {
        Some(number) => println!("individual-number {number}"),
        None => println!("individual-number none"),
    }
    println!("status {}", status_text(record.status));
    let change = record.latest_change;
    println!(
        "latest-change {} {} ({}) effective {}",
        change.reason().code(),
        change.reason().label(),
        change.reason().family().label(),
        change.date()
    );
    println!("history {}", record.history_number);
}

fn history_line(record: &IdentityRecordParts) -> String {
    let change = record.latest_change;
    format!(
        "{:>3}  {}  {:<24} {}  {}  {} ({})  {}  {}",
        record.history_number.get(),
        change.date(),
        change.reason().code(),
        change.reason().label(),
        record.resident_code,
        record.name.name(),
        record.name.reading(),
        record.address.full_text(),
        match record.status {
            RecordStatus::Active => "active",
            RecordStatus::Closed { .. } => "closed",
        }
    )
}
