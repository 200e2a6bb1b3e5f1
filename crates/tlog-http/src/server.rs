//! Serving a log directory as the tlog-tiles read API.
//!
//! `GET <prefix>/checkpoint` is `text/plain; charset=utf-8` and may be cached for a few seconds;
//! `GET <prefix>/tile/<L>/<N>[.p/<W>]` and `GET <prefix>/tile/entries/<N>[.p/<W>]` are
//! `application/octet-stream` and immutable. A tile path is accepted only in its canonical form
//! (see `tlog::tile::TileId::parse_path`), so nothing outside the tile space can be named.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tlog::tile::TileId;
use tlog_store::tiledir::TileDir;
use tokio::net::TcpListener;

/// How long a checkpoint may be cached.
pub const CHECKPOINT_CACHE: &str = "public, max-age=2";
/// Tiles never change.
pub const TILE_CACHE: &str = "public, max-age=31536000, immutable";

/// The read API of one log directory, mounted under `prefix` (empty, or `/something`).
pub fn router(tiles: TileDir, prefix: &str) -> Router {
    let prefix = prefix.trim_end_matches('/');
    // Entry bundles compress well and the specification asks for compression; hash tiles are
    // random bytes and are sent as they are.
    let bundles = Router::new()
        .route("/tile/entries/{*path}", get(bundle))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true));
    let routes = Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
        .merge(bundles)
        .with_state(Arc::new(tiles));
    if prefix.is_empty() { routes } else { Router::new().nest(prefix, routes) }
}

fn text(status: StatusCode, message: impl Into<String>) -> Response {
    let mut body = message.into();
    body.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn read_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<Option<T>, tlog_store::Error> + Send + 'static,
) -> Result<Option<T>, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(error)) => {
            Err(text(StatusCode::INTERNAL_SERVER_ERROR, format!("reading the log failed: {error}")))
        }
        Err(_) => Err(text(StatusCode::INTERNAL_SERVER_ERROR, "reading the log failed")),
    }
}

async fn checkpoint(State(tiles): State<Arc<TileDir>>) -> Response {
    match read_blocking(move || tiles.read_checkpoint()).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
                (header::CACHE_CONTROL, HeaderValue::from_static(CHECKPOINT_CACHE)),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => text(StatusCode::NOT_FOUND, "this log has no checkpoint yet"),
        Err(response) => response,
    }
}

async fn bundle(state: State<Arc<TileDir>>, Path(path): Path<String>) -> Response {
    tile(state, Path(format!("entries/{path}"))).await
}

async fn tile(State(tiles): State<Arc<TileDir>>, Path(path): Path<String>) -> Response {
    let id = match TileId::parse_path(&format!("tile/{path}")) {
        Ok(id) => id,
        Err(error) => return text(StatusCode::BAD_REQUEST, format!("bad tile path: {error}")),
    };
    match read_blocking(move || tiles.read_tile_for_serving(id)).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream")),
                (header::CACHE_CONTROL, HeaderValue::from_static(TILE_CACHE)),
            ],
            Body::from(bytes),
        )
            .into_response(),
        Ok(None) => text(StatusCode::NOT_FOUND, format!("{} is not in this log", id.path())),
        Err(response) => response,
    }
}

/// Serves `app` on `listener` until `shutdown` completes, over TLS when a configuration is given.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Some(tls) = tls else {
        return axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // A failed accept (e.g. too many open files) must not stop the server.
                Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
            },
            () = &mut shutdown => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // Bound the handshake so that idle connections cannot pin resources.
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
        });
    }
}
