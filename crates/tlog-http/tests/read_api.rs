//! The tlog-tiles read API served over real sockets from a real log on disk: content types and
//! caching of checkpoints, tiles and entry bundles; exact bytes; superseded partial tiles served
//! as prefixes; path traversal and non-canonical paths refused; routes under a prefix; whole-log
//! verification through `HttpSource`, including a tampered tile; and the same over TLS with a
//! private CA.

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;

use tlog::leaf_hash;
use tlog::tile::{TileId, TileKind, bundle_bytes};
use tlog_http::client::HttpSource;
use tlog_http::server::{CHECKPOINT_CACHE, TILE_CACHE};
use tlog_store::entries::SqliteEntries;
use tlog_store::integrate::{Integration, NoteSigner, integrate, without_witnesses};
use tlog_store::source::TileSource;
use tlog_store::tiledir::TileDir;
use tlog_store::verify::{check_consistency, verify_tree};

const ORIGIN: &str = "juki.test/read-api";

/// A log on disk, grown to 1,000 entries (checkpointed), then to 3,000 (checkpointed): at
/// 3,000 there are 11 full level-0 tiles, `tile/0/011.p/184`, and `tile/1/000.p/11`; the
/// partial tiles of size 1,000 at level 0 (`tile/0/003.p/232`, `tile/entries/003.p/232`) have
/// been replaced by full tiles and deleted, and `tile/1/000.p/3` remains.
struct Log {
    dir: tempfile::TempDir,
    tiles: TileDir,
    entries: Vec<Vec<u8>>,
    first: Integration,
    last: Integration,
}

impl Log {
    fn new() -> Log {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteEntries::open(&dir.path().join("entries.db")).unwrap();
        let tiles = TileDir::new(dir.path().join("tlog"));
        let signer = NoteSigner::new(
            tlog::note::Signer::from_seed(ORIGIN, tlog::note::KeyKind::Ed25519, [5; 32]).unwrap(),
        )
        .unwrap();
        let entries: Vec<Vec<u8>> =
            (0..3_000).map(|i| format!("entry {i} {}", "y".repeat(i % 41)).into_bytes()).collect();
        let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
        store.append(&refs[..1_000]).unwrap();
        let first = integrate(&store, &tiles, &signer, &mut without_witnesses).unwrap();
        store.append(&refs[1_000..]).unwrap();
        let last = integrate(&store, &tiles, &signer, &mut without_witnesses).unwrap();
        assert_eq!((first.size, last.size), (1_000, 3_000));
        Log { dir, tiles, entries, first, last }
    }

    fn on_disk(&self, tile: TileId) -> Vec<u8> {
        fs::read(self.tiles.tile_path(tile)).unwrap()
    }
}

fn hashes(level: u8, index: u64, width: u16) -> TileId {
    TileId { kind: TileKind::Hashes { level }, index, width }
}

fn bundle(index: u64, width: u16) -> TileId {
    TileId { kind: TileKind::Entries, index, width }
}

/// The read API on 127.0.0.1, over TLS when configured; stopped and joined on drop.
struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    fn start(tiles: TileDir, prefix: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Server {
        let app = tlog_http::server::router(tiles, prefix);
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
                tlog_http::server::serve(listener, app, tls, async {
                    let _ = stop_rx.await;
                })
                .await
            })
        });
        let addr = addr_rx.recv().unwrap();
        Server { addr, stop: Some(stop_tx), thread: Some(thread) }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let result = thread.join().expect("the server thread panicked");
            if !thread::panicking() {
                result.expect("the server failed");
            }
        }
    }
}

/// A response as a client library sees it.
struct Got {
    status: u16,
    content_type: Option<String>,
    cache_control: Option<String>,
    body: Vec<u8>,
}

/// One GET with reqwest (which normalizes the URL, as any client would).
fn get(url: &str) -> Got {
    request(reqwest::Method::GET, url)
}

fn request(method: reqwest::Method, url: &str) -> Got {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new().request(method, url).send().await.unwrap();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_owned())
        };
        let status = response.status().as_u16();
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let cache_control = header(reqwest::header::CACHE_CONTROL);
        let body = response.bytes().await.unwrap().to_vec();
        Got { status, content_type, cache_control, body }
    })
}

