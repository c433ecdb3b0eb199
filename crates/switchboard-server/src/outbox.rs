//! `GET /api/outbox`: how much the durable outbox holds for each sink, for the dashboard's
//! Delivery card and for anyone watching delivery without a Prometheus server.
//!
//! The figures come from the store (a second handle, on the blocking pool, like the
//! history routes), so they are the same whichever process or worker delivers: items
//! waiting per sink, their payload bytes, how many a worker could claim now and the age
//! of the oldest. Items of the dead-letter sink are dead letters waiting for (or kept
//! without) a dead-letter writer: they are counted apart, not listed among the sinks.
//!
//! A sink's lag (now minus the event time of the newest item it delivered) is known only
//! to the process whose workers deliver, which records it as the
//! [`SINK_LAG_SECONDS`](crate::telemetry::delivery::SINK_LAG_SECONDS) gauge; this route
//! reads it back from the process's Prometheus recorder, so it is the figure `/metrics`
//! shows, and `null` when no worker of this process has delivered to the sink.
//!
//! Outbox times are wall-clock times (leases and retries run on them), so ages are
//! measured from the system clock, not from the dashboard's contact-center clock (which
//! the demo runs faster).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use switchboard_store::OutboxDepth;

use crate::api::NoParams;
use crate::error::{ApiError, ApiQuery};
use crate::telemetry::delivery::SINK_LAG_SECONDS;
use crate::telemetry::label;
use crate::AppState;

/// The sink whose items are dead letters (the pipeline's dead-letter sink name).
pub use switchboard_store::DEAD_LETTER_SINK;

/// What `GET /api/outbox` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxResponse {
    /// Sinks with items waiting, by name (the dead-letter sink is not among them).
    pub sinks: Vec<SinkDepth>,
    /// Dead letters waiting in the outbox.
    pub dead_letters: u64,
}

/// How much one sink has waiting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SinkDepth {
    pub sink: String,
    /// Items waiting, claimed by a worker or not.
    pub items: u64,
    /// Their payload bytes.
    pub bytes: u64,
    /// Items a worker could claim now (not claimed, not waiting for a retry).
    pub ready: u64,
    /// Age of the oldest item waiting, in seconds.
    pub oldest_age_s: Option<f64>,
    /// Now minus the event time of the newest item this process delivered to the sink,
    /// in seconds, as of that delivery.
    pub lag_s: Option<f64>,
}

