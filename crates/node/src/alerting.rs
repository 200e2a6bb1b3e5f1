//! Where a node's alerts go once its journal records them, so that an attacker who takes the
//! node over cannot erase what it found: signed reports to the upper tiers (a town to its
//! prefecture and the national node, a prefecture to the national node), the configured sinks
//! (a JSON Lines file, a webhook), and the Prometheus metrics the monitoring scrapes.
//!
//! Every sender keeps how far its receiver has taken the alerts in the journal's
//! acknowledgements (log `{origin}/alerts`), so a restart neither loses nor repeats a report;
//! a sink receives each alert at least once, in order (a crash between delivery and its
//! acknowledgement delivers it again: a line carries the node and the alert's number, by which
//! a reader drops the repeat).

use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde::Serialize;
use tlog::note::Signer;
use wire::errors::Code;

use crate::config::{NodeConfig, Peer};
use crate::journal::{Alert, Journal};
use crate::task::{lock, rounds};

/// What a node offers the sinks of its alerts.
pub trait Alerting: Send + Sync + 'static {
    /// The node's configuration.
    fn config(&self) -> &NodeConfig;
    /// Its journal, where its alerts are recorded.
    fn journal(&self) -> &Mutex<Journal>;
    /// Its identity.
    fn identity(&self) -> &pki::Identity;
}

/// What a node that reports its alerts to the upper tiers offers besides.
pub trait Reporting: Alerting {
    /// Its node key, which signs its reports.
    fn node_key(&self) -> &Signer;
    /// Its client for calls to other nodes.
    fn client(&self) -> &net::Client;
}

/// The acknowledgements' log name for a node's alerts.
fn alert_log(config: &NodeConfig) -> String {
    format!("{}/alerts", config.origin)
}

/// Sends the alerts raised at `node` that `upstream` does not hold yet, each signed with the
/// node key: returns whether anything was sent. Alerts other nodes reported here are not sent
/// on: they reached the upper tiers from their own node.
pub async fn report<N: Reporting>(node: Arc<N>, upstream: Peer) -> Result<bool> {
    let log = alert_log(node.config());
    let (reports, last) = {
        let (node, log, identity) = (node.clone(), log.clone(), upstream.identity.clone());
        tokio::task::spawn_blocking(move || -> Result<(Vec<String>, u64)> {
            let journal = lock(node.journal());
            let sent = journal.ack(&log, &identity)?.map_or(0, |(s, _)| s);
            let uri = node.identity().to_uri();
            let mut last = sent;
            let mut reports = Vec::new();
            for (id, alert) in journal.alerts_after(sent, 256)? {
                let report = wire::alert::AlertReport {
                    node: uri.clone(),
                    id,
                    time: alert.time,
                    kind: Code::parse(&alert.kind).unwrap_or(Code::Internal),
                    peer: alert.peer,
                    detail: alert.detail,
                };
                let note = crate::logs::sign_text(report.text(), node.node_key())?;
                reports.push(String::from_utf8(note).context("a signed note is UTF-8")?);
                last = id;
            }
            Ok((reports, last))
        })
        .await??
    };
    if reports.is_empty() {
        return Ok(false);
    }
    let body = serde_json::to_vec(&wire::alert::AlertReports { alerts: reports })?;
    let response = crate::http::post(
        node.client(),
        &upstream.endpoint("/v1/alerts/reports")?,
        body,
        Some(upstream.identity.as_str()),
    )
    .await?;
    if !response.status.is_success() {
        bail!("{} refused the alert reports: {}", upstream.identity, response.text());
    }
    let held: wire::alert::AlertsHeld =
        serde_json::from_slice(&response.body).context("the answer to the alert reports")?;
    if held.held < last {
        bail!("{} holds alerts up to {} of the {last} sent", upstream.identity, held.held);
    }
    tokio::task::spawn_blocking(move || {
        lock(node.journal()).set_ack(&log, &upstream.identity, last, &response.body)
    })
    .await??;
    Ok(true)
}

/// One alert as a sink receives it: the node that holds it, and the alert.
#[derive(Serialize)]
struct SinkLine<'a> {
    /// The identity of the node delivering it.
    node: &'a str,
    #[serde(flatten)]
    alert: &'a Alert,
}

/// A webhook's body.
#[derive(Serialize)]
struct WebhookBody<'a> {
    node: &'a str,
    alerts: &'a [Alert],
}

/// The most alerts one delivery to a sink carries.
const SINK_BATCH: usize = 512;

/// The alerts a sink has not taken yet (up to [`SINK_BATCH`]), and where it stands.
fn pending_for_sink<N: Alerting>(node: &N, sink: &str) -> Result<(Vec<Alert>, u64)> {
    let journal = lock(node.journal());
    let taken = journal.ack(&alert_log(node.config()), sink)?.map_or(0, |(s, _)| s);
    let mut alerts = journal.alerts_since(taken)?;
    alerts.truncate(SINK_BATCH);
    Ok((alerts, taken))
}

