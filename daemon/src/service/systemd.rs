//! systemd integration without libsystemd: `sd_notify` datagrams to
//! `$NOTIFY_SOCKET` (READY, STATUS, WATCHDOG, RELOADING, STOPPING) and the
//! watchdog interval from `$WATCHDOG_USEC`.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// A connection to systemd's notify socket; does nothing when not under systemd.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, std::path::PathBuf)>,
    abstract_name: Option<Vec<u8>>,
}

impl Notifier {
    /// Reads `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
    pub fn from_env() -> Self {
        let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
            return Notifier {
                socket: None,
                abstract_name: None,
            };
        };
        let path = std::path::PathBuf::from(path);
        let text = path.to_string_lossy().to_string();
        match UnixDatagram::unbound() {
            Ok(sock) if text.starts_with('@') => Notifier {
                socket: Some((sock, path)),
                abstract_name: Some(text.as_bytes()[1..].to_vec()),
            },
            Ok(sock) => Notifier {
                socket: Some((sock, path)),
                abstract_name: None,
            },
            Err(e) => {
                tracing::warn!("cannot create the sd_notify socket: {e}");
                Notifier {
                    socket: None,
                    abstract_name: None,
                }
            }
        }
    }

    /// Whether we run under systemd with notify.
    pub fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends one notify message (`READY=1`, `STATUS=…`); logs and carries on on failure.
    pub fn notify(&self, message: &str) {
        let Some((sock, path)) = &self.socket else {
            return;
        };
        let result = match &self.abstract_name {
            #[cfg(target_os = "linux")]
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                std::os::unix::net::SocketAddr::from_abstract_name(name)
                    .and_then(|addr| sock.send_to_addr(message.as_bytes(), &addr))
            }
            #[cfg(not(target_os = "linux"))]
            Some(_) => Ok(0),
            None => sock.send_to(message.as_bytes(), path),
        };
        if let Err(e) = result {
            tracing::warn!("sd_notify {message:?} failed: {e}");
        }
    }

    /// `READY=1` plus a status line.
    pub fn ready(&self, status: &str) {
        self.notify(&format!("READY=1\nSTATUS={status}"));
    }

    /// `STATUS=…`.
    pub fn status(&self, status: &str) {
        self.notify(&format!("STATUS={status}"));
    }

    /// `RELOADING=1` with the monotonic time systemd ≥ 253 asks for.
    pub fn reloading(&self) {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let usec = ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000;
        self.notify(&format!("RELOADING=1\nMONOTONIC_USEC={usec}"));
    }

    /// `STOPPING=1`.
    pub fn stopping(&self) {
        self.notify("STOPPING=1\nSTATUS=stopping");
    }

    /// `WATCHDOG=1`.
    pub fn watchdog(&self) {
        self.notify("WATCHDOG=1");
    }
}

/// The watchdog interval systemd expects pings in (half of `WatchdogSec=`),
/// when it applies to this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_datagrams_to_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: Some((UnixDatagram::unbound().unwrap(), path)),
            abstract_name: None,
        };
        n.ready("up");
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=up");
    }
}
