//! The witness against real logs: checkpoints and consistency proofs come from logs built on
//! disk with `tlog-store`, the witness keeps its state in a SQLite file, and every scenario runs
//! both through `Witness::add_checkpoint` and over HTTP (`witness::router` served by axum,
//! posted to with `tlog_http::witness_client::WitnessClient`). Covered: cosigning a growing log,
//! forks and stale old sizes (409), bad proofs (422), unknown origins and keys (404, 403),
//! malformed and oversized requests (400, 413), state across a restart, and the rollback race of
//! the specification under concurrent submissions.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;

use tlog::Hash;
use tlog::checkpoint::Policy;
use tlog::merkle::prove_consistency;
use tlog::note::{KeyKind, Note, NoteSignature, Signer, VerifierKey, append_signatures};
use tlog::witness::{
    AddCheckpoint, MAX_BODY_SIZE, SIZE_CONTENT_TYPE, TEXT_CONTENT_TYPE, parse_response,
    parse_size_body,
};
use tlog_http::witness_client::{WitnessClient, WitnessReply};
use tlog_store::entries::SqliteEntries;
use tlog_store::integrate::{Integration, NoteSigner, integrate, without_witnesses};
use tlog_store::source::TileHashReader;
use tlog_store::tiledir::TileDir;
use witness::{LogConfig, Witness, WitnessError};

const ORIGIN: &str = "juki.test/witnessed-log";
const LOG_SEED: [u8; 32] = [7; 32];
const WITNESS_NAME: &str = "witness.test/w1";
const WITNESS_SEED: [u8; 32] = [42; 32];
const NOW: u64 = 1_750_000_000;

// ---------------------------------------------------------------------------------------------
// A real log on disk.

struct Log {
    _dir: tempfile::TempDir,
    entries: SqliteEntries,
    tiles: TileDir,
    signer: NoteSigner,
    /// Distinguishes the entries of logs that share an origin and key (forks).
    tag: &'static str,
    count: usize,
}

impl Log {
    fn new(origin: &str, seed: [u8; 32], tag: &'static str) -> Log {
        let dir = tempfile::tempdir().unwrap();
        let entries = SqliteEntries::open(&dir.path().join("entries.db")).unwrap();
        let tiles = TileDir::new(dir.path().join("tlog"));
        let signer =
            NoteSigner::new(Signer::from_seed(origin, KeyKind::Ed25519, seed).unwrap()).unwrap();
        Log { _dir: dir, entries, tiles, signer, tag, count: 0 }
    }

    /// Appends `count` entries and publishes a checkpoint covering them.
    fn grow(&mut self, count: usize) -> Integration {
        let batch: Vec<Vec<u8>> = (self.count..self.count + count)
            .map(|i| format!("{} entry {i}", self.tag).into_bytes())
            .collect();
        let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
        self.entries.append(&refs).unwrap();
        self.count += count;
        let done =
            integrate(&self.entries, &self.tiles, &self.signer, &mut without_witnesses).unwrap();
        assert_eq!(done.size, self.count as u64);
        done
    }

    /// The consistency proof from `old` to `new`, read from the tiles on disk.
    fn proof(&self, old: u64, new: u64) -> Vec<Hash> {
        prove_consistency(old, new, &TileHashReader::new(&self.tiles, new)).unwrap()
    }
}

fn log_signer() -> Signer {
    Signer::from_seed(ORIGIN, KeyKind::Ed25519, LOG_SEED).unwrap()
}

fn log_vkey() -> VerifierKey {
    log_signer().verifier()
}

fn witness_signer() -> Signer {
    Signer::from_seed(WITNESS_NAME, KeyKind::Cosignature, WITNESS_SEED).unwrap()
}

fn configs() -> Vec<LogConfig> {
    vec![LogConfig { origin: ORIGIN.into(), vkeys: vec![log_vkey().to_string()] }]
}

fn body(old: u64, proof: &[Hash], checkpoint: &[u8]) -> Vec<u8> {
    AddCheckpoint { old, proof: proof.to_vec(), checkpoint: checkpoint.to_vec() }.to_bytes()
}

/// The request that moves the witness from `old` to the log's checkpoint `to`.
fn advance(log: &Log, old: u64, to: &Integration) -> Vec<u8> {
    body(old, &log.proof(old, to.size), &to.checkpoint)
}

