//! An upper node's cross-check of the towns it mirrors, pure: what it concludes from a town's
//! signed heartbeats, and from their absence, given what its mirror holds. The caller feeds it
//! times (milliseconds on a monotonic clock), the mirror's size and its root at the size a
//! heartbeat claims, and records the findings as alerts; each finding is made once per episode
//! (a town stuck for an hour is one alert, not thousands), and made again only after the
//! condition has cleared.

use tlog::hash::Hash;
use wire::errors::Code;
use wire::heartbeat::{Heartbeat, LogHead};

/// How long silence and stuck replication are tolerated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// No heartbeat for longer than this is `heartbeat-missing`.
    pub missing_ms: u64,
    /// A size the town claims and the mirror has not reached for longer than this is
    /// `replication-stuck`.
    pub stuck_ms: u64,
}

/// What an upper node knows of one town between heartbeats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TownWatch {
    /// When the last valid heartbeat arrived (or, before the first, when watching began).
    heard_ms: u64,
    /// The time the last heartbeat taken was signed at (POSIX seconds).
    signed_at: u64,
    /// The manifest digest the town's first heartbeat carried.
    manifest: Option<String>,
    /// The registry size the town claimed that the mirror had not reached, and since when.
    waiting: Option<(u64, u64)>,
    /// The registry head the town's last heartbeat claimed.
    claimed: Option<LogHead>,
    /// Episodes already alerted.
    served_alerted: bool,
    missing_alerted: bool,
    stuck_alerted: bool,
    fork_alerted: bool,
    manifest_alerted: Option<String>,
}

/// One conclusion: an alert to raise about the town.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Its code.
    pub code: Code,
    /// One line, sizes and digests only.
    pub detail: String,
}

impl TownWatch {
    /// Starts watching a town at `now_ms`: its first heartbeat is awaited from then.
    pub fn new(now_ms: u64) -> TownWatch {
        TownWatch { heard_ms: now_ms, ..TownWatch::default() }
    }

    /// A heartbeat whose signature by the town's node key was verified, at `now_ms`, when the
    /// mirror holds `mirrored` entries and, if `mirrored` reaches the size the heartbeat
    /// claims, `root_at_claimed` is the mirror's root at that size. A heartbeat signed no later
    /// than the last one taken, or more than `missing_ms` before `now_unix`, is a replay: it
    /// is compared (a fork is a fork whenever it was signed) but does not count as heard, so
    /// that old heartbeats replayed cannot hide a silenced town.
    pub fn heartbeat(
        &mut self,
        heartbeat: &Heartbeat,
        now: (u64, u64),
        limits: Limits,
        mirrored: u64,
        root_at_claimed: Option<Hash>,
    ) -> Vec<Finding> {
        let (now_ms, now_unix) = now;
        let mut findings = Vec::new();
        let fresh = heartbeat.time > self.signed_at
            && heartbeat.time.saturating_add(limits.missing_ms / 1000) >= now_unix;
        if !fresh {
            return self.compare(heartbeat, root_at_claimed);
        }
        self.signed_at = heartbeat.time;
        self.heard_ms = now_ms;
        self.missing_alerted = false;
        let claimed = heartbeat.registry;
        self.claimed = Some(claimed);
        findings.extend(self.compare(heartbeat, root_at_claimed));
        if claimed.size > mirrored && self.waiting.is_none() {
            self.waiting = Some((claimed.size, now_ms));
        }
        if let Some(digest) = &heartbeat.manifest {
            match &self.manifest {
                None => self.manifest = Some(digest.clone()),
                Some(first) if first != digest => {
                    if self.manifest_alerted.as_ref() != Some(digest) {
                        self.manifest_alerted = Some(digest.clone());
                        findings.push(Finding {
                            code: Code::ManifestChanged,
                            detail: format!(
                                "the town's heartbeat carries manifest {} instead of {}",
                                short(digest),
                                short(first)
                            ),
                        });
                    }
                }
                Some(_) => {}
            }
        }
        findings
    }

