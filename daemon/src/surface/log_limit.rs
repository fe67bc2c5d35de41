//! Warnings about clients that stay readable: a client sending 200 000 bad
//! packets gets a few lines and a count, not 200 000 lines, and a line never
//! holds more than a short, escaped prefix of what the client sent.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Warnings of one kind from one client are counted in windows this long.
pub(super) const WINDOW: Duration = Duration::from_secs(10);
/// Warnings logged per window; the rest are counted.
pub(super) const PER_WINDOW: u32 = 5;

/// Counts of warnings per client and kind.
#[derive(Debug, Default)]
pub(super) struct LogLimit {
    windows: Mutex<HashMap<(IpAddr, &'static str), Window>>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

impl LogLimit {
    /// Logs `line` unless this client has had [`PER_WINDOW`] lines of this
    /// kind in the window; says how many were left out when the window ends.
    /// The line is made only when it is logged (a flood costs a count).
    pub(super) fn warn(&self, client: IpAddr, kind: &'static str, line: impl FnOnce() -> String) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let w = windows.entry((client, kind)).or_insert(Window {
            started: Instant::now(),
            logged: 0,
            suppressed: 0,
        });
        if w.started.elapsed() >= WINDOW {
            report(client, kind, w);
            *w = Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            };
        }
        if w.logged < PER_WINDOW {
            w.logged += 1;
            tracing::warn!("{}", line());
        } else {
            w.suppressed += 1;
        }
    }

    /// Reports and forgets the windows that have ended (called now and then).
    pub(super) fn flush(&self) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.retain(|(client, kind), w| {
            let over = w.started.elapsed() >= WINDOW;
            if over {
                report(*client, kind, w);
            }
            !over
        });
    }
}

fn report(client: IpAddr, kind: &str, w: &Window) {
    if w.suppressed > 0 {
        tracing::warn!(
            "{} more {kind} warnings from {client} in {} s were not logged",
            w.suppressed,
            WINDOW.as_secs()
        );
    }
}

/// At most `max` characters of client text, escaped, with `…` when cut.
pub(super) fn clip(text: &str, max: usize) -> String {
    let mut out: String = text
        .chars()
        .take(max)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_escapes_and_cuts() {
        assert_eq!(clip("abc", 10), "abc");
        assert_eq!(clip("a\nb\u{7}", 10), "a\\nb\\u{7}");
        assert_eq!(clip(&"x".repeat(1000), 5), "xxxxx…");
    }

    #[test]
    fn a_window_logs_a_few_and_counts_the_rest() {
        let limit = LogLimit::default();
        let client: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..1000 {
            limit.warn(client, "bad packet", || "line".into());
        }
        let windows = limit.windows.lock().unwrap();
        let w = &windows[&(client, "bad packet")];
        assert_eq!(
            (w.logged, w.suppressed),
            (PER_WINDOW, 1000 - u64::from(PER_WINDOW))
        );
    }
}
