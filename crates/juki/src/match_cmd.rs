//! `juki match --dir DIR [FILE|-]`: the four-item match, offline, over a registry directory.
//!
//! Reads requests — CSV with the header `name,reading,birth,sex,address` (in any order; the
//! reading, birth, sex and address may be empty), or JSON Lines of objects with those keys —
//! from FILE or standard input, and prints one JSON line per request, in order:
//! `{"match": CODE or null, "candidates": [{"code", "score", "items": {...}}, ...]}`, best
//! first. A request that cannot be used prints `{"error": {"code", "message"}}` for its line
//! and the next is read; messages never repeat what the request said. The format is told by
//! the first line: `{` starts JSON Lines.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use matching::{Query, QueryError};
use registry_store::Registry;
use registry_store::dir::RegistryDir;

/// `juki match`.
#[derive(clap::Args)]
pub struct MatchArgs {
    /// The registry directory.
    #[arg(long)]
    dir: PathBuf,
    /// The requests: a CSV or JSON Lines file, or `-` (the default) for standard input.
    #[arg(value_name = "FILE|-")]
    input: Option<PathBuf>,
    /// At most this many candidates fetched per index (name, reading, birth date, address).
    #[arg(long, default_value_t = 200)]
    limit: usize,
}

/// One request; every field optional, unknown fields refused.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    reading: Option<String>,
    #[serde(default)]
    birth: Option<String>,
    #[serde(default)]
    sex: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

/// The answer to a request that could not be used.
#[derive(serde::Serialize)]
struct ErrorLine {
    error: ErrorBody,
}

#[derive(serde::Serialize)]
struct ErrorBody {
    code: &'static str,
    message: String,
}

fn error_line(code: &'static str, message: impl Into<String>) -> String {
    serde_json::to_string(&ErrorLine { error: ErrorBody { code, message: message.into() } })
        .expect("a string map serialises")
}

const BAD_JSON: &str = "the line is not a JSON object whose keys are name, reading, birth, sex and \
                        address, each a string or null";
const BAD_CSV: &str = "the row does not have one field for each column of the header";

/// Runs `juki match`.
pub fn run(args: MatchArgs) -> Result<ExitCode> {
    let dir = RegistryDir::open(&args.dir)?;
    let registry = dir.registry()?;
    let input: Box<dyn Read> = match &args.input {
        None => Box::new(io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(p) => Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?),
    };
    let mut input = BufReader::new(input);
    let mut first = String::new();
    while first.trim().is_empty() {
        first.clear();
        if input.read_line(&mut first)? == 0 {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let out = io::stdout();
    let mut out = io::LineWriter::new(out.lock());
    if first.trim_start_matches('\u{FEFF}').trim_start().starts_with('{') {
        let lines = std::iter::once(Ok(first)).chain(input.lines());
        for line in lines {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let answer = match serde_json::from_str::<Request>(line.trim_start_matches('\u{FEFF}'))
            {
                Ok(r) => answer(&registry, &r, args.limit)?,
                Err(_) => error_line("bad-line", BAD_JSON),
            };
            writeln!(out, "{answer}")?;
        }
    } else {
        let chained = io::Cursor::new(first.into_bytes()).chain(input);
        let mut csv =
            csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(chained);
        let headers = csv.headers().context("reading the CSV header")?.clone();
        let column = |name: &str| headers.iter().position(|h| h == name);
        let known = ["name", "reading", "birth", "sex", "address"];
        if let Some(unknown) = headers.iter().find(|h| !known.contains(h)) {
            bail!(
                "the CSV header has a column {unknown:?}; the columns are name, reading, birth, \
                 sex and address"
            );
        }
        if column("name").is_none() {
            bail!(
                "the CSV header has no name column; the header is name,reading,birth,sex,address"
            );
        }
        for row in csv.records() {
            let answer = match row {
                Ok(row) if row.len() == headers.len() => {
                    let field =
                        |name: &str| column(name).and_then(|i| row.get(i)).map(str::to_owned);
                    let request = Request {
                        name: field("name"),
                        reading: field("reading"),
                        birth: field("birth"),
                        sex: field("sex"),
                        address: field("address"),
                    };
                    answer(&registry, &request, args.limit)?
                }
                Ok(_) | Err(_) => error_line("bad-line", BAD_CSV),
            };
            writeln!(out, "{answer}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The JSON line answering one request: the ranked candidates, or the query's error.
fn answer(registry: &Registry, r: &Request, limit: usize) -> Result<String> {
    let text = |s: &Option<String>| s.as_deref().unwrap_or("").to_owned();
    let query = match Query::parse(
        &text(&r.name),
        r.reading.as_deref(),
        &text(&r.birth),
        &text(&r.sex),
        &text(&r.address),
    ) {
        Ok(q) => q,
        Err(e) => return Ok(query_error(&e)),
    };
    let candidates = registry.match_candidates(&query.keys(), limit)?;
    Ok(serde_json::to_string(&matching::rank(&query, candidates))?)
}

fn query_error(e: &QueryError) -> String {
    error_line(e.code(), e.to_string())
}