/// Appends the alerts the JSON Lines file at `path` has not taken, one line each, and syncs
/// it before recording that it took them. Returns whether anything was written.
pub fn to_jsonl<N: Alerting>(node: &N, path: &Path) -> Result<bool> {
    let sink = format!("sink:jsonl:{}", path.display());
    let (alerts, _) = pending_for_sink(node, &sink)?;
    let Some(last) = alerts.last().map(|a| a.id) else {
        return Ok(false);
    };
    let uri = node.identity().to_uri();
    let mut text = String::new();
    for alert in &alerts {
        text.push_str(&serde_json::to_string(&SinkLine { node: &uri, alert })?);
        text.push('\n');
    }
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt as _;
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)
    }
    .with_context(|| format!("cannot open the alert sink {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_data()?;
    lock(node.journal()).set_ack(&alert_log(node.config()), &sink, last, b"")?;
    Ok(true)
}

/// POSTs the alerts the webhook at `url` has not taken; a 2xx answer takes them. Returns
/// whether anything was delivered.
pub async fn to_webhook<N: Alerting>(
    node: Arc<N>,
    http: &reqwest::Client,
    url: &str,
) -> Result<bool> {
    let sink = format!("sink:webhook:{url}");
    let (alerts, _) = {
        let (node, sink) = (node.clone(), sink.clone());
        tokio::task::spawn_blocking(move || pending_for_sink(node.as_ref(), &sink)).await??
    };
    let Some(last) = alerts.last().map(|a| a.id) else {
        return Ok(false);
    };
    let uri = node.identity().to_uri();
    let body = serde_json::to_vec(&WebhookBody { node: &uri, alerts: &alerts })?;
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .with_context(|| format!("the alert webhook {url} could not be reached"))?;
    if !answer.status().is_success() {
        bail!("the alert webhook {url} answered {}", answer.status());
    }
    tokio::task::spawn_blocking(move || {
        lock(node.journal()).set_ack(&alert_log(node.config()), &sink, last, b"")
    })
    .await??;
    Ok(true)
}

/// Starts the senders of a node's alerts: signed reports to each of `upstreams`, and the
/// configured sinks, each polling every `watch_ms` on its own (one that fails holds up only
/// itself, and tries again with back-off).
pub fn spawn<N: Reporting>(node: Arc<N>, upstreams: Vec<Peer>) -> Vec<tokio::task::JoinHandle<()>> {
    let every = Duration::from_millis(node.config().watch_ms);
    let name = node.config().name.clone();
    let mut tasks = spawn_sinks(node.clone());
    for upstream in upstreams {
        let (node, name) = (node.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let round = || report(node.clone(), upstream.clone());
            let failed = |e: &anyhow::Error| {
                eprintln!("{name}: alert reports to {}: {e:#}", upstream.identity)
            };
            rounds(every, None, round, failed).await
        }));
    }
    tasks
}

/// Starts the deliveries to the configured sinks alone (a node that reports to no upper tier:
/// the national node, the signer).
pub fn spawn_sinks<N: Alerting>(node: Arc<N>) -> Vec<tokio::task::JoinHandle<()>> {
    let every = Duration::from_millis(node.config().watch_ms);
    let name = node.config().name.clone();
    let mut tasks = Vec::new();
    if let Some(path) = node.config().alerts.jsonl.clone() {
        let (node, name) = (node.clone(), name.clone());
        tasks.push(tokio::spawn(async move {
            let round = || {
                let (node, path) = (node.clone(), path.clone());
                async move { tokio::task::spawn_blocking(move || to_jsonl(node.as_ref(), &path)).await? }
            };
            let failed = |e: &anyhow::Error| eprintln!("{name}: the alert file: {e:#}");
            rounds(every, None, round, failed).await
        }));
    }
    if let Some(url) = node.config().alerts.webhook.clone() {
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a plain HTTP client builds");
            let round = || to_webhook(node.clone(), &http, &url);
            let failed = |e: &anyhow::Error| eprintln!("{name}: the alert webhook: {e:#}");
            rounds(every, None, round, failed).await
        }));
    }
    tasks
}

/// The node's metrics in the Prometheus text format: its alerts counted by kind, severity and
/// the node that raised them, its quarantines, and what `extra` adds (sizes, never personal
/// data). Read on the network listener by the upper tiers and the monitoring alone.
pub fn metrics(
    journal: &Journal,
    extra: impl FnOnce(&mut prometheus_client::registry::Registry),
) -> Result<String> {
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct AlertLabels {
        kind: String,
        severity: String,
        raised_by: String,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct TownLabel {
        town: String,
    }

    let mut registry = prometheus_client::registry::Registry::with_prefix("juki");
    let alerts = Family::<AlertLabels, Counter>::default();
    for (kind, raised_by, count) in journal.alert_counts()? {
        let severity = Code::parse(&kind)
            .and_then(Code::severity)
            .map_or("unknown", wire::errors::Severity::as_str);
        let labels = AlertLabels {
            kind,
            severity: severity.to_owned(),
            raised_by: raised_by.unwrap_or_else(|| "self".to_owned()),
        };
        alerts.get_or_create(&labels).inc_by(count);
    }
    registry.register("alerts", "Alerts this node holds, raised here or reported to it", alerts);
    let quarantined = Family::<TownLabel, Gauge>::default();
    for quarantine in journal.quarantines()? {
        quarantined
            .get_or_create(&TownLabel { town: quarantine.town })
            .set(i64::from(quarantine.released.is_none()));
    }
    registry.register(
        "quarantined",
        "Towns the national node quarantined: 1 while held, 0 once released",
        quarantined,
    );
    extra(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry)?;
    Ok(text)
}

/// The content type of [`metrics`].
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
