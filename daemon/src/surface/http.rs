//! The HTTP front end, on one port (`[http] listen`): the OSCQuery namespace
//! (`GET /`, `GET /<osc path>[?ATTRIBUTE]`, `?HOST_INFO`), its WebSocket
//! (LISTEN/IGNORE, binary OSC frames both ways, PATH_CHANGED), OSC requests
//! sent as JSON (`POST /<osc address>`), and the engineer's page at `/ui/`.
//! Another transport over [`RackService`]: a change from the page is the
//! same hub event as one from an OSC surface, and each sees the other's.
//!
//! - `auth.rs`: tokens, Host and Origin checks.
//! - `namespace.rs`: the OSCQuery namespace of the rack.
//! - `ws.rs`: WebSocket connections (bounded, keep-latest outboxes).
//! - `feedback.rs`: hub events, meters and PATH_CHANGED to WebSocket clients.
//! - `api.rs`: POST requests and their JSON replies, the sheet drawing.
//! - `assets.rs`: the page, embedded in the binary.
//! - `reports.rs`: the `rackd analyze` reports the page lists and opens.
//! - `mdns.rs`: the `_oscjson._tcp` and `_osc._udp` advertisement.

mod api;
mod assets;
mod auth;
mod feedback;
mod mdns;
mod namespace;
mod reports;
mod ws;

use super::{RackService, Surface};
use crate::config::HttpConfig;
use anyhow::Context as _;
use auth::{Access, Auth};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rackd_protocol::api::HttpCounts;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Largest request body (a snapshot import is the biggest there is).
const MAX_BODY: usize = 4 << 20;

/// The running HTTP front end.
pub struct HttpServer {
    http: Arc<Http>,
    _mdns: Option<mdns::Advert>,
    /// Its own runtime: one thread, at a lower priority than the daemon's.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// What every request handler shares.
struct Http {
    service: Arc<RackService>,
    surface: Arc<Surface>,
    auth: Auth,
    local: SocketAddr,
    name: String,
    /// `[http] reports_dir`, resolved.
    reports_dir: std::path::PathBuf,
    clients: RwLock<HashMap<u64, Arc<ws::Client>>>,
    next_client: AtomicU64,
    /// A slot's place changed since PATH_CHANGED was last sent.
    layout_changed: AtomicBool,
    /// `GET /` without its values, kept while the layout, the devices'
    /// states and the set of meters stay.
    namespace_root: namespace::RootCache,
    requests: AtomicU64,
    read_only_refused: AtomicU64,
    /// Feedback dropped for clients that have gone.
    dropped_gone: AtomicU64,
}

impl HttpServer {
    /// Binds `config.listen` and serves; returns once bound.
    pub async fn start(
        config: &HttpConfig,
        surface: Arc<Surface>,
        service: Arc<RackService>,
    ) -> anyhow::Result<HttpServer> {
        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("cannot bind HTTP on {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rackd-http")
            // When the machine is busy, browsers wait, not the hub and the surfaces.
            .on_thread_start(crate::service::threads::give_way)
            .enable_all()
            .build()
            .context("cannot start the HTTP front end's thread")?;
        let http = Arc::new(Http {
            service: service.clone(),
            surface,
            auth: Auth::new(config.token.clone(), config.read_only_token.clone()),
            local,
            name: config.name.clone(),
            reports_dir: config.reports_dir.clone(),
            clients: RwLock::new(HashMap::new()),
            next_client: AtomicU64::new(1),
            layout_changed: AtomicBool::new(false),
            namespace_root: namespace::RootCache::default(),
            requests: AtomicU64::new(0),
            read_only_refused: AtomicU64::new(0),
            dropped_gone: AtomicU64::new(0),
        });
        let weak = Arc::downgrade(&http);
        service.attach_http_counts(Box::new(move || {
            weak.upgrade().map(|h| h.counts()).unwrap_or_default()
        }));
        runtime.spawn(http.clone().feedback_loop());
        runtime.spawn(http.clone().meter_loop());
        runtime.spawn(http.clone().path_loop());
        let app = axum::Router::new()
            .fallback(route)
            .with_state(http.clone())
            .into_make_service_with_connect_info::<SocketAddr>();
        runtime.spawn(async move {
            let served = match tokio::net::TcpListener::from_std(listener) {
                Ok(listener) => axum::serve(listener, app).await,
                Err(e) => Err(e),
            };
            if let Err(e) = served {
                tracing::error!("HTTP server stopped: {e}");
            }
        });
        let mdns = if config.mdns {
            match mdns::Advert::start(config, local.port(), http.surface.local_addr().port()) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!("mDNS advertisement failed (the page still works): {e:#}");
                    None
                }
            }
        } else {
            None
        };
        tracing::info!(
            "HTTP on {local}: the page at http://{local}/ui/, OSCQuery at http://{local}/{}",
            if http.auth.has_tokens() {
                " (token required)"
            } else {
                ""
            }
        );
        Ok(HttpServer {
            http,
            _mdns: mdns,
            runtime: Some(runtime),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local
    }
}

impl Http {
    fn lock_clients(&self) -> std::sync::RwLockReadGuard<'_, HashMap<u64, Arc<ws::Client>>> {
        self.clients.read().unwrap_or_else(|e| e.into_inner())
    }