/// Appends the witness's cosignatures to the log's checkpoint and checks them with a client
/// policy that demands the log's signature and this witness's cosignature.
fn check_cosigned(checkpoint: &[u8], cosignatures: &[NoteSignature], size: u64, root: Hash) {
    assert_eq!(cosignatures.len(), 1, "one cosignature per witness key");
    assert_eq!(cosignatures[0].name, WITNESS_NAME);
    let cosigned = append_signatures(checkpoint, cosignatures).unwrap();
    let policy = Policy {
        log_keys: vec![log_vkey()],
        witnesses: vec![witness_signer().verifier()],
        quorum: 1,
    };
    let verified = policy.verify(&cosigned).unwrap();
    assert_eq!((verified.checkpoint.size, verified.checkpoint.root), (size, root));
    assert_eq!(verified.cosignatures.len(), 1);
    assert_eq!(verified.cosignatures[0].0, WITNESS_NAME);
    // The cosignature covers this checkpoint and no other: moved onto a checkpoint of another
    // size, it does not verify.
    let other = tlog::checkpoint::sign(
        &tlog::checkpoint::Checkpoint::new(ORIGIN, size + 1, root),
        &log_signer(),
    )
    .unwrap();
    let moved = append_signatures(&other, cosignatures).unwrap();
    assert!(policy.verify(&moved).is_err(), "a cosignature must not verify on another checkpoint");
}

// ---------------------------------------------------------------------------------------------
// The witness, reached directly or over HTTP.

/// A witness answer reduced to what both transports can report.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reply {
    Cosigned(Vec<NoteSignature>),
    /// 409 with `Content-Type: text/x.tlog.size` and the latest size.
    Conflict(u64),
    /// Any other status.
    Refused(u16),
}

/// An axum server for one witness on 127.0.0.1, stopped (and joined) on drop.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start(witness: Arc<Witness>, prefix: &str) -> Server {
        let prefix = prefix.to_owned();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, witness::router(witness, &prefix))
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        Server { addr, stop: Some(stop_tx), thread: Some(thread) }
    }

    fn url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    Direct,
    Http,
}

/// A witness with its state in a temporary SQLite file, optionally behind an HTTP server.
struct Harness {
    dir: tempfile::TempDir,
    witness: Arc<Witness>,
    http: Option<(WitnessClient, Server)>,
    transport: Transport,
}

impl Harness {
    fn new(transport: Transport) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let witness = Arc::new(open_witness(&dir.path().join("witness.db")));
        let mut harness = Harness { dir, witness, http: None, transport };
        harness.start_http();
        harness
    }

    fn state_path(&self) -> PathBuf {
        self.dir.path().join("witness.db")
    }

    fn start_http(&mut self) {
        if self.transport == Transport::Http {
            let server = Server::start(self.witness.clone(), "");
            let client = WitnessClient::new(&server.url("")).unwrap();
            self.http = Some((client, server));
        }
    }

    fn submit(&self, body: Vec<u8>) -> Reply {
        match &self.http {
            None => from_answer(self.witness.add_checkpoint(&body, NOW)),
            Some((client, _)) => match client.add_checkpoint(body).unwrap() {
                WitnessReply::Cosigned(signatures) => Reply::Cosigned(signatures),
                WitnessReply::Conflict(size) => Reply::Conflict(size),
                WitnessReply::Refused { status, .. } => Reply::Refused(status),
            },
        }
    }

    fn latest(&self) -> Option<(u64, Hash)> {
        self.witness.latest(ORIGIN).unwrap()
    }

    fn evidence(&self) -> u64 {
        self.witness.evidence_count(ORIGIN).unwrap()
    }

    /// Stops the server, drops the witness and opens a new one on the same state file.
    fn restart(&mut self) {
        self.http = None;
        let placeholder = Arc::new(open_witness(&self.dir.path().join("placeholder.db")));
        let old = std::mem::replace(&mut self.witness, placeholder);
        let old = Arc::try_unwrap(old)
            .unwrap_or_else(|_| panic!("the stopped server still holds the witness"));
        drop(old);
        self.witness = Arc::new(open_witness(&self.state_path()));
        self.start_http();
    }
}

