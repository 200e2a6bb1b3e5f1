//! A resident's disclosure at the counter, as `juki disclose` makes it: the clerk's client asks
//! the resident's town, every receipt is checked against the provision log of the node that
//! recorded it (keys and witnesses as the network registers them), and the disclosure is
//! written as files a resident can check again with `juki log verify-receipt --commitment`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use registry_domain::ResidentCode;
use tlog::checkpoint::Policy;
use tlog::note::VerifierKey;
use wire::api::Disclosure;

use crate::setup::Network;

/// One provision in a disclosure, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disclosed {
    /// The node that recorded it.
    pub node: String,
    /// Its provision log.
    pub origin: String,
    /// The record's index in that log.
    pub index: u64,
    /// The record as kept (`juki.provision/v1`, with its salt).
    pub record: String,
    /// Where its receipt was written.
    pub receipt: PathBuf,
}

/// The whole disclosure, checked and written.
pub struct Written {
    /// The record, as its evidence proves it.
    pub record: wire::api::ProvenRecord,
    /// Every provision, node by node, in log order.
    pub provisions: Vec<Disclosed>,
    /// Provisions of the period that no witnessed checkpoint covers yet.
    pub pending: u64,
}

/// The policy of the provision log `origin`: the key the network registered for it and the
/// network's witnesses (one must have cosigned).
pub fn provision_policy(network: &Network, origin: &str) -> Result<Policy> {
    let log = network
        .nodes
        .iter()
        .flat_map(|n| n.logs.iter())
        .find(|l| l.origin == origin)
        .with_context(|| format!("{origin} is not a log the network registers"))?;
    Ok(Policy {
        log_keys: vec![VerifierKey::parse(&log.vkey)?],
        witnesses: network
            .witnesses
            .iter()
            .map(|w| VerifierKey::parse(&w.vkey))
            .collect::<Result<_, _>>()?,
        quorum: 1,
    })
}

/// Asks `town`'s node, as its clerk at the counter, for the disclosure of `code` in
/// `[from, to)`, checks every receipt and writes the disclosure into `out` (a new directory).
pub async fn disclose(
    network: &Network,
    town: &str,
    code: ResidentCode,
    from: u64,
    to: u64,
    out: &Path,
) -> Result<Written> {
    let clerk = crate::setup::clerk(network, town)?;
    let disclosure: Disclosure = clerk.disclose(code, from, to).await?;
    std::fs::create_dir(out)
        .with_context(|| format!("cannot create {} (it must not exist)", out.display()))?;
    std::fs::write(out.join("record.json"), serde_json::to_vec_pretty(&disclosure.record)?)?;
    let mut provisions = Vec::new();
    let mut pending = 0;
    for node in &disclosure.provisions {
        pending += node.pending;
        let policy = provision_policy(network, &node.origin)?;
        for text in &node.receipts {
            let receipt = tlog::receipt::Receipt::parse(text.as_bytes())?;
            let record = receipt.extra.clone().context("a receipt without its record")?;
            let leaf = registry_core::evidence::leaf(&record);
            receipt.verify_origin(&leaf, &policy, &node.origin).with_context(|| {
                format!("provision {} of {} does not verify", receipt.index, node.node)
            })?;
            let record = String::from_utf8(record)?;
            if !record.contains(&format!("\nresident {code}\n")) {
                bail!("{} disclosed a record of another resident", node.node);
            }
            let short = node.node.rsplit(':').next().unwrap_or("node");
            let file =
                out.join(format!("{}-{short}-{}.receipt", provisions.len() + 1, receipt.index));
            std::fs::write(&file, text)?;
            provisions.push(Disclosed {
                node: node.node.clone(),
                origin: node.origin.clone(),
                index: receipt.index,
                record,
                receipt: file,
            });
        }
    }
    let written = Written { record: disclosure.record, provisions, pending };
    std::fs::write(out.join("disclosure.txt"), summary(network, &written)?)?;
    Ok(written)
}

/// The disclosure for people: each provision (who, to whom, when, why, which items) and how
/// to check its receipt.
pub fn summary(network: &Network, written: &Written) -> Result<String> {
    let mut out = String::new();
    let r = &written.record.record;
    writeln!(
        out,
        "住民票コード {}  {} ({})  {}  {}",
        r.resident, r.name, r.reading, r.birth, r.address
    )?;
    writeln!(out, "{} provisions", written.provisions.len())?;
    for p in &written.provisions {
        let field = |name: &str| {
            p.record
                .lines()
                .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
                .unwrap_or("-")
                .to_owned()
        };
        writeln!(
            out,
            "  {:<8} by {:<28} to {:<40} time {}  purpose {}  items {}",
            field("kind"),
            field("by"),
            field("to"),
            field("time"),
            field("purpose"),
            field("items"),
        )?;
        let policy = provision_policy(network, &p.origin)?;
        let mut check = format!(
            "    juki log verify-receipt --commitment {} --vkey {} --origin {} --quorum 1",
            p.receipt.display(),
            policy.log_keys[0],
            p.origin
        );
        for witness in &policy.witnesses {
            check.push_str(&format!(" --witness {witness}"));
        }
        writeln!(out, "{check}")?;
    }
    if written.pending > 0 {
        writeln!(
            out,
            "{} more not yet in a witnessed checkpoint: ask again in a few seconds",
            written.pending
        )?;
    }
    Ok(out)
}
