//! Without an OpenTelemetry exporter the per-request trace spans must cost nothing: the
//! subscriber `paddock` installs has to disable their callsites, so that no span is created,
//! entered or closed in the registry on the hot path. (Its own process: the subscriber is
//! global.)

use paddock::config::LogFormat;
use paddock::logging::{self, SPAN_TARGET};

#[test]
fn trace_spans_are_disabled_without_an_exporter() {
    logging::init(LogFormat::Human, None);
    let span = tracing::info_span!(target: SPAN_TARGET, "request", xid = 1);
    assert!(
        span.is_disabled(),
        "a trace span was created with no exporter"
    );
    // Ordinary log lines still pass the default `info` filter.
    assert!(tracing::enabled!(target: "paddock::server", tracing::Level::INFO));
    assert!(!tracing::enabled!(target: "paddock::server", tracing::Level::DEBUG));
}

#[test]
fn child_spans_on_other_threads_are_disabled_too() {
    logging::init(LogFormat::Human, None);
    std::thread::spawn(|| {
        let parent = tracing::info_span!(target: SPAN_TARGET, "proposal", zxid = 1);
        let child = tracing::info_span!(target: SPAN_TARGET, parent: &parent, "commit", zxid = 1);
        assert!(parent.is_disabled());
        assert!(child.is_disabled());
    })
    .join()
    .unwrap();
}