    /// A fork: the heartbeat, signed by the town's node key, states another root than the
    /// mirror's for a size the mirror holds.
    fn compare(&mut self, heartbeat: &Heartbeat, root_at_claimed: Option<Hash>) -> Vec<Finding> {
        let claimed = heartbeat.registry;
        match root_at_claimed {
            Some(root) if root != claimed.root && !self.fork_alerted => {
                self.fork_alerted = true;
                vec![Finding {
                    code: Code::Fork,
                    detail: format!(
                        "the town's signed heartbeat claims root {} at size {}; the mirror holds \
                         root {} there",
                        claimed.root.to_base64(),
                        claimed.size,
                        root.to_base64()
                    ),
                }]
            }
            _ => Vec::new(),
        }
    }

    /// The checkpoint the town serves on its public endpoint: its size and root if it verifies
    /// under the town's node key (else why not), and the mirror's root at that size if the
    /// mirror reaches it. Another root than the mirror's or than the town's last heartbeat
    /// states for that size is a fork; one that does not verify is a forged publication.
    pub fn served(
        &mut self,
        served: Result<LogHead, String>,
        root_at_served: Option<Hash>,
    ) -> Vec<Finding> {
        let served = match served {
            Err(reason) => {
                if self.served_alerted {
                    return Vec::new();
                }
                self.served_alerted = true;
                return vec![Finding {
                    code: Code::ForgedPublication,
                    detail: format!(
                        "the checkpoint the town serves on its public endpoint does not verify: \
                         {reason}"
                    ),
                }];
            }
            Ok(served) => served,
        };
        self.served_alerted = false;
        let heartbeat_root = self.claimed.filter(|c| c.size == served.size).map(|c| c.root);
        let other = [("the mirror", root_at_served), ("the town's heartbeat", heartbeat_root)]
            .into_iter()
            .find_map(|(whose, root)| root.filter(|r| *r != served.root).map(|r| (whose, r)));
        match other {
            Some((whose, root)) if !self.fork_alerted => {
                self.fork_alerted = true;
                vec![Finding {
                    code: Code::Fork,
                    detail: format!(
                        "the town serves root {} at size {} on its public endpoint; {whose} \
                         states root {}",
                        served.root.to_base64(),
                        served.size,
                        root.to_base64()
                    ),
                }]
            }
            _ => Vec::new(),
        }
    }

    /// A look at `now_ms`, when the mirror holds `mirrored` entries.
    pub fn tick(&mut self, now_ms: u64, mirrored: u64, limits: Limits) -> Vec<Finding> {
        let mut findings = Vec::new();
        let silent = now_ms.saturating_sub(self.heard_ms);
        if silent > limits.missing_ms && !self.missing_alerted {
            self.missing_alerted = true;
            findings.push(Finding {
                code: Code::HeartbeatMissing,
                detail: format!("no heartbeat from the town for {} s", silent / 1000),
            });
        }
        match self.waiting {
            Some((size, _)) if mirrored >= size => {
                self.waiting = None;
                self.stuck_alerted = false;
            }
            Some((size, since)) => {
                let waited = now_ms.saturating_sub(since);
                if waited > limits.stuck_ms && !self.stuck_alerted {
                    self.stuck_alerted = true;
                    findings.push(Finding {
                        code: Code::ReplicationStuck,
                        detail: format!(
                            "the town's heartbeat claimed size {size} {} s ago; the mirror \
                             holds {mirrored}",
                            waited / 1000
                        ),
                    });
                }
            }
            None => {}
        }
        findings
    }
}

fn short(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}

/// The town's pusher, as its own node sees it: since when it has failed, and whether that
/// was alerted. Pure: the caller says when rounds succeed and fail.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PusherWatch {
    failing_since_ms: Option<u64>,
    alerted: bool,
}

impl PusherWatch {
    /// A round that delivered (or had nothing to deliver).
    pub fn succeeded(&mut self) {
        *self = PusherWatch::default();
    }

