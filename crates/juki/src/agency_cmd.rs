//! `juki purposes` (the national administrator's signed catalogue of lawful purposes) and
//! `juki agency` (an agency's requests to the national node, through its certificate, on a
//! network described by its `network.json`). They parse arguments and files and call
//! `wire::purposes` and `client::agency`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use wire::provide::{FourItems, ProvideRequest};
use wire::purposes::{Catalogue, Item};

#[derive(Subcommand)]
pub enum PurposesCommand {
    /// Sign a catalogue of purposes (its text, `juki.purposes/v1`) with a national
    /// administrator's key. The text is checked first; nothing is written if it is not one.
    Sign {
        /// The catalogue's text.
        #[arg(long = "in", value_name = "FILE")]
        input: PathBuf,
        /// The administrator's key file; its passphrase from the variable `--passphrase-env`
        /// names, JUKI_PASSPHRASE, or a prompt.
        #[arg(long)]
        key: PathBuf,
        /// The variable holding the key's passphrase.
        #[arg(long)]
        passphrase_env: Option<String>,
        /// Where to write the signed catalogue (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Show a signed catalogue's purposes.
    Show {
        /// The signed catalogue.
        file: PathBuf,
    },
    /// A node's provisions in one year (Japan time) per recipient and purpose, from its
    /// provision records, signed with its node key for the operator to publish. No resident
    /// appears in it.
    Stats {
        /// The node's directory (holding node.toml, node.db and node.key).
        #[arg(long)]
        node: PathBuf,
        /// The year.
        #[arg(long)]
        year: u16,
        /// Where to write the signed statistics (never overwritten); printed when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum AgencyCommand {
    /// The purposes the network's agency holds, as the national node's catalogue lists them.
    Purposes {
        /// The network's directory (holding network.json).
        #[arg(long, default_value = "juki-demo")]
        dir: PathBuf,
    },
    /// Ask for one resident's identity information by 住民票コード under a purpose.
    Provide {
        /// The network's directory.
        #[arg(long, default_value = "juki-demo")]
        dir: PathBuf,
        /// The purpose's code in the catalogue.
        #[arg(long)]
        purpose: String,
        /// The items wanted, comma-separated (all the purpose may receive when absent).
        #[arg(long, value_delimiter = ',')]
        items: Vec<String>,
        /// The resident's 住民票コード.
        resident: String,
    },
    /// Send a batch: CSV with a header (`resident`, or `name,reading,birth,sex,address`) or
    /// JSON Lines of requests, from FILE or stdin. Prints one checked JSON answer per line
    /// and the progress on stderr.
    Batch {
        /// The network's directory.
        #[arg(long, default_value = "juki-demo")]
        dir: PathBuf,
        /// The purpose of every request (JSON Lines requests carry their own).
        #[arg(long)]
        purpose: Option<String>,
        /// The requests (`-` or absent: stdin).
        file: Option<PathBuf>,
    },
}

pub fn run_purposes(command: PurposesCommand) -> Result<ExitCode> {
    match command {
        PurposesCommand::Sign { input, key, passphrase_env, out } => {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let catalogue = Catalogue::parse(&text)?;
            if catalogue.text() != text {
                bail!("{} is not in the catalogue's one written form", input.display());
            }
            let signer = crate::key::load_signer(&key, passphrase_env.as_deref())?;
            let mut note = tlog::note::Note::new(text)?;
            note.sign(&signer)?;
            let mut file =
                std::fs::OpenOptions::new().write(true).create_new(true).open(&out).with_context(
                    || format!("cannot create {} (it is never overwritten)", out.display()),
                )?;
            file.write_all(&note.to_bytes())?;
            file.sync_all()?;
            println!("{} purposes signed by {}", catalogue.purposes.len(), signer.name());
            Ok(ExitCode::SUCCESS)
        }
        PurposesCommand::Stats { node, year, out } => {
            let config = node::config::NodeConfig::load(&node.join("node.toml"))?;
            let journal = node::journal::Journal::open(&node.join(node::logs::NODE_DB))?;
            let from = year_start(year)?;
            let to = year_start(year + 1)?;
            let stats = wire::provide::Stats {
                node: config.identity()?.to_uri(),
                year,
                counts: journal.provision_counts(from, to)?,
            };
            let key = std::fs::read_to_string(node.join("node.key"))
                .with_context(|| format!("cannot read {}", node.join("node.key").display()))?;
            let signer = tlog::note::Signer::parse(key.trim())?;
            let mut note = tlog::note::Note::new(stats.text())?;
            note.sign(&signer)?;
            match out {
                Some(out) => {
                    let mut file = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&out)
                        .with_context(|| format!("cannot create {}", out.display()))?;
                    file.write_all(&note.to_bytes())?;
                    file.sync_all()?;
                    for (to, purpose, n) in &stats.counts {
                        println!("{n:>10}  {to}  {purpose}");
                    }
                }
                None => std::io::stdout().write_all(&note.to_bytes())?,
            }
            Ok(ExitCode::SUCCESS)
        }
        PurposesCommand::Show { file } => {
            let bytes = std::fs::read(&file)?;
            let note = tlog::note::Note::parse(&bytes)?;
            let catalogue = Catalogue::parse(note.text())?;
            println!("issued {}", catalogue.issued);
            for p in &catalogue.purposes {
                let within: Vec<String> = p.within.iter().map(ToString::to_string).collect();
                println!(
                    "{:<16} {:<36} search {:<3} {:>7}/min {:>9}/day  {}  within {}  ({})",
                    p.code,
                    p.agency,
                    if p.search { "yes" } else { "no" },
                    p.per_minute,
                    p.per_day,
                    wire::purposes::items_text(&p.items),
                    if within.is_empty() { "Japan".to_owned() } else { within.join(" ") },
                    p.law
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn run_agency(command: AgencyCommand) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command {
        AgencyCommand::Purposes { dir } => {
            let agency = agency(&dir)?;
            match runtime.block_on(agency.purposes())? {
                Ok(purposes) => {
                    for p in purposes {
                        let items: Vec<&str> = p.items.iter().map(|i| i.as_str()).collect();
                        let within = if p.within.is_empty() {
                            "Japan".to_owned()
                        } else {
                            p.within.join(" ")
                        };
                        println!(
                            "{:<16} search {:<3} {:>7}/min {:>9}/day  {}  within {}  ({})",
                            p.code,
                            if p.search { "yes" } else { "no" },
                            p.per_minute,
                            p.per_day,
                            items.join(" "),
                            within,
                            p.law
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(answer) => Err(client::Refused::of("the purposes", &answer).into()),
            }
        }
        AgencyCommand::Provide { dir, purpose, items, resident } => {
            let agency = agency(&dir)?;
            let items = parse_items(&items)?;
            match runtime.block_on(agency.provide(&resident, &purpose, items.as_deref()))? {
                Ok(record) => {
                    println!("{}", serde_json::to_string_pretty(&record)?);
                    Ok(ExitCode::SUCCESS)
                }
                Err(answer) => Err(client::Refused::of("the provision", &answer).into()),
            }
        }
        AgencyCommand::Batch { dir, purpose, file } => {
            let text = match file.as_deref() {
                None => std::io::read_to_string(std::io::stdin())?,
                Some(p) if p.as_os_str() == "-" => std::io::read_to_string(std::io::stdin())?,
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            };
            let requests = requests(&text, purpose.as_deref())?;
            let agency = agency(&dir)?;
            let total = requests.len();
            let (mut done, mut refused) = (0usize, 0usize);
            let mut out = std::io::stdout();
            let outcome = runtime.block_on(agency.batch(&requests, |line| {
                done += 1;
                if line.error.is_some() {
                    refused += 1;
                }
                let _ = serde_json::to_writer(&mut out, &line);
                let _ = out.write_all(b"\n");
                if done % 100 == 0 || done == total {
                    eprint!("\r{done}/{total} answered, {refused} refused");
                }
            }))?;
            eprintln!();
            match outcome {
                Ok(()) if done == total => Ok(ExitCode::SUCCESS),
                Ok(()) => bail!("the node answered {done} of {total} requests"),
                Err(answer) => Err(client::Refused::of("the batch", &answer).into()),
            }
        }
    }
}

/// The first POSIX second of `year` in Japan time.
fn year_start(year: u16) -> Result<u64> {
    crate::disclose_cmd::day_start(&format!("{year:04}-01-01"))
}

/// The items named on the command line, or `None` for all the purpose may receive.
fn parse_items(names: &[String]) -> Result<Option<Vec<Item>>> {
    if names.is_empty() {
        return Ok(None);
    }
    names
        .iter()
        .map(|n| {
            Item::parse(n.trim()).with_context(|| {
                let known: Vec<&str> = Item::ALL.iter().map(|i| i.as_str()).collect();
                format!("unknown item {n:?}; the items are {}", known.join(", "))
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A batch's requests from CSV (with a header) or JSON Lines.
pub fn requests(text: &str, purpose: Option<&str>) -> Result<Vec<ProvideRequest>> {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if first.trim_start().starts_with('{') {
        return text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                let mut request: ProvideRequest = serde_json::from_str(l)
                    .with_context(|| format!("line {} is not a provision request", n + 1))?;
                if let Some(p) = purpose {
                    request.purpose = p.to_owned();
                }
                Ok(request)
            })
            .collect();
    }
    let purpose = purpose.context("a CSV batch needs --purpose")?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers()?.iter().map(str::to_owned).collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let by_code = column("resident");
    if by_code.is_none() && column("name").is_none() {
        bail!("a CSV batch's header names `resident`, or `name,reading,birth,sex,address`");
    }
    let mut out = Vec::new();
    for (n, row) in reader.records().enumerate() {
        let row = row.with_context(|| format!("row {} of the CSV", n + 2))?;
        let get = |name: &str| column(name).and_then(|i| row.get(i)).unwrap_or("").to_owned();
        let mut request = ProvideRequest {
            purpose: purpose.to_owned(),
            items: None,
            resident: None,
            query: None,
        };
        if by_code.is_some() {
            request.resident = Some(get("resident"));
        } else {
            request.query = Some(FourItems {
                name: get("name"),
                reading: get("reading"),
                birth: get("birth"),
                sex: get("sex"),
                address: get("address"),
            });
        }
        out.push(request);
    }
    Ok(out)
}

/// The network's agency, asking the national node.
fn agency(dir: &std::path::Path) -> Result<client::agency::Agency> {
    let mut network = testbed::setup::Network::load(dir)?;
    network.refresh();
    testbed::setup::agency(&network)
}
