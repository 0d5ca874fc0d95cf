//! Log output: `tracing` to stderr in human or JSON form, with a level filter that can be
//! changed while the server runs (`PUT /log_level` on the admin port); and, when an OTLP
//! endpoint is configured, OpenTelemetry traces: the spans of target [`SPAN_TARGET`] (one
//! per client request, each proposal and commit) go to the endpoint over OTLP/gRPC.
//!
//! The subscriber is process-wide, so the handle that changes its filter is too: it lives in a
//! static set once by [`init`]. The log filter never enables the trace spans, so when no
//! endpoint is set they are disabled at their call sites and cost next to nothing.

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Layer, Registry};

use crate::config::LogFormat;

/// The environment variable that overrides `paddock.log.format` and `--log-format`.
pub const FORMAT_ENV: &str = "PADDOCK_LOG_FORMAT";

type FilterHandle = reload::Handle<EnvFilter, Registry>;

static FILTER: OnceLock<(FilterHandle, std::sync::Mutex<String>)> = OnceLock::new();

/// The OpenTelemetry pipeline, when exporting: flushed by [`shutdown`].
static TRACER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The target of the spans that become OpenTelemetry traces.
pub const SPAN_TARGET: &str = "paddock::span";

/// The environment variable OpenTelemetry SDKs read for the OTLP endpoint.
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

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

/// Installs the subscriber: `RUST_LOG` or `info` as the first filter, lines to stderr, and
/// OTLP trace export to `otlp_endpoint` when given. Does nothing when a subscriber is already
/// installed (tests). Call it inside the tokio runtime: the OTLP exporter connects from it.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>) {
    let initial = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    let filter = log_filter(&initial).unwrap_or_else(|_| log_filter("info").expect("valid"));
    let (filter, handle) = reload::Layer::new(filter);
    let lines = match format {
        LogFormat::Human => fmt::layer().with_writer(std::io::stderr).boxed(),
        LogFormat::Json => fmt::layer().json().with_writer(std::io::stderr).boxed(),
    };
    let traces = match otlp_endpoint.map(otlp_provider) {
        Some(Ok(provider)) => {
            let tracer = provider.tracer("paddock");
            let _ = TRACER.set(provider);
            Some(trace_layer(tracer))
        }
        Some(Err(e)) => {
            eprintln!("OpenTelemetry export disabled: {e}");
            None
        }
        None => None,
    };
    // Without an exporter the trace layer is left out entirely, not added as `None`: an absent
    // `Option` layer counts as interested in every callsite, so each request would still create
    // (and close) a span in the registry.
    let lines = tracing_subscriber::registry().with(lines.with_filter(filter));
    let installed = match traces {
        Some(traces) => lines.with(traces).try_init(),
        None => lines.try_init(),
    };
    if installed.is_ok() {
        let _ = FILTER.set((handle, std::sync::Mutex::new(initial)));
        if let Some(endpoint) = otlp_endpoint.filter(|_| TRACER.get().is_some()) {
            tracing::info!("exporting OpenTelemetry traces to {endpoint}");
        }
    }
}

/// The layer that turns the spans of [`SPAN_TARGET`] into OpenTelemetry spans of `tracer`
/// (tests install it with an in-memory exporter).
pub fn trace_layer<S, T>(tracer: T) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    T: opentelemetry::trace::Tracer + Send + Sync + 'static,
    T::Span: Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target(SPAN_TARGET, tracing::Level::TRACE))
}

/// A batch OTLP/gRPC pipeline to `endpoint` (e.g. `http://127.0.0.1:4317`).
fn otlp_provider(endpoint: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|e| format!("OTLP exporter for {endpoint}: {e}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("paddock")
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Sends the spans still buffered (at shutdown).
pub fn shutdown() {
    if let Some(provider) = TRACER.get() {
        let _ = provider.shutdown();
    }
}

/// An `EnvFilter` for the log lines: the given directives, and never the trace spans (they
/// are for the OpenTelemetry layer; enabling them for lines would create one per request).
fn log_filter(directives: &str) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
    EnvFilter::try_new(format!("{directives},{SPAN_TARGET}=off"))
}

/// The filter in force, in `EnvFilter` syntax.
pub fn current_filter() -> Option<String> {
    let (_, text) = FILTER.get()?;
    Some(text.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

/// Replaces the filter (`EnvFilter` syntax: `debug`, `info,paddock=trace`, ...).
pub fn set_filter(filter: &str) -> Result<(), LogError> {
    let (handle, text) = FILTER.get().ok_or(LogError::NotInitialised)?;
    let parsed = log_filter(filter).map_err(|e| LogError::BadFilter {
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
