//! Who may use the HTTP port. With a token configured, every request shows
//! one (`Authorization: Bearer …`, Basic with the token as password, the
//! page's cookie, or `?token=…`): the `token` may change things, the
//! `read_only_token` may only look. Without tokens (loopback only, the
//! config refuses anything else) the Host must name this machine's loopback,
//! so a web page elsewhere cannot reach the daemon through DNS rebinding; and
//! whatever the tokens, a request that changes something from a page of
//! another origin is refused.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

/// The cookie the page keeps its token in.
pub(super) const COOKIE: &str = "rackd_token";

/// What a client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Look and change.
    Full,
    /// Look only: every change is refused (403, `/rackd/error`).
    ReadOnly,
}

impl Access {
    /// The word the page shows.
    pub(super) fn name(self) -> &'static str {
        match self {
            Access::Full => "full",
            Access::ReadOnly => "read-only",
        }
    }
}

/// The tokens and the refusal counters.
pub(super) struct Auth {
    token: Option<String>,
    read_only: Option<String>,
    /// Requests refused with 401.
    pub(super) unauthorized: AtomicU64,
    /// Wrong tokens (logged: the first, then every 100th).
    wrong: AtomicU64,
}

impl Auth {
    pub(super) fn new(token: Option<String>, read_only: Option<String>) -> Self {
        Auth {
            token,
            read_only,
            unauthorized: AtomicU64::new(0),
            wrong: AtomicU64::new(0),
        }
    }

    /// Whether any token is configured.
    pub(super) fn has_tokens(&self) -> bool {
        self.token.is_some() || self.read_only.is_some()
    }

    /// The access a token gives, if it is one of ours.
    pub(super) fn access_of(&self, presented: &str) -> Option<Access> {
        let matches = |t: &Option<String>| t.as_deref().is_some_and(|t| same(t, presented));
        if matches(&self.token) {
            Some(Access::Full)
        } else if matches(&self.read_only) {
            Some(Access::ReadOnly)
        } else {
            None
        }
    }

    /// The access of a request, or why it is refused.
    pub(super) fn check(
        &self,
        headers: &HeaderMap,
        query: &str,
        peer: SocketAddr,
    ) -> Result<Access, Refused> {
        if !self.has_tokens() {
            return if host_is_loopback(headers) {
                Ok(Access::Full)
            } else {
                tracing::warn!(
                    "HTTP from {peer}: Host {:?} is not a loopback name; refused \
                     (set [http] token to serve other names)",
                    host(headers).unwrap_or_default()
                );
                Err(Refused::NotLoopback)
            };
        }
        let Some(presented) = credential(headers, query) else {
            self.unauthorized.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("HTTP from {peer}: no token");
            return Err(Refused::NoToken);
        };
        match self.access_of(&presented) {
            Some(access) => Ok(access),
            None => {
                self.unauthorized.fetch_add(1, Ordering::Relaxed);
                let n = self.wrong.fetch_add(1, Ordering::Relaxed);
                if n % 100 == 0 {
                    tracing::warn!("HTTP from {peer}: wrong token, refused ({} so far)", n + 1);
                }
                Err(Refused::WrongToken)
            }
        }
    }
}

/// Compares without stopping at the first different byte.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The token a request shows, wherever it put it.
fn credential(headers: &HeaderMap, query: &str) -> Option<String> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, value) = auth.trim().split_once(' ').unwrap_or((auth, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return Some(value.trim().to_string());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            // Any user name; the token is the password.
            return text
                .split_once(':')
                .map(|(_, password)| password.to_string());
        }
    }
    if let Some(cookie) = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()) {
        for part in cookie.split(';') {
            if let Some(value) = part
                .trim()
                .strip_prefix(COOKIE)
                .and_then(|r| r.strip_prefix('='))
            {
                return Some(value.to_string());
            }
        }
    }
    query_token(query)
}

/// `token=…` in a query string.
pub(super) fn query_token(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|p| p.strip_prefix("token="))
        .map(str::to_string)
}

/// The Host header's name without the port.
fn host(headers: &HeaderMap) -> Option<&str> {
    let h = headers.get(header::HOST)?.to_str().ok()?;
    Some(match h.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => h.rsplit_once(':').map_or(h, |(name, _)| name),
    })
}