    /// A round that failed at `now_ms`: a `replication-stuck` finding once the failures have
    /// lasted longer than `stuck_ms`, once per episode.
    pub fn failed(&mut self, now_ms: u64, stuck_ms: u64) -> Option<Finding> {
        let since = *self.failing_since_ms.get_or_insert(now_ms);
        let failing = now_ms.saturating_sub(since);
        if failing <= stuck_ms || self.alerted {
            return None;
        }
        self.alerted = true;
        Some(Finding {
            code: Code::ReplicationStuck,
            detail: format!("the batches to the prefecture have failed for {} s", failing / 1000),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::heartbeat::LogHead;

    const LIMITS: Limits = Limits { missing_ms: 10_000, stuck_ms: 60_000 };

    fn beat(size: u64, root: u8, manifest: Option<&str>) -> Heartbeat {
        Heartbeat {
            node: "urn:juki:municipal:204072".into(),
            time: 0,
            registry: LogHead { size, root: Hash([root; 32]) },
            provisions: LogHead { size: 0, root: Hash([0; 32]) },
            alerts: 0,
            manifest: manifest.map(str::to_owned),
            verified: None,
            acked: None,
            pushed: None,
        }
    }

    /// A heartbeat signed at `time` (the tests count seconds and milliseconds alike).
    fn stamped(heartbeat: Heartbeat, time: u64) -> Heartbeat {
        Heartbeat { time, ..heartbeat }
    }

    /// The upper node's clocks at `ms`.
    fn at(ms: u64) -> (u64, u64) {
        (ms, ms)
    }

    fn codes(findings: &[Finding]) -> Vec<Code> {
        findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_steady_town_raises_nothing() {
        let mut watch = TownWatch::new(0);
        for second in 1..200u64 {
            let now = second * 1000;
            // Busy: the town is always a little ahead, and the mirror catches up within 2 s.
            let found = watch.heartbeat(
                &stamped(beat(second * 10, 1, Some("aa")), now),
                at(now),
                LIMITS,
                second * 10 - 5,
                None,
            );
            assert!(found.is_empty());
            assert!(watch.tick(now + 500, second * 10 + 20, LIMITS).is_empty());
        }
    }

    #[test]
    fn another_root_for_a_size_the_mirror_holds_is_a_fork_once() {
        let mut watch = TownWatch::new(0);
        let found = watch.heartbeat(
            &stamped(beat(10, 1, None), 1000),
            at(1000),
            LIMITS,
            12,
            Some(Hash([2; 32])),
        );
        assert_eq!(codes(&found), [Code::Fork]);
        assert!(
            watch
                .heartbeat(
                    &stamped(beat(10, 1, None), 2000),
                    at(2000),
                    LIMITS,
                    12,
                    Some(Hash([2; 32]))
                )
                .is_empty()
        );
        assert!(
            watch
                .heartbeat(
                    &stamped(beat(10, 2, None), 3000),
                    at(3000),
                    LIMITS,
                    12,
                    Some(Hash([2; 32]))
                )
                .is_empty()
        );
    }

    #[test]
    fn silence_is_missing_once_until_the_town_is_heard_again() {
        let mut watch = TownWatch::new(0);
        assert!(watch.tick(10_000, 0, LIMITS).is_empty());
        assert_eq!(codes(&watch.tick(10_001, 0, LIMITS)), [Code::HeartbeatMissing]);
        assert!(watch.tick(50_000, 0, LIMITS).is_empty());
        watch.heartbeat(&stamped(beat(0, 0, None), 51_000), at(51_000), LIMITS, 0, None);
        assert!(watch.tick(60_000, 0, LIMITS).is_empty());
        assert_eq!(codes(&watch.tick(61_001, 0, LIMITS)), [Code::HeartbeatMissing]);
    }

    #[test]
    fn a_claim_the_mirror_does_not_reach_in_time_is_stuck_once() {
        // A town that keeps beating: silence is another test's concern.
        const LIMITS: Limits = Limits { missing_ms: u64::MAX, stuck_ms: 60_000 };
        let mut watch = TownWatch::new(0);
        watch.heartbeat(&stamped(beat(20, 1, None), 1000), at(1000), LIMITS, 10, None);
        assert!(watch.tick(61_000, 10, LIMITS).is_empty());
        assert_eq!(codes(&watch.tick(61_001, 10, LIMITS)), [Code::ReplicationStuck]);
        assert!(watch.tick(62_000, 15, LIMITS).is_empty());
        // Caught up: a later stall is a new episode.
        assert!(watch.tick(63_000, 20, LIMITS).is_empty());
        watch.heartbeat(&stamped(beat(30, 1, None), 64_000), at(64_000), LIMITS, 20, None);
        assert_eq!(codes(&watch.tick(124_001, 20, LIMITS)), [Code::ReplicationStuck]);
    }

    #[test]
    fn another_manifest_than_the_first_is_an_alert_once_per_digest() {
        let mut watch = TownWatch::new(0);
        assert!(
            watch.heartbeat(&stamped(beat(0, 0, Some("aa")), 1), at(1), LIMITS, 0, None).is_empty()
        );
        let found = watch.heartbeat(&stamped(beat(0, 0, Some("bb")), 2), at(2), LIMITS, 0, None);
        assert_eq!(codes(&found), [Code::ManifestChanged]);
        assert!(
            watch.heartbeat(&stamped(beat(0, 0, Some("bb")), 3), at(3), LIMITS, 0, None).is_empty()
        );
        assert_eq!(
            codes(&watch.heartbeat(&stamped(beat(0, 0, Some("cc")), 4), at(4), LIMITS, 0, None)),
            [Code::ManifestChanged]
        );
    }

    #[test]
    fn what_the_town_serves_is_compared_with_the_mirror_and_its_heartbeat() {
        let head = |size, root| LogHead { size, root: Hash([root; 32]) };
        let mut watch = TownWatch::new(0);
        assert!(watch.served(Ok(head(10, 1)), Some(Hash([1; 32]))).is_empty());
        assert!(watch.served(Ok(head(20, 1)), None).is_empty());
        let forged = watch.served(Err("not signed by the node key".into()), None);
        assert_eq!(codes(&forged), [Code::ForgedPublication]);
        assert!(watch.served(Err("not signed by the node key".into()), None).is_empty());
        assert!(watch.served(Ok(head(20, 1)), None).is_empty());
        assert_eq!(
            codes(&watch.served(Err("again".into()), None)),
            [Code::ForgedPublication],
            "a new episode"
        );
        // The mirror holds another root for the size served.
        let mut watch = TownWatch::new(0);
        assert_eq!(codes(&watch.served(Ok(head(10, 1)), Some(Hash([2; 32])))), [Code::Fork]);
        // The heartbeat states another root for the size served (beyond the mirror).
        let mut watch = TownWatch::new(0);
        watch.heartbeat(&stamped(beat(30, 3, None), 1), at(1), LIMITS, 10, None);
        assert!(watch.served(Ok(head(30, 3)), None).is_empty());
        assert_eq!(codes(&watch.served(Ok(head(30, 4)), None)), [Code::Fork]);
    }

    #[test]
    fn a_replayed_heartbeat_is_compared_but_not_heard() {
        let mut watch = TownWatch::new(0);
        assert!(
            watch.heartbeat(&stamped(beat(10, 1, None), 100), at(100), LIMITS, 10, None).is_empty()
        );
        // The town falls silent; its old heartbeat, replayed, does not count.
        let replayed = stamped(beat(10, 1, None), 100);
        assert!(watch.heartbeat(&replayed, at(10_000), LIMITS, 10, None).is_empty());
        assert_eq!(codes(&watch.tick(10_101, 10, LIMITS)), [Code::HeartbeatMissing]);
        // Nor does one signed long before now, even if never seen.
        let stale = stamped(beat(10, 1, None), 200);
        assert!(watch.heartbeat(&stale, at(20_000), LIMITS, 10, None).is_empty());
        assert!(watch.tick(20_100, 10, LIMITS).is_empty(), "still missing, alerted once");
        // A replayed heartbeat still shows a fork.
        let forked = stamped(beat(10, 9, None), 50);
        let found = watch.heartbeat(&forked, at(20_200), LIMITS, 10, Some(Hash([1; 32])));
        assert_eq!(codes(&found), [Code::Fork]);
    }

    #[test]
    fn a_pusher_failing_too_long_is_stuck_once_per_episode() {
        let mut pusher = PusherWatch::default();
        assert_eq!(pusher.failed(0, 5000), None);
        assert_eq!(pusher.failed(5000, 5000), None);
        assert_eq!(pusher.failed(5001, 5000).map(|f| f.code), Some(Code::ReplicationStuck));
        assert_eq!(pusher.failed(9000, 5000), None);
        pusher.succeeded();
        assert_eq!(pusher.failed(10_000, 5000), None);
        assert_eq!(pusher.failed(15_001, 5000).map(|f| f.code), Some(Code::ReplicationStuck));
    }
}