    /// This front end's counters for `/rackd/status`.
    fn counts(&self) -> HttpCounts {
        let clients = self.lock_clients();
        HttpCounts {
            listen: self.local.to_string(),
            websockets: clients.len(),
            requests: self.requests.load(Ordering::Relaxed),
            unauthorized: self.auth.unauthorized.load(Ordering::Relaxed),
            read_only_refused: self.read_only_refused.load(Ordering::Relaxed),
            feedback_dropped: self.dropped_gone.load(Ordering::Relaxed)
                + clients
                    .values()
                    .map(|c| c.outbox.dropped.load(Ordering::Relaxed))
                    .sum::<u64>(),
        }
    }

    /// A change refused to a read-only client: counted and logged (the
    /// first, then every 100th).
    fn refuse_read_only(&self, peer: SocketAddr, what: &str) {
        let n = self.read_only_refused.fetch_add(1, Ordering::Relaxed);
        if n % 100 == 0 {
            tracing::warn!(
                "HTTP from {peer}: {what} refused: a read-only token ({} so far)",
                n + 1
            );
        }
    }
}

/// Why a read-only client cannot do something, in its words.
const READ_ONLY: &str = "this token may look but not change anything (read-only)";

/// Every request: authorized first, then the page, the WebSocket, OSCQuery or a POST.
async fn route(
    State(http): State<Arc<Http>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    http.requests.fetch_add(1, Ordering::Relaxed);
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    let access = match http.auth.check(&parts.headers, &query, peer) {
        Ok(a) => a,
        Err(refused) => return refused.into_response(),
    };
    if path == "/ui" || path.starts_with("/ui/") {
        return http.ui(&parts, &path, &query, access, peer).await;
    }
    if parts.headers.contains_key(header::UPGRADE) {
        if !auth::same_origin(&parts.headers) {
            tracing::warn!("WebSocket from {peer}: a page of another origin; refused");
            return auth::refuse(StatusCode::FORBIDDEN, "cross-origin WebSocket refused");
        }
        return match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &()).await
        {
            Ok(upgrade) => http.upgrade(upgrade, peer, access),
            Err(e) => e.into_response(),
        };
    }
    match parts.method {
        Method::GET | Method::HEAD => http.oscquery(&path, &query).await,
        Method::POST => {
            if !auth::same_origin(&parts.headers) {
                tracing::warn!("HTTP POST from {peer}: a page of another origin; refused");
                return auth::refuse(StatusCode::FORBIDDEN, "cross-origin request refused");
            }
            let body = match axum::body::to_bytes(body, MAX_BODY).await {
                Ok(b) => b,
                Err(_) => {
                    tracing::warn!(
                        "HTTP POST from {peer} to {path}: body over {MAX_BODY} bytes; refused"
                    );
                    return auth::refuse(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        &format!("the body is larger than {MAX_BODY} bytes"),
                    );
                }
            };
            http.post(&path, &body, access, peer).await
        }
        _ => auth::refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET (OSCQuery, the page) or POST (an OSC request as JSON)",
        ),
    }
}

/// A JSON response.
fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Whether an access may make a request.
fn may(access: Access, request: &rackd_protocol::api::Request) -> bool {
    access == Access::Full || !request.changes()
}