fn open_witness(state: &Path) -> Witness {
    Witness::open(witness_signer(), &configs(), state).unwrap()
}

/// Reads a direct answer, checking its content type the way an HTTP client would see it.
fn from_answer(answer: witness::Answer) -> Reply {
    match answer.status {
        200 => {
            assert_eq!(answer.content_type, TEXT_CONTENT_TYPE);
            Reply::Cosigned(parse_response(&answer.body).unwrap())
        }
        409 => {
            assert_eq!(answer.content_type, SIZE_CONTENT_TYPE);
            Reply::Conflict(parse_size_body(&answer.body).unwrap())
        }
        status => {
            assert_eq!(answer.content_type, TEXT_CONTENT_TYPE);
            assert!(answer.body.ends_with(b"\n") && answer.body.len() > 1, "a reason is given");
            Reply::Refused(status)
        }
    }
}

fn cosigned(reply: Reply) -> Vec<NoteSignature> {
    match reply {
        Reply::Cosigned(signatures) => signatures,
        other => panic!("expected a cosignature, got {other:?}"),
    }
}

/// A minimal HTTP/1.1 exchange over a fresh connection, for what a client library would hide:
/// exact headers, and paths or bodies it would not send.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn raw_request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before reading a large body; the answer is what
    // matters, so a failed write is not an error here.
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    parse_raw_response(&response)
}

