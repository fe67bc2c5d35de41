//! The mDNS advertisement (`[http] mdns = true`): `_oscjson._tcp` for
//! OSCQuery browsers and `_osc._udp` for OSC surfaces, under `[http] name`,
//! on `[http] mdns_interfaces` (or every interface but loopback).

use crate::config::HttpConfig;
use anyhow::Context as _;
use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo};

/// OSCQuery's service type.
const OSCJSON: &str = "_oscjson._tcp.local.";
/// OSC's service type.
const OSC: &str = "_osc._udp.local.";

/// A running advertisement; withdrawn when dropped.
pub(super) struct Advert {
    daemon: ServiceDaemon,
}

impl Advert {
    /// Announces both services.
    pub(super) fn start(
        config: &HttpConfig,
        http_port: u16,
        osc_port: u16,
    ) -> anyhow::Result<Advert> {
        let daemon = ServiceDaemon::new().context("cannot start mDNS")?;
        if config.mdns_interfaces.is_empty() {
            daemon.disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])?;
        } else {
            daemon.disable_interface(IfKind::All)?;
            for name in &config.mdns_interfaces {
                daemon.enable_interface(IfKind::Name(name.clone()))?;
            }
        }
        let host = format!("{}.local.", hostname());
        for (kind, port) in [(OSCJSON, http_port), (OSC, osc_port)] {
            let info = ServiceInfo::new(kind, &config.name, &host, (), port, None)
                .with_context(|| format!("mDNS record {kind}"))?
                .enable_addr_auto();
            daemon
                .register(info)
                .with_context(|| format!("cannot announce {kind}"))?;
        }
        tracing::info!(
            "mDNS: {:?} announced as {OSCJSON} port {http_port} and {OSC} port {osc_port}",
            config.name
        );
        Ok(Advert { daemon })
    }
}

impl Drop for Advert {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

/// This machine's host name (`rackd` when it has none).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer's length is passed; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let name = if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    };
    let name = name.split('.').next().unwrap_or("").to_string();
    if name.is_empty() {
        "rackd".into()
    } else {
        name
    }
}