/// `GET /api/outbox`.
pub async fn outbox(
    State(state): State<AppState>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<OutboxResponse>, ApiError> {
    let now = wall_clock_ms();
    let depths = state
        .with_store_blocking("reading the outbox depth", move |s| s.outbox_depth(now))
        .await?;
    let needs_lag = depths.iter().any(|d| d.sink != DEAD_LETTER_SINK);
    let lags = if needs_lag {
        sink_lags(&state.metrics().render())
    } else {
        BTreeMap::new()
    };
    Ok(Json(view(depths, now, &lags)))
}

/// The answer for `depths` read at `now_ms`, with the lags known per sink.
pub fn view(depths: Vec<OutboxDepth>, now_ms: i64, lags: &BTreeMap<String, f64>) -> OutboxResponse {
    let mut dead_letters = 0;
    let mut sinks = Vec::with_capacity(depths.len());
    for d in depths {
        if d.sink == DEAD_LETTER_SINK {
            dead_letters += d.items;
            continue;
        }
        sinks.push(SinkDepth {
            lag_s: lags.get(&d.sink).copied(),
            oldest_age_s: d.oldest_created_ms.map(|created| age_s(now_ms, created)),
            sink: d.sink,
            items: d.items,
            bytes: d.bytes,
            ready: d.ready,
        });
    }
    sinks.sort_by(|a, b| a.sink.cmp(&b.sink));
    OutboxResponse {
        sinks,
        dead_letters,
    }
}

/// Seconds from `created_ms` to `now_ms`, never negative (the clocks of several hosts
/// writing one PostgreSQL store may disagree a little).
fn age_s(now_ms: i64, created_ms: i64) -> f64 {
    now_ms.saturating_sub(created_ms).max(0) as f64 / 1000.0
}

fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The value of the sink lag gauge per sink, from Prometheus text exposition (what the
/// process's recorder renders). Lines that do not parse, and values that are not finite,
/// are left out: the lag is then unknown, which the API says with `null`.
pub fn sink_lags(exposition: &str) -> BTreeMap<String, f64> {
    let mut lags = BTreeMap::new();
    for line in exposition.lines() {
        let Some(rest) = line
            .strip_prefix(SINK_LAG_SECONDS)
            .and_then(|r| r.strip_prefix('{'))
        else {
            continue;
        };
        let Some((labels, value)) = parse_labels(rest) else {
            continue;
        };
        let Some(sink) = labels
            .into_iter()
            .find_map(|(name, v)| (name == label::SINK).then_some(v))
        else {
            continue;
        };
        let value = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok());
        if let Some(v) = value.filter(|v| v.is_finite()) {
            lags.insert(sink, v);
        }
    }
    lags
}

/// `name="value",...}` → the labels (values unescaped) and what follows the `}`.
fn parse_labels(text: &str) -> Option<(Vec<(&str, String)>, &str)> {
    let mut labels = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (name, after) = rest.split_once('=')?;
        let mut chars = after.strip_prefix('"')?.char_indices();
        let mut value = String::new();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((name.trim(), value));
        rest = &after[1 + end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(sink: &str, items: u64, oldest: Option<i64>, ready: u64) -> OutboxDepth {
        OutboxDepth {
            sink: sink.into(),
            items,
            bytes: items * 100,
            oldest_created_ms: oldest,
            ready,
        }
    }

    #[test]
    fn dead_letters_are_counted_apart_and_ages_are_seconds() {
        let depths = vec![
            depth("s3", 2, Some(99_000), 2),
            depth("crm", 12, Some(57_500), 10),
            depth(DEAD_LETTER_SINK, 3, Some(1_000), 3),
            depth("clock_skew", 1, Some(100_500), 1),
        ];
        let lags = BTreeMap::from([("crm".to_owned(), 1.25)]);
        let v = view(depths, 100_000, &lags);
        assert_eq!(v.dead_letters, 3);
        let names: Vec<&str> = v.sinks.iter().map(|s| s.sink.as_str()).collect();
        assert_eq!(names, ["clock_skew", "crm", "s3"]);
        let crm = &v.sinks[1];
        assert_eq!(
            (crm.items, crm.bytes, crm.ready, crm.oldest_age_s, crm.lag_s),
            (12, 1200, 10, Some(42.5), Some(1.25))
        );
        assert_eq!(v.sinks[0].oldest_age_s, Some(0.0), "a future time is age 0");
        assert_eq!(v.sinks[2].lag_s, None);
    }

    #[test]
    fn an_empty_outbox_lists_nothing() {
        let v = view(vec![], 5, &BTreeMap::new());
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!({"sinks": [], "dead_letters": 0})
        );
    }

    #[test]
    fn lags_are_read_from_the_exposition() {
        let text = "\
# HELP switchboard_sink_lag_seconds Now minus the event time of the newest item delivered, by sink.
# TYPE switchboard_sink_lag_seconds gauge
switchboard_sink_lag_seconds{sink=\"crm\"} 3.5
switchboard_sink_lag_seconds{sink=\"we\\\"ird\\\\name\",zone=\"a\"} 7
switchboard_sink_lag_seconds{zone=\"b\",sink=\"ordered\"} 1e1 1700000000000
switchboard_sink_lag_seconds{sink=\"nan\"} NaN
switchboard_sink_lag_seconds{sink=\"broken} 2
switchboard_sink_lag_seconds_total{sink=\"other\"} 9
switchboard_outbox_depth{sink=\"crm\"} 12
";
        let lags = sink_lags(text);
        assert_eq!(
            lags,
            BTreeMap::from([
                ("crm".to_owned(), 3.5),
                ("ordered".to_owned(), 10.0),
                ("we\"ird\\name".to_owned(), 7.0),
            ])
        );
    }

    #[test]
    fn label_parsing_never_panics_on_odd_text() {
        for text in [
            "",
            "}",
            "sink",
            "sink=",
            "sink=\"",
            "sink=\"\\",
            "sink=\"a\"",
            "sink=\"a\"}",
            "=\"\"}",
            "sink=\"é\\é\"} 1",
            ",,}",
            "sink=x}",
        ] {
            let _ = parse_labels(text);
        }
        assert_eq!(
            parse_labels("sink=\"é\"} 1"),
            Some((vec![("sink", "é".to_owned())], " 1"))
        );
    }
}
