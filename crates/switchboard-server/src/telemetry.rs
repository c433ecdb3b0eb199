//! The Prometheus recorder `/metrics` renders. Metric names, labels and the recording
//! helpers live in `switchboard-telemetry` (re-exported here) so sources and sinks record
//! their own series.
//!
//! Recording goes through the `metrics` facade, so the library crates that will record
//! (sources, sinks) need not know about Prometheus; this crate installs the
//! `metrics-exporter-prometheus` recorder once per process ([`install`]) and renders its
//! text in the `/metrics` handler. Nothing listens on a port of its own.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
pub use switchboard_telemetry::*;

/// Installs the Prometheus recorder as the process's `metrics` recorder (once; later
/// calls return the same handle). If another recorder was installed first, the handle of
/// a private recorder is returned, so `/metrics` still answers, only emptier.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed: /metrics will be empty");
            }
            describe();
            register_known_series();
            handle
        })
        .clone()
}
