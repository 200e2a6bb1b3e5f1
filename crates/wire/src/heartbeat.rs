//! A town's heartbeat: what its node says about itself every `heartbeat_ms`, to its prefecture
//! and the national node, as a note signed with its node key (the key that signs its registry
//! checkpoints). The upper nodes compare it with what they mirror: a root for a size they hold
//! that is not theirs is a fork the town's own key signed; a size they do not reach is stuck
//! replication; silence is a missing heartbeat. Pure: no I/O.
//!
//! ```text
//! juki.heartbeat/v1
//! node urn:juki:municipal:204072
//! time 1764806400
//! registry 1234 kq1dJ0bJ2p2KXb8JjK4Nf3FHZ0o4rB1pOXqF7TlO7ZQ=
//! provisions 56 2z8dJ0bJ2p2KXb8JjK4Nf3FHZ0o4rB1pOXqF7TlO7ZQ=
//! alerts 17
//! manifest 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! verified 1234
//! acked 1200
//! pushed 1764806399
//! ```
//!
//! `registry` and `provisions` are the size and root of the town's latest witnessed
//! checkpoints; `alerts` the number of its last alert; `manifest` the SHA-256 of its signed
//! baseline manifest; `verified` the size its last clean self-check covered; `acked` the size
//! its prefecture acknowledged and `pushed` when it last did. An absent value is `-`.

use serde::{Deserialize, Serialize};
use tlog::hash::Hash;

/// The first line of a heartbeat.
pub const HEARTBEAT_HEADER: &str = "juki.heartbeat/v1";

/// A log's size and root, as a heartbeat states them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogHead {
    /// Its size.
    pub size: u64,
    /// Its root hash at that size.
    pub root: Hash,
}

/// One heartbeat of a town's node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// The identity (URI) of the node that sends it.
    pub node: String,
    /// When it was sent (POSIX seconds).
    pub time: u64,
    /// Its latest witnessed registry checkpoint.
    pub registry: LogHead,
    /// Its latest witnessed provision checkpoint.
    pub provisions: LogHead,
    /// The number of its last alert (0: none).
    pub alerts: u64,
    /// The SHA-256 (hex) of its signed baseline manifest, if it runs with one.
    pub manifest: Option<String>,
    /// The size its last clean self-check covered.
    pub verified: Option<u64>,
    /// The size its prefecture acknowledged.
    pub acked: Option<u64>,
    /// When its last batch was acknowledged (POSIX seconds), since it started.
    pub pushed: Option<u64>,
}

/// Why a heartbeat's text is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a heartbeat: {0}")]
pub struct HeartbeatError(String);

fn optional<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(|| "-".to_owned(), T::to_string)
}

impl Heartbeat {
    /// The text to sign. Line breaks in the node's name become spaces.
    pub fn text(&self) -> String {
        let head = |h: &LogHead| format!("{} {}", h.size, h.root.to_base64());
        format!(
            "{HEARTBEAT_HEADER}\nnode {}\ntime {}\nregistry {}\nprovisions {}\nalerts {}\n\
             manifest {}\nverified {}\nacked {}\npushed {}\n",
            self.node.replace(['\n', '\r'], " "),
            self.time,
            head(&self.registry),
            head(&self.provisions),
            self.alerts,
            optional(&self.manifest),
            optional(&self.verified),
            optional(&self.acked),
            optional(&self.pushed),
        )
    }

    /// Parses a heartbeat's text (its signature is checked apart).
    pub fn parse(text: &str) -> Result<Heartbeat, HeartbeatError> {
        let bad = |what: &str| HeartbeatError(what.to_owned());
        let mut lines =
            crate::lines::Lines::open(text, HEARTBEAT_HEADER).map_err(HeartbeatError)?;
        let mut field = |name: &'static str| lines.field(name).map_err(HeartbeatError);
        let number = |text: &str, name: &str| -> Result<u64, HeartbeatError> {
            text.parse().map_err(|_| bad(&format!("{name} is not a number")))
        };
        let maybe = |text: String, name: &str| -> Result<Option<u64>, HeartbeatError> {
            if text == "-" { Ok(None) } else { number(&text, name).map(Some) }
        };
        let head = |text: String, name: &str| -> Result<LogHead, HeartbeatError> {
            let (size, root) =
                text.split_once(' ').ok_or_else(|| bad(&format!("{name} is not `size root`")))?;
            Ok(LogHead {
                size: number(size, name)?,
                root: Hash::from_base64(root)
                    .map_err(|_| bad(&format!("{name}'s root is not a hash")))?,
            })
        };
        let node = field("node")?;
        let time = number(&field("time")?, "time")?;
        let registry = head(field("registry")?, "registry")?;
        let provisions = head(field("provisions")?, "provisions")?;
        let alerts = number(&field("alerts")?, "alerts")?;
        let manifest = match field("manifest")? {
            dash if dash == "-" => None,
            hex if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Some(hex),
            _ => return Err(bad("manifest is not a SHA-256 in hex")),
        };
        let verified = maybe(field("verified")?, "verified")?;
        let acked = maybe(field("acked")?, "acked")?;
        let pushed = maybe(field("pushed")?, "pushed")?;
        lines.end().map_err(HeartbeatError)?;
        Ok(Heartbeat {
            node,
            time,
            registry,
            provisions,
            alerts,
            manifest,
            verified,
            acked,
            pushed,
        })
    }
}

/// The upper node's answer to a heartbeat: what it holds of the town, for the town's own log.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatTaken {
    /// The size of the town's registry this node's mirror holds.
    pub mirrored: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heartbeat() -> Heartbeat {
        Heartbeat {
            node: "urn:juki:municipal:204072".into(),
            time: 1_764_806_400,
            registry: LogHead { size: 1234, root: Hash([7; 32]) },
            provisions: LogHead { size: 56, root: Hash([9; 32]) },
            alerts: 17,
            manifest: Some("ab".repeat(32)),
            verified: Some(1234),
            acked: None,
            pushed: Some(1_764_806_399),
        }
    }

    #[test]
    fn a_heartbeat_parses_back() {
        let h = heartbeat();
        assert_eq!(Heartbeat::parse(&h.text()).unwrap(), h);
        let none = Heartbeat { manifest: None, verified: None, pushed: None, ..h };
        assert_eq!(Heartbeat::parse(&none.text()).unwrap(), none);
    }

    #[test]
    fn a_node_name_cannot_add_lines() {
        let mut h = heartbeat();
        h.node = "x\nregistry 1 AAAA".into();
        assert_eq!(Heartbeat::parse(&h.text()).unwrap().node, "x registry 1 AAAA");
    }

    #[test]
    fn malformed_heartbeats_are_refused() {
        let text = heartbeat().text();
        for broken in [
            text.replace(HEARTBEAT_HEADER, "juki.heartbeat/v2"),
            text.replace("time 1764806400", "time soon"),
            text.replace("registry 1234 ", "registry 1234"),
            text.replace("registry 1234 ", "registry x "),
            text.replace(&"ab".repeat(32), "abc"),
            text.replace("acked -", "acked"),
            text.replace("\nalerts", "\nextra 1\nalerts"),
            format!("{text}more\n"),
            text.trim_end().to_owned(),
        ] {
            assert!(Heartbeat::parse(&broken).is_err(), "{broken}");
        }
    }
}
