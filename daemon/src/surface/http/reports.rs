//! `rackd analyze --report` pages kept in `[http] reports_dir`, listed and
//! opened from the engineer's page: `GET /ui/reports` (name, bytes, time of
//! each `.html` there) and `GET /ui/reports/<name>`. Only plain names of
//! regular files directly in that directory are served (no `/`, no leading
//! dot, no symbolic link), and a report is shown sandboxed: no script runs
//! in it, so it cannot act with the page's token.

use super::auth;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};
use std::net::SocketAddr;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// Largest report served (a report with its plots is a few MB).
const MAX_REPORT: u64 = 64 << 20;
/// Most reports listed (the newest first).
const MAX_LISTED: usize = 500;
/// Longest report name.
const MAX_NAME: usize = 200;

/// A report is shown as a document, never as a program.
const REPORT_POLICY: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; \
                             img-src data:; frame-ancestors 'self'";

/// Whether `name` may name a report: letters, digits, ` -_.+()`, no leading
/// dot, ending in `.html`.
pub(super) fn is_report_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.len() > ".html".len()
        && name.ends_with(".html")
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || " -_.+()".contains(c))
}

/// A regular file (not a link) in `dir` named `name`, with its size and time.
fn report_file(dir: &Path, name: &str) -> Option<std::fs::Metadata> {
    let meta = std::fs::symlink_metadata(dir.join(name)).ok()?;
    meta.file_type().is_file().then_some(meta)
}

fn seconds(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The reports in `dir`, newest first; an absent directory is an empty list.
pub(super) fn list(dir: &Path) -> Result<Vec<Json>, std::io::Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found: Vec<(u64, String, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            if !is_report_name(&name) {
                return None;
            }
            let meta = report_file(dir, &name)?;
            Some((seconds(&meta), name, meta.len()))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    found.truncate(MAX_LISTED);
    Ok(found
        .into_iter()
        .map(
            |(modified, name, bytes)| json!({ "name": name, "bytes": bytes, "modified": modified }),
        )
        .collect())
}

/// `GET /ui/reports`.
pub(super) async fn serve_list(dir: &Path, peer: SocketAddr) -> Response {
    let dir = dir.to_path_buf();
    match tokio::task::spawn_blocking(move || list(&dir).map_err(|e| (dir, e))).await {
        Ok(Ok(reports)) => super::json_response(StatusCode::OK, &json!({ "reports": reports })),
        Ok(Err((dir, e))) => {
            tracing::warn!(
                "HTTP from {peer}: cannot list reports in {}: {e}",
                dir.display()
            );
            auth::refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot list the reports directory: {e}"),
            )
        }
        Err(_) => auth::refuse(StatusCode::INTERNAL_SERVER_ERROR, "the listing failed"),
    }
}

/// `GET /ui/reports/<name>` (`encoded` as it came in the path).
pub(super) async fn serve_one(dir: &Path, encoded: &str, peer: SocketAddr) -> Response {
    let name = super::api::percent_decode(encoded);
    if !is_report_name(&name) {
        tracing::warn!("HTTP from {peer}: {encoded:?} is not a report name; refused");
        return auth::refuse(
            StatusCode::BAD_REQUEST,
            "a report is a plain NAME.html in the reports directory",
        );
    }
    let dir = dir.to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        let meta = report_file(&dir, &name).ok_or(StatusCode::NOT_FOUND)?;
        if meta.len() > MAX_REPORT {
            return Err(StatusCode::PAYLOAD_TOO_LARGE);
        }
        std::fs::read(dir.join(&name)).map_err(|_| StatusCode::NOT_FOUND)
    })
    .await;
    match read {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CONTENT_SECURITY_POLICY, REPORT_POLICY),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(StatusCode::PAYLOAD_TOO_LARGE)) => auth::refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the report is larger than {MAX_REPORT} bytes"),
        ),
        Ok(Err(status)) => auth::refuse(status, "no such report"),
        Err(_) => auth::refuse(StatusCode::INTERNAL_SERVER_ERROR, "the read failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_html_names_are_reports() {
        for good in ["master.html", "01 intro (v2).html", "a-b_c+d.html"] {
            assert!(is_report_name(good), "{good}");
        }
        for bad in [
            ".html",
            ".hidden.html",
            "../x.html",
            "a/b.html",
            "a\\b.html",
            "rackd.db",
            "x.html\0",
            "x.htm",
            "",
            &format!("{}.html", "a".repeat(MAX_NAME)),
        ] {
            assert!(!is_report_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn the_list_has_reports_only_and_no_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.html"), "<p>a</p>").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        std::fs::create_dir(dir.path().join("sub.html")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link.html")).unwrap();
        let names: Vec<_> = list(dir.path())
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a.html"]);
        assert!(list(&dir.path().join("absent")).unwrap().is_empty());
    }
}
