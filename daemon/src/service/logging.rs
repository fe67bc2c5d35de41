//! Logging: journald when systemd gives us a journal stream, plain stderr
//! otherwise; the level can change on reload (SIGHUP).

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, reload};

/// Lets a reload change the log filter.
#[derive(Clone)]
pub struct LogHandle {
    reload: Option<reload::Handle<EnvFilter, tracing_subscriber::Registry>>,
}

impl LogHandle {
    /// Changes the filter (`info`, `rackd=debug`); errors when it does not parse.
    pub fn set_level(&self, level: &str) -> anyhow::Result<()> {
        let filter = EnvFilter::try_new(level)?;
        if let Some(h) = &self.reload {
            h.reload(filter)?;
        }
        Ok(())
    }
}

/// Sets up logging once; `RUST_LOG` wins over the configured level.
pub fn init(level: &str) -> LogHandle {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let journald = std::env::var_os("JOURNAL_STREAM")
        .is_some()
        .then(tracing_journald::layer)
        .and_then(Result::ok);
    let result = match journald {
        Some(layer) => registry.with(layer).try_init(),
        None => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_target(false),
            )
            .try_init(),
    };
    LogHandle {
        reload: result.is_ok().then_some(handle),
    }
}