fn parse_raw_response(response: &[u8]) -> RawResponse {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(response)));
    let head = std::str::from_utf8(&response[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect();
    let mut raw = RawResponse { status, headers, body: Vec::new() };
    let rest = &response[end + 4..];
    raw.body = if raw.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    if let Some(length) = raw.header("content-length") {
        assert_eq!(raw.body.len(), length.parse::<usize>().unwrap(), "truncated body");
    }
    raw
}

fn dechunk(mut input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = input.windows(2).position(|w| w == b"\r\n").unwrap();
        let size_text = std::str::from_utf8(&input[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        input = &input[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&input[..size]);
        input = &input[size + 2..];
    }
}

const BOTH: [Transport; 2] = [Transport::Direct, Transport::Http];

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn cosigns_a_growing_log_round_after_round() {
    for transport in BOTH {
        let h = Harness::new(transport);
        let mut log = Log::new(ORIGIN, LOG_SEED, "main");
        assert_eq!(h.latest(), None);
        // The empty tree first, then growth in uneven steps across tile boundaries, and a round
        // in which nothing was appended (the same checkpoint is cosigned again).
        let mut old = 0;
        for step in [0, 1, 254, 1, 0, 300, 1_000, 2] {
            let done = log.grow(step);
            let request = advance(&log, old, &done);
            if old > 0 && old < done.size {
                assert!(!log.proof(old, done.size).is_empty(), "a real proof is exercised");
            }
            let signatures = cosigned(h.submit(request));
            check_cosigned(&done.checkpoint, &signatures, done.size, done.root);
            assert_eq!(h.latest(), Some((done.size, done.root)), "{transport:?}");
            old = done.size;
        }
        assert_eq!(old, 1_558);
        assert_eq!(h.evidence(), 0, "nothing went wrong, so nothing was kept as evidence");
    }
}

#[test]
fn the_cosignature_carries_the_time_of_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let witness = open_witness(&dir.path().join("w.db"));
    let mut log = Log::new(ORIGIN, LOG_SEED, "main");
    let done = log.grow(3);
    let answer = witness.add_checkpoint(&advance(&log, 0, &done), 1_234_567_890);
    assert_eq!(answer.status, 200);
    let cosigned = append_signatures(&done.checkpoint, &parse_response(&answer.body).unwrap());
    let policy = Policy { log_keys: vec![log_vkey()], witnesses: vec![witness.vkey()], quorum: 1 };
    let verified = policy.verify(&cosigned.unwrap()).unwrap();
    assert_eq!(verified.cosignatures, [(WITNESS_NAME.to_owned(), 1_234_567_890)]);
    assert_eq!(witness.vkey(), witness_signer().verifier());
}

#[test]
fn a_fork_and_a_stale_old_size_are_409_and_change_nothing() {
    for transport in BOTH {
        let h = Harness::new(transport);
        let mut log = Log::new(ORIGIN, LOG_SEED, "main");
        // The same key and origin, other entries: a split view.
        let mut fork = Log::new(ORIGIN, LOG_SEED, "fork");
        let ten = log.grow(10);
        let fork_ten = fork.grow(10);
        assert_ne!(ten.root, fork_ten.root);
        cosigned(h.submit(advance(&log, 0, &ten)));
        let state = Some((10, ten.root));

        // Same size, another root.
        assert_eq!(h.submit(body(10, &[], &fork_ten.checkpoint)), Reply::Conflict(10));
        assert_eq!((h.latest(), h.evidence()), (state, 1), "{transport:?}");
        // A first request from the forked log, which does not know the witness's state.
        assert_eq!(h.submit(advance(&fork, 0, &fork_ten)), Reply::Conflict(10));
        assert_eq!((h.latest(), h.evidence()), (state, 1), "the same fork is kept once");
        // The fork grows on and proves consistency with its own tree, not the cosigned one.
        let fork_twenty = fork.grow(10);
        assert_eq!(h.submit(advance(&fork, 10, &fork_twenty)), Reply::Refused(422));
        assert_eq!((h.latest(), h.evidence()), (state, 1), "a bad proof proves nothing");

        // The real log with an old size the witness did not cosign, smaller and larger.
        let twenty = log.grow(10);
        for old in [5, 11, 19] {
            assert_eq!(h.submit(advance(&log, old, &twenty)), Reply::Conflict(10), "old {old}");
        }
        assert_eq!((h.latest(), h.evidence()), (state, 1), "stale sizes are not evidence");

        // The honest request still goes through.
        cosigned(h.submit(advance(&log, 10, &twenty)));
        assert_eq!(h.latest(), Some((20, twenty.root)));
        assert_eq!(h.evidence(), 1);
    }
}

#[test]
fn a_409_has_the_size_content_type_and_body_on_the_wire() {
    let h = Harness::new(Transport::Http);
    let mut log = Log::new(ORIGIN, LOG_SEED, "main");
    let mut fork = Log::new(ORIGIN, LOG_SEED, "fork");
    let seven = log.grow(7);
    cosigned(h.submit(advance(&log, 0, &seven)));
    let addr = h.http.as_ref().unwrap().1.addr;
    let fork_seven = fork.grow(7);
    for request in [body(7, &[], &fork_seven.checkpoint), advance(&log, 0, &seven)] {
        let response = raw_request(addr, "POST", "/add-checkpoint", &request);
        assert_eq!(response.status, 409);
        assert_eq!(response.header("content-type"), Some(SIZE_CONTENT_TYPE));
        assert_eq!(response.body, b"7\n");
    }
    let ok = raw_request(addr, "POST", "/add-checkpoint", &advance(&log, 7, &seven));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some(TEXT_CONTENT_TYPE));
    check_cosigned(&seven.checkpoint, &parse_response(&ok.body).unwrap(), 7, seven.root);
    // Only POST is routed.
    assert_eq!(raw_request(addr, "GET", "/add-checkpoint", b"").status, 405);
    assert_eq!(raw_request(addr, "POST", "/checkpoint", b"").status, 404);
}