/// One request written by hand, with the request target exactly as given: no client library
/// would send `..` segments unresolved.
fn raw_get(addr: SocketAddr, target: &str) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
    let head = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| {
        panic!("{target}: no response: {:?}", String::from_utf8_lossy(&response))
    });
    let status_line = std::str::from_utf8(&response[..end]).unwrap().lines().next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    (status, response[end + 4..].to_vec())
}

fn max_age(cache_control: &str) -> u64 {
    cache_control
        .split(',')
        .find_map(|d| d.trim().strip_prefix("max-age="))
        .unwrap_or_else(|| panic!("no max-age in {cache_control:?}"))
        .parse()
        .unwrap()
}

#[test]
fn checkpoint_tiles_and_bundles_have_their_content_types_caching_and_bytes() {
    let log = Log::new();
    let server = Server::start(log.tiles.clone(), "", None);

    let checkpoint = get(&format!("{}/checkpoint", server.url()));
    assert_eq!(checkpoint.status, 200);
    assert_eq!(checkpoint.content_type.as_deref(), Some("text/plain; charset=utf-8"));
    let cache = checkpoint.cache_control.unwrap();
    assert_eq!(cache, CHECKPOINT_CACHE);
    assert!((1..=10).contains(&max_age(&cache)), "a checkpoint is cached seconds at most");
    assert!(!cache.contains("immutable"));
    assert_eq!(checkpoint.body, log.last.checkpoint);
    assert_eq!(checkpoint.body, fs::read(log.tiles.checkpoint_path()).unwrap());

    let stored = [
        hashes(0, 0, 256),
        hashes(0, 10, 256),
        hashes(0, 11, 184),
        hashes(1, 0, 11),
        hashes(1, 0, 3),
        bundle(0, 256),
        bundle(3, 256),
        bundle(11, 184),
    ];
    for tile in stored {
        let got = get(&format!("{}/{}", server.url(), tile.path()));
        assert_eq!(got.status, 200, "{tile}");
        assert_eq!(got.content_type.as_deref(), Some("application/octet-stream"), "{tile}");
        let cache = got.cache_control.unwrap();
        assert_eq!(cache, TILE_CACHE);
        assert!(cache.contains("immutable") && max_age(&cache) >= 365 * 24 * 3600, "{cache}");
        assert_eq!(got.body, log.on_disk(tile), "{tile} is served byte for byte");
    }
    // The bytes are the tree's: a level-0 tile is the leaf hashes, a bundle the entries.
    let leaves: Vec<u8> = log.entries[2_816..].iter().flat_map(|e| leaf_hash(e).0).collect();
    assert_eq!(get(&format!("{}/tile/0/011.p/184", server.url())).body, leaves);
    let expected = bundle_bytes(log.entries[2_816..].iter().map(Vec::as_slice)).unwrap();
    assert_eq!(get(&format!("{}/tile/entries/011.p/184", server.url())).body, expected);
    // HEAD works where GET does, without a body.
    let head = request(reqwest::Method::HEAD, &format!("{}/tile/0/000", server.url()));
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.content_type.as_deref(), Some("application/octet-stream"));
}

