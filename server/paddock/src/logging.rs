//! Log output: `tracing` to stderr in human or JSON form, with a level filter that can be
//! changed while the server runs (`PUT /log_level` on the admin port).
//!
//! The subscriber is process-wide, so the handle that changes its filter is too: it lives in a
//! static set once by [`init`].

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

use crate::config::LogFormat;

/// The environment variable that overrides `paddock.log.format` and `--log-format`.
pub const FORMAT_ENV: &str = "PADDOCK_LOG_FORMAT";

type FilterHandle = reload::Handle<EnvFilter, Registry>;

static FILTER: OnceLock<(FilterHandle, std::sync::Mutex<String>)> = OnceLock::new();

/// Why a filter was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("invalid log filter {filter:?}: {reason}")]
    BadFilter { filter: String, reason: String },
    #[error("logging was not initialised by this process")]
    NotInitialised,
}

/// The format asked for by `PADDOCK_LOG_FORMAT`, if it is set to `human` or `json`.
pub fn format_from_env() -> Option<LogFormat> {
    match std::env::var(FORMAT_ENV).ok()?.as_str() {
        "human" => Some(LogFormat::Human),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

/// Installs the subscriber: `RUST_LOG` or `info` as the first filter, lines to stderr. Does
/// nothing when a subscriber is already installed (tests).
pub fn init(format: LogFormat) {
    let initial = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let filter = EnvFilter::try_new(&initial).unwrap_or_else(|_| EnvFilter::new("info"));
    let (layer, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(layer);
    let installed = match format {
        LogFormat::Human => registry
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init(),
        LogFormat::Json => registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .try_init(),
    };
    if installed.is_ok() {
        let _ = FILTER.set((handle, std::sync::Mutex::new(initial)));
    }
}

/// The filter in force, in `EnvFilter` syntax.
pub fn current_filter() -> Option<String> {
    let (_, text) = FILTER.get()?;
    Some(text.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Replaces the filter (`EnvFilter` syntax: `debug`, `info,paddock=trace`, ...).
pub fn set_filter(filter: &str) -> Result<(), LogError> {
    let (handle, text) = FILTER.get().ok_or(LogError::NotInitialised)?;
    let parsed = EnvFilter::try_new(filter).map_err(|e| LogError::BadFilter {
        filter: filter.to_owned(),
        reason: e.to_string(),
    })?;
    handle
        .reload(parsed)
        .map_err(|_| LogError::NotInitialised)?;
    *text.lock().unwrap_or_else(|e| e.into_inner()) = filter.to_owned();
    tracing::info!("log filter set to {filter:?}");
    Ok(())
}