#[test]
fn bad_proofs_are_422_and_change_nothing() {
    for transport in BOTH {
        let h = Harness::new(transport);
        let mut log = Log::new(ORIGIN, LOG_SEED, "main");
        let first = log.grow(300);
        cosigned(h.submit(advance(&log, 0, &first)));
        let state = Some((300, first.root));
        let next = log.grow(700);
        let good = log.proof(300, 1_000);
        assert!(good.len() >= 2);

        let mut bad_proofs: Vec<(String, Vec<Hash>)> = Vec::new();
        for i in 0..good.len() {
            let mut flipped = good.clone();
            flipped[i].0[i % 32] ^= 0x01;
            bad_proofs.push((format!("bit flipped in hash {i}"), flipped));
        }
        let mut swapped = good.clone();
        swapped.swap(0, 1);
        bad_proofs.push(("two hashes swapped".into(), swapped));
        bad_proofs.push(("last hash dropped".into(), good[..good.len() - 1].to_vec()));
        let mut longer = good.clone();
        longer.push(good[0]);
        bad_proofs.push(("a hash appended".into(), longer));
        bad_proofs.push(("empty".into(), Vec::new()));
        // Real proofs from the same log, for other sizes.
        bad_proofs.push(("proof from 299".into(), log.proof(299, 1_000)));
        bad_proofs.push(("proof from 256".into(), log.proof(256, 1_000)));
        bad_proofs.push(("proof to 999".into(), log.proof(300, 999)));
        bad_proofs.push(("proof to 301".into(), log.proof(300, 301)));

        for (what, proof) in &bad_proofs {
            assert_ne!(proof, &good);
            let reply = h.submit(body(300, proof, &next.checkpoint));
            assert_eq!(reply, Reply::Refused(422), "{what} ({transport:?})");
            // Anyone can send a junk proof with a published checkpoint: not evidence.
            assert_eq!((h.latest(), h.evidence()), (state, 0), "{what}");
        }
        // A proof where none belongs: re-submitting the cosigned size, or starting from zero.
        assert_eq!(h.submit(body(300, &good[..1], &first.checkpoint)), Reply::Refused(422));
        let fresh = Harness::new(transport);
        assert_eq!(fresh.submit(body(0, &good[..1], &first.checkpoint)), Reply::Refused(422));
        assert_eq!(fresh.latest(), None);
        assert_eq!(h.latest(), state);

        cosigned(h.submit(body(300, &good, &next.checkpoint)));
        assert_eq!(h.latest(), Some((1_000, next.root)));
    }
}

/// The checkpoint with one bit of its log signature flipped.
fn break_signature(checkpoint: &[u8]) -> Vec<u8> {
    let note = Note::parse(checkpoint).unwrap();
    let mut broken = Note::new(note.text()).unwrap();
    for signature in note.signatures() {
        let mut signature = signature.clone();
        signature.bytes[10] ^= 0x80;
        broken.push_signature(signature).unwrap();
    }
    broken.to_bytes()
}

#[test]
fn unknown_origins_keys_and_bad_signatures_are_refused() {
    for transport in BOTH {
        let h = Harness::new(transport);
        let mut log = Log::new(ORIGIN, LOG_SEED, "main");
        let five = log.grow(5);

        // A log this witness does not watch.
        let mut stranger = Log::new("juki.test/another-log", LOG_SEED, "main");
        let other = stranger.grow(5);
        assert_eq!(h.submit(advance(&stranger, 0, &other)), Reply::Refused(404));
        assert_eq!(h.witness.latest("juki.test/another-log").unwrap(), None);

        // The right origin signed by a key the witness does not trust.
        let mut impostor = Log::new(ORIGIN, [8; 32], "main");
        let forged = impostor.grow(5);
        assert_eq!(forged.root, five.root, "same entries, same tree; only the key differs");
        assert_eq!(h.submit(advance(&impostor, 0, &forged)), Reply::Refused(403));

        // A trusted key whose signature does not verify: a flipped bit, or other text.
        assert_eq!(h.submit(body(0, &[], &break_signature(&five.checkpoint))), Reply::Refused(403));
        let text = String::from_utf8(five.checkpoint.clone()).unwrap();
        let altered = text.replacen("\n5\n", "\n6\n", 1);
        assert_ne!(altered, text);
        assert_eq!(h.submit(body(0, &[], altered.as_bytes())), Reply::Refused(403));
        // Old size larger than the checkpoint's.
        assert_eq!(h.submit(body(6, &[], &five.checkpoint)), Reply::Refused(400));
        assert_eq!(h.submit(body(u64::MAX, &[], &five.checkpoint)), Reply::Refused(400));

        assert_eq!(h.latest(), None, "{transport:?}");
        assert_eq!(h.evidence(), 0, "unsigned requests are not evidence");

        // Signatures from unknown keys beside the trusted one are ignored.
        let extra = Signer::from_seed("someone.else/key", KeyKind::Ed25519, [3; 32]).unwrap();
        let extra_signature = extra.sign(Note::parse(&five.checkpoint).unwrap().text()).unwrap();
        let doubly_signed = append_signatures(&five.checkpoint, &[extra_signature]).unwrap();
        let signatures = cosigned(h.submit(body(0, &[], &doubly_signed)));
        check_cosigned(&five.checkpoint, &signatures, 5, five.root);
        assert_eq!(h.latest(), Some((5, five.root)));
    }
}