#[test]
fn superseded_partial_tiles_are_served_as_prefixes_of_the_full_tile() {
    let log = Log::new();
    let server = Server::start(log.tiles.clone(), "", None);
    // The partial tiles of the first checkpoint were deleted once their full tiles existed.
    let old_partial = hashes(0, 3, 232);
    let old_bundle = bundle(3, 232);
    assert_eq!(log.tiles.read_tile(old_partial).unwrap(), None);
    assert_eq!(log.tiles.read_tile(old_bundle).unwrap(), None);

    let full = log.on_disk(hashes(0, 3, 256));
    let got = get(&format!("{}/{}", server.url(), old_partial.path()));
    assert_eq!((got.status, got.content_type.as_deref()), (200, Some("application/octet-stream")));
    assert_eq!(got.cache_control.as_deref(), Some(TILE_CACHE));
    assert_eq!(got.body, full[..232 * 32]);
    let leaves: Vec<u8> = log.entries[768..1_000].iter().flat_map(|e| leaf_hash(e).0).collect();
    assert_eq!(got.body, leaves);

    let got = get(&format!("{}/{}", server.url(), old_bundle.path()));
    assert_eq!(got.status, 200);
    let expected = bundle_bytes(log.entries[768..1_000].iter().map(Vec::as_slice)).unwrap();
    assert_eq!(got.body, expected);
    assert!(log.on_disk(bundle(3, 256)).starts_with(&got.body));

    // The level-1 partial of the first checkpoint stays on disk, a prefix of the current one.
    let old_upper = get(&format!("{}/tile/1/000.p/3", server.url())).body;
    let new_upper = get(&format!("{}/tile/1/000.p/11", server.url())).body;
    assert_eq!(old_upper.len(), 3 * 32);
    assert!(new_upper.starts_with(&old_upper));

    // Any narrower width is a prefix of the narrowest wider tile still on disk, full or
    // partial: proofs can be built for every size up to the checkpoint.
    for (narrow, wider) in [
        (hashes(0, 11, 100), hashes(0, 11, 184)),
        (hashes(0, 11, 1), hashes(0, 11, 184)),
        (bundle(11, 100), bundle(11, 184)),
        (hashes(1, 0, 2), hashes(1, 0, 3)),
        (hashes(1, 0, 5), hashes(1, 0, 11)),
        (hashes(0, 0, 1), hashes(0, 0, 256)),
    ] {
        assert_eq!(log.tiles.read_tile(narrow).unwrap(), None, "{narrow} is not stored");
        let got = get(&format!("{}/{}", server.url(), narrow.path()));
        assert_eq!(got.status, 200, "{narrow}");
        let on_disk = log.on_disk(wider);
        assert!(on_disk.starts_with(&got.body), "{narrow} is a prefix of {wider}");
        let expected = match narrow.kind {
            TileKind::Hashes { .. } => usize::from(narrow.width) * 32,
            TileKind::Entries => {
                let first = narrow.index as usize * 256;
                let widths = &log.entries[first..first + usize::from(narrow.width)];
                widths.iter().map(|e| 2 + e.len()).sum()
            }
        };
        assert_eq!(got.body.len(), expected, "{narrow}");
    }

    // A client verifying the first checkpoint today reads exactly those tiles.
    let source = HttpSource::new(&server.url(), None).unwrap();
    let verified = verify_tree(&source, 1_000, &log.first.root, &mut |_| {}).unwrap();
    assert_eq!((verified.size, verified.entry_bundles), (1_000, 4));
}