/// Whether the Host names loopback (an address, `localhost`, `*.localhost`).
fn host_is_loopback(headers: &HeaderMap) -> bool {
    match host(headers) {
        // HTTP/1.0 clients may send no Host: they reached a loopback socket.
        None => headers.get(header::HOST).is_none(),
        Some(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
                || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

/// Whether a request that changes something comes from this server's own
/// page (or from a client that is no browser page: no `Origin`).
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// A plain-text refusal.
pub(super) fn refuse(status: StatusCode, why: &str) -> Response {
    (status, format!("{why}\n")).into_response()
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// 403: without tokens, only loopback Host names are served.
    NotLoopback,
    /// 401: a token is needed.
    NoToken,
    /// 401: not one of ours.
    WrongToken,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (status, why) = match self {
            Refused::NotLoopback => (
                StatusCode::FORBIDDEN,
                "this Host is not this machine's loopback address; without [http] token \
                 rackd answers only to localhost, 127.0.0.1 and [::1]",
            ),
            Refused::NoToken => (StatusCode::UNAUTHORIZED, "this rackd needs a token"),
            Refused::WrongToken => (StatusCode::UNAUTHORIZED, "wrong token"),
        };
        let mut r = refuse(status, why);
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Basic realm=\"rackd\", charset=\"UTF-8\""),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), v.parse().unwrap());
        }
        h
    }

    const FULL: &str = "0123456789abcdef-full";
    const LOOK: &str = "0123456789abcdef-look";
    const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9);

    fn auth() -> Auth {
        Auth::new(Some(FULL.into()), Some(LOOK.into()))
    }

    #[test]
    fn tokens_are_found_wherever_clients_put_them() {
        let a = auth();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("me:{LOOK}"));
        let cases = [
            (
                headers(&[(header::AUTHORIZATION, &format!("Bearer {FULL}"))]),
                "",
                Access::Full,
            ),
            (
                headers(&[(header::AUTHORIZATION, &format!("Basic {basic}"))]),
                "",
                Access::ReadOnly,
            ),
            (
                headers(&[(header::COOKIE, &format!("a=b; {COOKIE}={FULL}"))]),
                "",
                Access::Full,
            ),
            (
                HeaderMap::new(),
                &*format!("HOST_INFO&token={LOOK}"),
                Access::ReadOnly,
            ),
        ];
        for (h, q, want) in cases {
            assert_eq!(a.check(&h, q, PEER).ok(), Some(want), "{h:?} {q}");
        }
    }

    #[test]
    fn missing_and_wrong_tokens_are_401() {
        let a = auth();
        for h in [
            HeaderMap::new(),
            headers(&[(header::AUTHORIZATION, "Bearer 0123456789abcdef-fulx")]),
            headers(&[(header::AUTHORIZATION, "Bearer 0123456789abcdef-ful")]),
            headers(&[(header::AUTHORIZATION, "Basic !!!")]),
        ] {
            let r = a.check(&h, "", PEER).unwrap_err().into_response();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
        }
        assert_eq!(a.unauthorized.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn without_tokens_only_loopback_names_are_served() {
        let a = Auth::new(None, None);
        for ok in [
            "127.0.0.1:7771",
            "localhost:7771",
            "[::1]:7771",
            "x.localhost",
        ] {
            let h = headers(&[(header::HOST, ok)]);
            assert_eq!(a.check(&h, "", PEER).ok(), Some(Access::Full), "{ok}");
        }
        for bad in ["evil.example:7771", "192.0.2.1:7771", "rackd.local"] {
            let h = headers(&[(header::HOST, bad)]);
            assert_eq!(a.check(&h, "", PEER), Err(Refused::NotLoopback), "{bad}");
        }
    }

    #[test]
    fn other_origins_are_not_the_same_origin() {
        let h =
            |origin: &str| headers(&[(header::HOST, "127.0.0.1:7771"), (header::ORIGIN, origin)]);
        assert!(same_origin(&h("http://127.0.0.1:7771")));
        assert!(!same_origin(&h("http://evil.example")));
        assert!(!same_origin(&h("null")));
        assert!(same_origin(&headers(&[(header::HOST, "127.0.0.1:7771")])));
    }
}