#[test]
fn malformed_and_oversized_requests_are_400_and_change_nothing() {
    for transport in BOTH {
        let h = Harness::new(transport);
        let mut log = Log::new(ORIGIN, LOG_SEED, "main");
        let first = log.grow(4);
        cosigned(h.submit(advance(&log, 0, &first)));
        let state = Some((4, first.root));
        let next = log.grow(4);
        let proof = log.proof(4, 8);
        let good = body(4, &proof, &next.checkpoint);
        let checkpoint = String::from_utf8(next.checkpoint.clone()).unwrap();
        let proof_lines: String = proof.iter().map(|h| format!("{}\n", h.to_base64())).collect();

        let malformed: Vec<(&str, Vec<u8>)> = vec![
            ("empty", Vec::new()),
            ("only the old line", b"old 4\n".to_vec()),
            ("no blank line", format!("old 4\n{proof_lines}{checkpoint}").into_bytes()),
            ("leading zero", format!("old 04\n{proof_lines}\n{checkpoint}").into_bytes()),
            ("negative", format!("old -4\n{proof_lines}\n{checkpoint}").into_bytes()),
            ("two spaces", format!("old  4\n{proof_lines}\n{checkpoint}").into_bytes()),
            ("CRLF", format!("old 4\r\n{proof_lines}\n{checkpoint}").into_bytes()),
            ("not old", format!("new 4\n{proof_lines}\n{checkpoint}").into_bytes()),
            ("bad base64", format!("old 4\n@@@@\n\n{checkpoint}").into_bytes()),
            (
                "short hash",
                format!("old 4\n{}\n\n{checkpoint}", &proof[0].to_base64()[..40]).into_bytes(),
            ),
            (
                "64 proof lines",
                format!(
                    "old 4\n{}\n{checkpoint}",
                    format!("{}\n", proof[0].to_base64()).repeat(64)
                )
                .into_bytes(),
            ),
            ("no checkpoint", format!("old 4\n{proof_lines}\n").into_bytes()),
            (
                "unsigned checkpoint",
                format!("old 4\n{proof_lines}\n{ORIGIN}\n8\n{}\n", next.root.to_base64())
                    .into_bytes(),
            ),
            (
                "not a checkpoint",
                format!("old 4\n{proof_lines}\n{}", checkpoint.replacen("\n8\n", "\neight\n", 1))
                    .into_bytes(),
            ),
            ("invalid UTF-8", [&b"old 4\n\n"[..], &[0xff, 0xfe, b'\n']].concat()),
        ];
        for (what, request) in &malformed {
            assert_ne!(request, &good);
            assert_eq!(h.submit(request.clone()), Reply::Refused(400), "{what} ({transport:?})");
            assert_eq!(h.latest(), state, "{what}");
        }

        // Larger than the limit: padding after the checkpoint makes it exceed 1 MiB.
        let mut huge = good.clone();
        huge.resize(MAX_BODY_SIZE + 1, b'a');
        let status = match h.submit(huge.clone()) {
            Reply::Refused(status) => status,
            other => panic!("an oversized body was answered {other:?}"),
        };
        match transport {
            // The body limit stops it before the witness sees it.
            Transport::Http => assert_eq!(status, 413),
            Transport::Direct => assert_eq!(status, 400),
        }
        // Exactly at the limit it reaches the parser, which finds the padding malformed.
        huge.truncate(MAX_BODY_SIZE);
        assert_eq!(h.submit(huge), Reply::Refused(400));

        assert_eq!((h.latest(), h.evidence()), (state, 0));
        cosigned(h.submit(good));
        assert_eq!(h.latest(), Some((8, next.root)));
    }
}

#[test]
fn an_oversized_body_is_refused_on_the_wire_whatever_its_framing() {
    let h = Harness::new(Transport::Http);
    let addr = h.http.as_ref().unwrap().1.addr;
    let huge = vec![b'a'; MAX_BODY_SIZE + 1];
    let response = raw_request(addr, "POST", "/add-checkpoint", &huge);
    assert_eq!(response.status, 413);

    // Without a Content-Length the limit must still hold while the body streams in.
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..(MAX_BODY_SIZE / chunk.len() + 2) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&framed).is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let response = parse_raw_response(&raw);
    assert_eq!(response.status, 413);
    assert_eq!(h.latest(), None);
}