#[test]
fn bad_paths_are_refused_and_never_reach_a_file() {
    let log = Log::new();
    // Files an escape could reach: beside the tile directory, at its root, and a tile stored
    // under a non-canonical name.
    fs::write(log.dir.path().join("secret"), "SECRET-OUTSIDE").unwrap();
    fs::write(log.tiles.root().join("secret"), "SECRET-ROOT").unwrap();
    fs::create_dir_all(log.tiles.root().join("tile/00")).unwrap();
    fs::write(log.tiles.root().join("tile/00/000"), "SECRET-NONCANONICAL").unwrap();
    let server = Server::start(log.tiles.clone(), "", None);
    let checkpoint_text = String::from_utf8(log.last.checkpoint.clone()).unwrap();

    let bad = [
        "/tile/../..",
        "/tile/../secret",
        "/tile/../../secret",
        "/tile/0/../../checkpoint",
        "/tile/0/../../secret",
        "/tile/%2e%2e/x",
        "/tile/%2e%2e/secret",
        "/tile/%2e%2e/%2e%2e/secret",
        "/tile/..%2f..%2fsecret",
        "/tile/0/000%2f..%2f..%2f..%2fcheckpoint",
        "/tile/00/000",
        "/tile/0/000.p/0",
        "/tile/0/000.p/256",
        "/tile/0/000.p/01",
        "/tile/0/000.p/",
        "/tile/0/011.p/184/",
        "/tile/64/000",
        "/tile/-1/000",
        "/tile/0/0",
        "/tile/0/0000",
        "/tile/0/x000/001",
        "/tile/0/x1/000",
        "/tile/0/000/",
        "/tile/entries/",
        "/tile/",
        "/tile",
        "/tile/0",
        "/tile/0/",
        "/tile/0/000%00",
        "/tile//0/000",
        "/secret",
        "/.integrate.lock",
        "/checkpoint/",
        "/checkpoint/../tile/0/000",
        "//checkpoint",
    ];
    let mut statuses = Vec::new();
    for target in bad {
        let (status, body) = raw_get(server.addr, target);
        let body = String::from_utf8_lossy(&body);
        assert!(status == 400 || status == 404, "{target} was answered {status}: {body}");
        assert!(!body.contains("SECRET"), "{target} leaked a file: {body}");
        assert!(!body.contains(&checkpoint_text), "{target} served the checkpoint");
        statuses.push((target, status));
    }
    // The paths that name the tile space are judged by the tile path parser: 400, not 404.
    for (target, status) in &statuses {
        let parsed_as_tile = target.starts_with("/tile/") && target.len() > "/tile/".len();
        if parsed_as_tile && !target.starts_with("/tile//") {
            assert_eq!(*status, 400, "{target}");
        }
    }
    // The same paths through a client library (which resolves dot segments) also fail or land
    // on a real resource, never on a secret.
    for target in bad {
        let got = get(&format!("{}{target}", server.url()));
        assert!(!String::from_utf8_lossy(&got.body).contains("SECRET"), "{target}");
    }
    // Percent-encoded digits are the same path (RFC 3986 §6.2.2.2), so that is the tile.
    let (status, body) = raw_get(server.addr, "/tile/0/%30%30%30");
    assert_eq!((status, body), (200, log.on_disk(hashes(0, 0, 256))));
    assert_eq!(raw_get(server.addr, "/tile/0/011.p/184").0, 200);
}

#[test]
fn tiles_beyond_the_tree_are_404() {
    let log = Log::new();
    let server = Server::start(log.tiles.clone(), "", None);
    let beyond = [
        hashes(0, 11, 256),
        hashes(0, 11, 185),
        hashes(0, 11, 255),
        hashes(0, 12, 256),
        hashes(0, 12, 1),
        hashes(0, 1_000, 256),
        hashes(1, 0, 256),
        hashes(1, 0, 12),
        hashes(1, 1, 1),
        hashes(2, 0, 1),
        hashes(63, 0, 256),
        bundle(11, 256),
        bundle(12, 256),
        bundle(12, 5),
        bundle(u64::MAX, 256),
    ];
    for tile in beyond {
        let got = get(&format!("{}/{}", server.url(), tile.path()));
        assert_eq!(got.status, 404, "{tile}");
        assert_eq!(got.content_type.as_deref(), Some("text/plain; charset=utf-8"), "{tile}");
        assert!(got.cache_control.is_none(), "a 404 for {tile} must not be cached as immutable");
    }
    // An empty log directory has no checkpoint yet.
    let empty = tempfile::tempdir().unwrap();
    let server = Server::start(TileDir::new(empty.path()), "", None);
    let got = get(&format!("{}/checkpoint", server.url()));
    assert_eq!(got.status, 404);
    assert!(got.cache_control.is_none());
}

#[test]
fn only_get_is_allowed() {
    let log = Log::new();
    let server = Server::start(log.tiles.clone(), "", None);
    for path in ["/checkpoint", "/tile/0/000", "/tile/entries/000"] {
        for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let got = request(method.clone(), &format!("{}{path}", server.url()));
            assert_eq!(got.status, 405, "{method} {path}");
        }
    }
    assert_eq!(fs::read(log.tiles.checkpoint_path()).unwrap(), log.last.checkpoint);
}

