//! `[http]`: the page and OSCQuery port, its tokens and mDNS.

use super::super::raw::*;
use super::{Reader, key_span};
use crate::config::HttpConfig;
use rackd_protocol::toml_tree::Node;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Shortest token accepted: shorter ones can be guessed over the network.
const MIN_TOKEN: usize = 16;
/// Largest token file read.
const MAX_TOKEN_FILE: u64 = 4096;

impl Reader<'_> {
    pub(super) fn http(&mut self, h: RawHttp, root: &Node) -> HttpConfig {
        let span = |k: &str| key_span(root, &["http", k]);
        let defaults = HttpConfig::default();
        let listen = match h.listen {
            None => defaults.listen,
            Some(text) => text.parse::<SocketAddr>().unwrap_or_else(|_| {
                self.error(
                    &span("listen"),
                    "http.listen",
                    format!("{text:?} is not HOST:PORT (e.g. 127.0.0.1:7771)"),
                );
                defaults.listen
            }),
        };
        let token = match (h.token, h.token_file) {
            (Some(_), Some(_)) => {
                self.error(
                    &span("token_file"),
                    "http.token_file",
                    "give token or token_file, not both",
                );
                None
            }
            (Some(t), None) => Some(t),
            (None, Some(file)) => self.token_file(&file, &span("token_file")),
            (None, None) => None,
        };
        let token = token.filter(|t| self.token_ok(t, &span("token"), "http.token"));
        let read_only_token = h
            .read_only_token
            .filter(|t| self.token_ok(t, &span("read_only_token"), "http.read_only_token"));
        if token.is_some() && token == read_only_token {
            self.error(
                &span("read_only_token"),
                "http.read_only_token",
                "is the same as the token that may change things; give it another",
            );
        }
        let enabled = h.enabled.unwrap_or(true);
        if enabled && !listen.ip().is_loopback() && token.is_none() && read_only_token.is_none() {
            self.error(
                &span("listen"),
                "http.listen",
                format!(
                    "{listen} is reachable beyond this machine: set token (or token_file) so \
                     that only the engineer's page can change the rack; rackd does not start \
                     without one there"
                ),
            );
        }
        let name = h.name.unwrap_or(defaults.name);
        if name.is_empty() || name.len() > 63 {
            self.error(
                &span("name"),
                "http.name",
                "must be 1..63 bytes (an mDNS name)",
            );
        }
        HttpConfig {
            enabled,
            listen,
            token,
            read_only_token,
            name,
            mdns: h.mdns.unwrap_or(false),
            mdns_interfaces: h.mdns_interfaces.unwrap_or_default().0,
        }
    }

    /// Whether a token is long enough and printable; reports it when not.
    fn token_ok(&mut self, token: &str, span: &std::ops::Range<usize>, key: &str) -> bool {
        if token.len() < MIN_TOKEN {
            self.error(
                span,
                key,
                format!(
                    "a token needs at least {MIN_TOKEN} characters (try `openssl rand -hex 16`)"
                ),
            );
            return false;
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            self.error(
                span,
                key,
                "a token is printable ASCII without spaces (it travels in HTTP headers)",
            );
            return false;
        }
        true
    }

    /// Reads a token file (relative paths: next to the config file).
    fn token_file(&mut self, file: &str, span: &std::ops::Range<usize>) -> Option<String> {
        let mut path = PathBuf::from(file);
        if path.is_relative()
            && let Some(dir) = Path::new(self.file).parent()
        {
            path = dir.join(path);
        }
        let read = std::fs::metadata(&path).and_then(|m| {
            if m.len() > MAX_TOKEN_FILE {
                Err(std::io::Error::other(format!(
                    "{} bytes; a token file holds one token",
                    m.len()
                )))
            } else {
                std::fs::read_to_string(&path)
            }
        });
        match read {
            Ok(text) => Some(text.trim().to_string()),
            Err(e) => {
                self.error(
                    span,
                    "http.token_file",
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    }
}
