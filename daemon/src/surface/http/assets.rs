//! The engineer's page, embedded in the binary: plain HTML, CSS and
//! JavaScript from `daemon/ui/`, no build step and nothing fetched at run
//! time. Only the files in [`ASSETS`] are served, looked up by exact name, so
//! no path can reach anything else on the machine.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// Name under `/ui/`, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_bytes!("../../../ui/index.html"),
    ),
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../../ui/index.html"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../ui/style.css"),
    ),
    (
        "osc.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../ui/osc.js"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../ui/app.js"),
    ),
];

/// What the page may load and connect to: itself only.
const POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
                      style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// `GET /ui/<name>`.
pub(super) fn serve(path: &str, peer: SocketAddr) -> Response {
    let name = path.strip_prefix("/ui/").unwrap_or_default();
    let lowered = name.to_ascii_lowercase();
    if name.split('/').any(|p| p == "..")
        || lowered.contains("%2e")
        || lowered.contains("%2f")
        || name.contains('\\')
    {
        tracing::warn!("HTTP from {peer}: {path:?} tries to leave /ui/; refused");
        return super::auth::refuse(StatusCode::BAD_REQUEST, "no such page");
    }
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, POLICY),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            *bytes,
        )
            .into_response(),
        None => super::auth::refuse(StatusCode::NOT_FOUND, "no such page"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

    #[test]
    fn only_the_page_files_are_served() {
        assert_eq!(serve("/ui/", PEER).status(), StatusCode::OK);
        assert_eq!(serve("/ui/app.js", PEER).status(), StatusCode::OK);
        for bad in [
            "/ui/../Cargo.toml",
            "/ui/%2e%2e/%2e%2e/etc/passwd",
            "/ui/..%2fsecret",
            "/ui/a\\..\\b",
        ] {
            assert_eq!(serve(bad, PEER).status(), StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(serve("/ui/rackd.db", PEER).status(), StatusCode::NOT_FOUND);
    }
}