#[test]
fn routes_live_under_the_prefix() {
    let log = Log::new();
    for prefix in ["/logs/a", "/logs/a/"] {
        let server = Server::start(log.tiles.clone(), prefix, None);
        let base = server.url();
        let got = get(&format!("{base}/logs/a/checkpoint"));
        assert_eq!((got.status, got.body), (200, log.last.checkpoint.clone()), "{prefix}");
        let got = get(&format!("{base}/logs/a/tile/0/000"));
        assert_eq!((got.status, got.body), (200, log.on_disk(hashes(0, 0, 256))));
        for outside in ["/checkpoint", "/tile/0/000", "/logs/b/checkpoint", "/logs/checkpoint"] {
            assert_eq!(get(&format!("{base}{outside}")).status, 404, "{prefix}: {outside}");
        }
        assert_eq!(raw_get(server.addr, "/logs/a/tile/../checkpoint").0, 400);
        assert_eq!(raw_get(server.addr, "/logs/a/../a/checkpoint").0, 404);
        let source = HttpSource::new(&format!("{base}/logs/a/"), None).unwrap();
        assert_eq!(source.checkpoint().unwrap(), log.last.checkpoint);
    }
}

#[test]
fn http_source_verifies_the_served_log() {
    let log = Log::new();
    let server = Server::start(log.tiles.clone(), "", None);
    let source = HttpSource::new(&server.url(), None).unwrap();
    assert_eq!(source.checkpoint().unwrap(), log.last.checkpoint);
    let mut progress = Vec::new();
    let verified =
        verify_tree(&source, log.last.size, &log.last.root, &mut |n| progress.push(n)).unwrap();
    assert_eq!(
        verified,
        verify_tree(&log.tiles, log.last.size, &log.last.root, &mut |_| {}).unwrap()
    );
    assert_eq!((verified.size, verified.entry_bundles), (3_000, 12));
    let entry_bytes: usize = log.entries.iter().map(Vec::len).sum();
    assert_eq!(verified.entry_bytes, entry_bytes as u64);
    assert_eq!(progress.last(), Some(&3_000));
    // The served tree extends the first checkpoint, and not a tree with another root.
    check_consistency(&source, (1_000, log.first.root), (3_000, log.last.root)).unwrap();
    assert!(check_consistency(&source, (1_000, log.last.root), (3_000, log.last.root)).is_err());
    // Against the wrong root, the same tiles fail.
    assert!(verify_tree(&source, 3_000, &log.first.root, &mut |_| {}).is_err());
}

#[test]
fn a_tampered_or_missing_tile_fails_verification_and_is_named() {
    let log = Log::new();
    let server = Server::start(log.tiles.clone(), "", None);
    let source = HttpSource::new(&server.url(), None).unwrap();
    let verify = || verify_tree(&source, log.last.size, &log.last.root, &mut |_| {});
    verify().unwrap();

    // One bit of a leaf hash in a full level-0 tile.
    let tile = hashes(0, 4, 256);
    let path = log.tiles.tile_path(tile);
    let original = fs::read(&path).unwrap();
    let mut changed = original.clone();
    changed[100] ^= 0x04;
    fs::write(&path, &changed).unwrap();
    let error = verify().unwrap_err().to_string();
    assert!(error.contains("tile/0/004"), "{error}");
    fs::write(&path, &original).unwrap();
    verify().unwrap();

    // One byte of an entry in a bundle.
    let path = log.tiles.tile_path(bundle(7, 256));
    let original = fs::read(&path).unwrap();
    let mut changed = original.clone();
    *changed.last_mut().unwrap() ^= 0x01;
    fs::write(&path, &changed).unwrap();
    let error = verify().unwrap_err().to_string();
    assert!(error.contains(&format!("entry {} does not match", 8 * 256 - 1)), "{error}");
    assert!(error.contains("tile/0/007"), "{error}");
    fs::write(&path, &original).unwrap();

    // The partial upper tile on the right edge.
    let path = log.tiles.tile_path(hashes(1, 0, 11));
    let original = fs::read(&path).unwrap();
    let mut changed = original.clone();
    changed[0] ^= 0x01;
    fs::write(&path, &changed).unwrap();
    let error = verify().unwrap_err().to_string();
    assert!(error.contains("right edge"), "{error}");
    fs::write(&path, &original).unwrap();

    // A tile that is gone: the server's 404 surfaces with the URL of the tile.
    let path = log.tiles.tile_path(hashes(0, 2, 256));
    fs::rename(&path, log.dir.path().join("moved")).unwrap();
    let error = verify().unwrap_err().to_string();
    assert!(error.contains("tile/0/002") && error.contains("404"), "{error}");
    fs::rename(log.dir.path().join("moved"), &path).unwrap();
    verify().unwrap();
}