#[test]
fn state_survives_a_restart() {
    for transport in BOTH {
        let mut h = Harness::new(transport);
        let mut log = Log::new(ORIGIN, LOG_SEED, "main");
        let a = log.grow(100);
        cosigned(h.submit(advance(&log, 0, &a)));
        let b = log.grow(200);
        cosigned(h.submit(advance(&log, 100, &b)));
        let mut fork = Log::new(ORIGIN, LOG_SEED, "fork");
        let fork_b = fork.grow(300);
        assert_eq!(h.submit(body(300, &[], &fork_b.checkpoint)), Reply::Conflict(300));
        assert_eq!(h.evidence(), 1);

        h.restart();
        assert_eq!(h.latest(), Some((300, b.root)), "{transport:?}");
        assert_eq!(h.evidence(), 1, "evidence is kept too");
        // A log that lost track asks with 0 and learns the size cosigned before the restart.
        assert_eq!(h.submit(advance(&log, 0, &b)), Reply::Conflict(300));
        // The older checkpoint is not cosigned again.
        assert_eq!(h.submit(advance(&log, 100, &a)), Reply::Conflict(300));
        // The fork is still refused.
        assert_eq!(h.submit(body(300, &[], &fork_b.checkpoint)), Reply::Conflict(300));
        let c = log.grow(50);
        let signatures = cosigned(h.submit(advance(&log, 300, &c)));
        check_cosigned(&c.checkpoint, &signatures, 350, c.root);

        h.restart();
        assert_eq!(h.latest(), Some((350, c.root)));
        assert_eq!(h.submit(advance(&log, 300, &c)), Reply::Conflict(350));
    }
}

#[test]
fn a_prefix_mounts_the_endpoint_below_it() {
    let dir = tempfile::tempdir().unwrap();
    let witness = Arc::new(open_witness(&dir.path().join("w.db")));
    let server = Server::start(witness.clone(), "/witness/");
    let mut log = Log::new(ORIGIN, LOG_SEED, "main");
    let done = log.grow(2);
    let request = advance(&log, 0, &done);
    assert_eq!(raw_request(server.addr, "POST", "/add-checkpoint", &request).status, 404);
    assert_eq!(witness.latest(ORIGIN).unwrap(), None);
    let client = WitnessClient::new(&server.url("/witness")).unwrap();
    match client.add_checkpoint(request).unwrap() {
        WitnessReply::Cosigned(signatures) => {
            check_cosigned(&done.checkpoint, &signatures, 2, done.root);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(witness.latest(ORIGIN).unwrap(), Some((2, done.root)));
}

#[test]
fn bad_configurations_are_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("w.db");
    let config_error = |result: Result<Witness, WitnessError>| match result {
        Err(WitnessError::Config(message)) => message,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted"),
    };
    // A log key cannot cosign.
    let message = config_error(Witness::open(log_signer(), &configs(), &state));
    assert!(message.contains("cosignature key"), "{message}");
    // A witness key is not a log key.
    let witness_as_log =
        LogConfig { origin: ORIGIN.into(), vkeys: vec![witness_signer().verifier().to_string()] };
    let message = config_error(Witness::open(witness_signer(), &[witness_as_log], &state));
    assert!(message.contains("not an Ed25519 log key"), "{message}");
    let twice = [configs(), configs()].concat();
    assert!(config_error(Witness::open(witness_signer(), &twice, &state)).contains("twice"));
    let none = LogConfig { origin: ORIGIN.into(), vkeys: Vec::new() };
    assert!(config_error(Witness::open(witness_signer(), &[none], &state)).contains("no vkeys"));
    let bad = LogConfig { origin: ORIGIN.into(), vkeys: vec!["nonsense".into()] };
    assert!(config_error(Witness::open(witness_signer(), &[bad], &state)).contains("bad vkey"));
}

/// The outcome of one round of the rollback race.
struct RaceOutcome {
    /// Successes per request kind.
    cosigned: [usize; 3],
    final_size: u64,
}

/// Many threads submit, from the same stored size `s0`, checkpoints of sizes `n` and `n + k`,
/// and `n → n + k` follow-ups, at once. Without an atomic check-and-persist, both `s0 → n` and
/// `s0 → n + k` could be cosigned and the stored size could go back from `n + k` to `n`.
fn race(witnesses: &[Arc<Witness>], requests: &[Vec<u8>; 3], threads: usize) -> RaceOutcome {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // A monitor watches the stored size while the race runs.
    let monitor = {
        let (witness, stop) = (witnesses[0].clone(), stop.clone());
        thread::spawn(move || {
            let mut seen = Vec::new();
            let mut done = false;
            while !done {
                done = stop.load(std::sync::atomic::Ordering::Relaxed);
                let size = witness.latest(ORIGIN).unwrap().unwrap().0;
                // Consecutive repeats are dropped; a change, forwards or back, is kept.
                if seen.last() != Some(&size) {
                    seen.push(size);
                }
            }
            seen
        })
    };
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let witness = witnesses[i % witnesses.len()].clone();
            let request = requests[i % 3].clone();
            let (barrier, results) = (barrier.clone(), results.clone());
            thread::spawn(move || {
                barrier.wait();
                let answer = witness.add_checkpoint(&request, NOW);
                results.lock().unwrap().push((i % 3, answer));
            })
        })
        .collect();
    barrier.wait();
    for worker in workers {
        worker.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = monitor.join().unwrap();
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "the stored size went backwards: {seen:?}");

    let mut cosigned = [0; 3];
    for (kind, answer) in results.lock().unwrap().iter() {
        match answer.status {
            200 => cosigned[*kind] += 1,
            409 => assert_eq!(answer.content_type, SIZE_CONTENT_TYPE),
            status => panic!("request kind {kind} was answered {status}: {answer:?}"),
        }
    }
    let final_size = witnesses[0].latest(ORIGIN).unwrap().unwrap().0;
    RaceOutcome { cosigned, final_size }
}

fn check_race_outcomes(witnesses_per_round: usize) {
    let mut log = Log::new(ORIGIN, LOG_SEED, "main");
    let (s0, n, nk) = (1_000u64, 1_300u64, 2_000u64);
    let start = log.grow(s0 as usize);
    let at_n = log.grow((n - s0) as usize);
    let at_nk = log.grow((nk - n) as usize);
    let requests = [
        body(s0, &log.proof(s0, n), &at_n.checkpoint),
        body(s0, &log.proof(s0, nk), &at_nk.checkpoint),
        body(n, &log.proof(n, nk), &at_nk.checkpoint),
    ];
    let mut seen_orders = [false; 2];
    for round in 0..12 {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("w.db");
        let witnesses: Vec<Arc<Witness>> =
            (0..witnesses_per_round).map(|_| Arc::new(open_witness(&state))).collect();
        assert_eq!(witnesses[0].add_checkpoint(&body(0, &[], &start.checkpoint), NOW).status, 200);
        let outcome = race(&witnesses, &requests, 24);
        let [to_n, to_nk, n_to_nk] = outcome.cosigned;
        assert_eq!(to_n + to_nk, 1, "round {round}: exactly one request from the old size wins");
        assert!(n_to_nk <= 1, "round {round}: {n_to_nk} follow-ups were cosigned");
        if to_nk == 1 {
            assert_eq!((n_to_nk, outcome.final_size), (0, nk), "round {round}");
        } else if n_to_nk == 1 {
            assert_eq!(outcome.final_size, nk, "round {round}");
        } else {
            assert_eq!(outcome.final_size, n, "round {round}");
        }
        seen_orders[usize::from(to_n == 1)] = true;
        for witness in &witnesses {
            let root = if outcome.final_size == n { at_n.root } else { at_nk.root };
            assert_eq!(witness.latest(ORIGIN).unwrap(), Some((outcome.final_size, root)));
        }
    }
    // Not an assertion about the code, only about whether the race was exercised: report it.
    eprintln!("orders seen (n+k first, n first): {seen_orders:?}");
}

#[test]
fn concurrent_conflicting_checkpoints_never_roll_the_state_back() {
    check_race_outcomes(1);
}

#[test]
fn two_witness_handles_on_one_state_file_never_roll_it_back() {
    // Two handles have two connections and two mutexes: only the SQLite transaction keeps the
    // check and the update together, as it must across processes.
    check_race_outcomes(2);
}