#[test]
fn the_read_api_over_tls_with_a_private_ca() {
    let log = Log::new();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let pem_dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (pem_dir.path().join("cert.pem"), pem_dir.path().join("key.pem"));
    let cert_pem = certified.cert.pem();
    fs::write(&cert_path, &cert_pem).unwrap();
    fs::write(&key_path, certified.signing_key.serialize_pem()).unwrap();
    let config = tlog_http::tls::server_config(&cert_path, &key_path).unwrap();
    let server = Server::start(log.tiles.clone(), "/log", Some(config));
    let url = format!("https://127.0.0.1:{}/log", server.addr.port());

    let source = HttpSource::new(&url, Some(cert_pem.as_bytes())).unwrap();
    assert_eq!(source.checkpoint().unwrap(), log.last.checkpoint);
    let verified = verify_tree(&source, log.last.size, &log.last.root, &mut |_| {}).unwrap();
    assert_eq!(verified.entry_bundles, 12);
    let localhost = format!("https://localhost:{}/log", server.addr.port());
    let by_name = HttpSource::new(&localhost, Some(cert_pem.as_bytes())).unwrap();
    assert_eq!(by_name.tiles(&[hashes(0, 0, 256)]).unwrap()[0], log.on_disk(hashes(0, 0, 256)));

    // Without the CA the certificate is not trusted; plain HTTP to the TLS port gets nothing.
    let untrusted = HttpSource::new(&url, None).unwrap();
    assert!(untrusted.checkpoint().is_err());
    let plain = HttpSource::new(&format!("http://127.0.0.1:{}/log", server.addr.port()), None);
    assert!(plain.unwrap().checkpoint().is_err());
    // Another CA does not vouch for this server.
    let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let wrong_ca = HttpSource::new(&url, Some(other.cert.pem().as_bytes())).unwrap();
    assert!(wrong_ca.checkpoint().is_err());
    // The server is still healthy after the failed handshakes.
    assert_eq!(source.checkpoint().unwrap(), log.last.checkpoint);

    // Unusable certificate and key files are reported, naming the file.
    fs::write(pem_dir.path().join("empty.pem"), "").unwrap();
    let error =
        tlog_http::tls::server_config(&pem_dir.path().join("empty.pem"), &key_path).unwrap_err();
    assert!(error.to_string().contains("empty.pem"), "{error}");
    let error = tlog_http::tls::server_config(&cert_path, &cert_path).unwrap_err();
    assert!(error.to_string().contains("cert.pem"), "{error}");
    assert!(HttpSource::new(&url, Some(b"not a certificate")).is_err());
}

/// Entry bundles are sent gzip-compressed to clients that accept it (and the HTTP client
/// undoes it); hash tiles, which are random bytes, are not.
#[test]
fn entry_bundles_are_compressed_and_hash_tiles_are_not() {
    let log = Log::new();
    let server = Server::start(log.tiles.clone(), "", None);
    let head = |target: &str| {
        let mut stream = TcpStream::connect(server.addr).unwrap();
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
            server.addr
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        (head, response.len() - end - 4)
    };
    let bundle_path = format!("/{}", bundle(0, 256).path());
    let (bundle_head, compressed_len) = head(&bundle_path);
    assert!(bundle_head.contains("content-encoding: gzip"), "{bundle_head}");
    assert!(compressed_len < log.on_disk(bundle(0, 256)).len(), "the bundle got smaller");
    let (tile_head, _) = head(&format!("/{}", hashes(0, 0, 256).path()));
    assert!(tile_head.starts_with("http/1.1 200"), "{tile_head}");
    assert!(!tile_head.contains("content-encoding"), "{tile_head}");
    // A client that does not ask for gzip gets the bundle as it is.
    let (status, plain) = raw_get(server.addr, &bundle_path);
    assert_eq!((status, plain), (200, log.on_disk(bundle(0, 256))));
}
