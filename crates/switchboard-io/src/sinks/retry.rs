//! What every sink shares about failing and trying again: the backoff the delivery workers
//! wait between attempts, reading a destination's `Retry-After`, turning an HTTP status or
//! a transport error into an [`Outcome`], reading a response body under a cap, splitting a
//! batch, and, at build time, expanding `${VAR}` in config values (header secrets) and
//! refusing a config whose `check` finds problems.
//!
//! A sink never sleeps and never loops: it reports [`Outcome::Retry`] (with the
//! destination's own wait when it gave one) and the delivery worker schedules the item
//! again after [`Backoff::delay`] or that wait. So a slow destination holds no task, and a
//! restart loses no retry: the schedule lives in the outbox.
//!
//! The rules, in one place so every HTTP sink answers alike:
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx | delivered |
//! | 408, 429, 5xx | retry (after `Retry-After` when given) |
//! | 3xx, other 4xx | reject: dead-lettered with the status and the start of the body |
//! | timeout, connection refused or reset | retry |

use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use rand::Rng as _;

use super::{BuildError, Item, Outcome};
use crate::civil::days_from_civil;
use crate::problems::Problems;

/// The longest `Retry-After` honoured: a destination asking for more is asked again after
/// this long (a typo of a server must not park items for days).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How much of a response body is read (the rest is dropped unread) and kept for a
/// rejection's reason.
pub const BODY_CAP: usize = 64 * 1024;

/// How many characters of a response body a rejection's reason quotes.
pub const SNIPPET_CHARS: usize = 200;

/// Exponential backoff with full jitter: attempt `n` (1 for the first retry) waits a
/// random time between zero and `min(max, initial * multiplier^(n-1))`. Full jitter
/// spreads the retries of many items that failed together (a destination that was down)
/// over the whole window, so they do not return as one burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first retry's wait.
    pub initial: Duration,
    /// The largest ceiling.
    pub max: Duration,
    /// How much the ceiling grows per attempt (2.0 doubles it).
    pub multiplier: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
            multiplier: 2.0,
        }
    }
}

impl Backoff {
    /// The largest wait of `attempt` (1 for the first retry; 0 counts as 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let max = self.max.max(self.initial);
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let factor = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier.powi(exponent)
        } else {
            1.0
        };
        let ceiling = self.initial.as_secs_f64() * factor;
        if !ceiling.is_finite() || ceiling >= max.as_secs_f64() {
            max
        } else {
            Duration::from_secs_f64(ceiling)
        }
    }

    /// The wait before `attempt` (1 for the first retry): uniformly random in
    /// `0..=ceiling(attempt)`, to the millisecond.
    pub fn delay(&self, attempt: u32) -> Duration {
        up_to(self.ceiling(attempt))
    }

    /// The wait before `attempt` (1 for the first retry) with half of it fixed: uniformly
    /// random in `ceiling(attempt) / 2..=ceiling(attempt)`, to the millisecond. For
    /// callers that retry in a loop of their own (unprocessed DynamoDB keys, a throttled
    /// Kinesis call), where each retry must wait at least half its step however the draw
    /// falls, while the random half still keeps many callers out of lockstep.
    pub fn delay_at_least_half(&self, attempt: u32) -> Duration {
        let half = self.ceiling(attempt) / 2;
        half + up_to(half)
    }
}

/// Uniformly random in `0..=max`, to the millisecond.
fn up_to(max: Duration) -> Duration {
    let max = max.as_millis().min(u128::from(u64::MAX)) as u64;
    Duration::from_millis(rand::thread_rng().gen_range(0..=max))
}

// ---------------------------------------------------------------------------------------
// Retry-After

/// The wait a `Retry-After` value asks for: a number of seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, also the obsolete RFC 850 and asctime forms), taken
/// from `now`. A date in the past is no wait; the result is capped at
/// [`MAX_RETRY_AFTER`]. `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Many digits means "very long": saturate rather than fail.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = parse_http_date(value)?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        Duration::from_secs(at.saturating_sub(now).max(0) as u64)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The `Retry-After` of a response's headers, if it has a readable one.
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// An HTTP date (RFC 9110 section 5.6.7) as seconds since the epoch.
fn parse_http_date(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_ascii_whitespace().collect();
    let (day, month, year, time) = match parts.as_slice() {
        // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        [wd, d, m, y, t, "GMT"] if wd.ends_with(',') && !wd.contains('-') => {
            (d.parse().ok()?, *m, y.parse().ok()?, *t)
        }
        // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        [wd, dmy, t, "GMT"] if wd.ends_with(',') => {
            let mut it = dmy.split('-');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            if it.next().is_some() || y.len() != 2 {
                return None;
            }
            let yy: i64 = y.parse().ok()?;
            // RFC 9110: a two-digit year more than 50 years ahead is in the past century.
            let year = if yy < 70 { 2000 + yy } else { 1900 + yy };
            (d.parse().ok()?, m, year, *t)
        }
        // asctime: Sun Nov  6 08:49:37 1994
        [_, m, d, t, y] => (d.parse().ok()?, *m, y.parse().ok()?, *t),
        _ => return None,
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == month)? as u32 + 1;
    let mut hms = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, se) = (hms.next()??, hms.next()??, hms.next()??);
    if hms.next().is_some()
        || !(1..=31).contains(&day)
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..=60).contains(&se)
        || !(1..=9999).contains(&year)
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + mi * 60 + se)
}

// ---------------------------------------------------------------------------------------
// Classifying answers

/// The outcome of an HTTP answer: 2xx delivered; 408, 429 and 5xx retried (after
/// `retry_after` when the destination gave one); 3xx and every other 4xx rejected, the
/// reason quoting the status and the start of the body.
pub fn classify_status(status: u16, retry_after: Option<Duration>, body_snippet: &str) -> Outcome {
    let said = if body_snippet.is_empty() {
        String::new()
    } else {
        format!(": {body_snippet}")
    };
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 | 500..=599 => Outcome::Retry {
            reason: format!("HTTP {status}{said}"),
            after: retry_after,
        },
        300..=399 => Outcome::reject(format!(
            "HTTP {status} (a redirect: point the sink at the final URL){said}"
        )),
        _ => Outcome::reject(format!("HTTP {status}{said}")),
    }
}

/// The outcome of a request that got no HTTP answer. Timeouts, refused or reset
/// connections and broken bodies are retried (the destination may be back soon); a
/// request that cannot even be built or a redirect loop is rejected. The reason never
/// quotes the URL: webhook URLs can be secrets (Slack's are).
pub fn classify_reqwest_error(error: &reqwest::Error) -> Outcome {
    let cause = causes(error);
    if error.is_timeout() {
        Outcome::retry(format!("timed out{cause}"))
    } else if error.is_connect() {
        Outcome::retry(format!("cannot connect{cause}"))
    } else if error.is_builder() {
        Outcome::reject(format!("cannot build the request{cause}"))
    } else if error.is_redirect() {
        Outcome::reject(format!("too many redirects{cause}"))
    } else if let Some(status) = error.status() {
        classify_status(status.as_u16(), None, "")
    } else if error.is_body() || error.is_decode() {
        Outcome::retry(format!("broken response body{cause}"))
    } else {
        Outcome::retry(format!("request failed{cause}"))
    }
}

/// `": cause: deeper cause"` from an error's sources (reqwest's own `Display` would
/// include the URL).
fn causes(error: &reqwest::Error) -> String {
    with_causes(String::new(), std::error::Error::source(error))
}

/// `text`, then `": cause"` for `source` and each of its own sources in turn, leaving out
/// a cause that says nothing or that the text already ends with (an error whose
/// `Display` repeats its cause). Sinks and lookups describe client errors with it: a
/// driver's or SDK's top-level message alone rarely says what went wrong (`dispatch
/// failure`), its causes do (`Connection refused`).
pub(crate) fn with_causes(
    mut text: String,
    mut source: Option<&(dyn std::error::Error + 'static)>,
) -> String {
    while let Some(cause) = source {
        let said = cause.to_string();
        if !said.is_empty() && !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// Reads up to `cap` bytes of a response body; the rest is left unread (the connection
/// is then not reused, which is fine for an answer that large). A body that breaks off is
/// kept as far as it came.
pub async fn read_capped(mut response: reqwest::Response, cap: usize) -> Bytes {
    let mut body = BytesMut::new();
    while body.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body.freeze()
}

/// The outcome of a sent request: the status classified, with the response's
/// `Retry-After` and the start of its body (read under [`BODY_CAP`]).
pub async fn outcome_of(result: Result<reqwest::Response, reqwest::Error>) -> Outcome {
    match result {
        Ok(response) => {
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                // Drain a little so the connection can go back to the pool.
                let _ = read_capped(response, BODY_CAP).await;
                return Outcome::Delivered;
            }
            let after = retry_after(response.headers());
            let body = read_capped(response, BODY_CAP).await;
            classify_status(status, after, &snippet(&body, SNIPPET_CHARS))
        }
        Err(e) => classify_reqwest_error(&e),
    }
}

/// The start of a body as one line of text: invalid UTF-8 replaced, runs of whitespace
/// made one space, cut at `max_chars` with an ellipsis.
pub fn snippet(body: &[u8], max_chars: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max_chars.saturating_mul(4))]);
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars() {
            if chars >= max_chars {
                out.push('…');
                return out;
            }
            out.push(c);
            chars += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Batching

/// Splits `items` into consecutive runs of at most `max_items` items and about
/// `max_bytes` of payload (a run always holds at least one item, however large).
pub fn chunks(items: &[Item], max_items: usize, max_bytes: usize) -> Vec<Range<usize>> {
    let max_items = max_items.max(1);
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, item) in items.iter().enumerate() {
        let len = item.payload.len();
        if i > start && (i - start >= max_items || bytes.saturating_add(len) > max_bytes) {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(len);
    }
    if start < items.len() {
        out.push(start..items.len());
    }
    out
}

/// One idempotency key for several items sent in one request: the item's own key for a
/// batch of one, else a hash of every key in order (`sb1b-` and 32 hex digits). The same
/// items in the same order give the same key, across retries and restarts.
pub fn batch_key(items: &[Item]) -> String {
    if let [one] = items {
        return one.key.clone();
    }
    fn fnv(seed: u64, items: &[Item]) -> u64 {
        let mut h = seed;
        for item in items {
            for b in item.key.bytes().chain(std::iter::once(0xff)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
    format!(
        "sb1b-{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325, items),
        fnv(0x8422_2325_cbf2_9ce4, items)
    )
}

// ---------------------------------------------------------------------------------------
// Building

/// Runs a config's `check` and turns its problems into one build error.
pub fn fail_on_problems(name: &str, check: impl FnOnce(&mut Problems)) -> Result<(), BuildError> {
    let mut problems = Problems::new("");
    check(&mut problems);
    if problems.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = problems
        .list
        .iter()
        .map(|p| {
            if p.key.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.key, p.message)
            }
        })
        .collect();
    Err(BuildError::sink(name, list.join("; ")))
}

// ---------------------------------------------------------------------------------------
// ${VAR} in config values

/// The environment variables `text` refers to as `${NAME}`, in order, or what is wrong
/// with its syntax (for a config's `check`). `$${` is a literal `${`; a `$` not followed
/// by `{` is itself. Names are letters, digits and `_`, not starting with a digit.
pub fn env_references(text: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    for piece in env_pieces(text)? {
        if let Piece::Var(name) = piece {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// `text` with every `${NAME}` replaced by the environment variable's value, at build
/// time. An unset (or non-UTF-8) variable fails naming the variable and `field` (e.g.
/// `headers.Authorization`), never the value: these are secrets.
pub fn expand_env(sink: &str, field: &str, text: &str) -> Result<String, BuildError> {
    let pieces = env_pieces(text).map_err(|e| BuildError::sink(sink, format!("{field}: {e}")))?;
    let mut out = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(name) => match std::env::var(name) {
                Ok(value) => out.push_str(&value),
                Err(std::env::VarError::NotPresent) => {
                    return Err(BuildError::sink(
                        sink,
                        format!(
                            "{field} uses ${{{name}}}, but the environment variable {name} is \
                             not set: set it before starting switchboard"
                        ),
                    ))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(BuildError::sink(
                        sink,
                        format!(
                            "{field} uses ${{{name}}}, but the environment variable {name} is \
                             not valid UTF-8"
                        ),
                    ))
                }
            },
        }
    }
    Ok(out)
}

enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

fn env_pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            // `$${` writes `${`.
            pieces.push(Piece::Text(&rest[..at + 1]));
            pieces.push(Piece::Text("{"));
            rest = escaped;
        } else if let Some(inner) = after.strip_prefix('{') {
            pieces.push(Piece::Text(&rest[..at]));
            let end = inner.find('}').ok_or_else(|| {
                let column = text[..text.len() - rest.len() + at].chars().count() + 1;
                format!("unclosed ${{ at character {column} (write $${{ for a literal ${{)")
            })?;
            let name = &inner[..end];
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "${{{name}}} is not a variable name (letters, digits and _, not starting \
                     with a digit)"
                ));
            }
            pieces.push(Piece::Var(name));
            rest = &inner[end + 1..];
        } else {
            pieces.push(Piece::Text(&rest[..at + 1]));
            rest = after;
        }
    }
    pieces.push(Piece::Text(rest));
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::ItemKind;

    fn at(s: &str) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(parse_http_date(s).unwrap() as u64)
    }

    #[test]
    fn backoff_grows_to_its_cap_and_jitters_below_the_ceiling() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2.0,
        };
        let ceilings: Vec<u128> = (0..7).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
        for attempt in 1..10 {
            for _ in 0..50 {
                assert!(b.delay(attempt) <= b.ceiling(attempt));
            }
        }
        // Full jitter: the waits of one attempt spread over the window.
        let waits: std::collections::BTreeSet<_> = (0..200).map(|_| b.delay(5)).collect();
        assert!(waits.len() > 20, "{waits:?}");
        assert!(waits.iter().any(|w| *w < Duration::from_millis(400)));
    }

    #[test]
    fn backoff_survives_odd_settings() {
        let b = Backoff {
            initial: Duration::from_secs(5),
            max: Duration::from_secs(1),
            multiplier: f64::NAN,
        };
        assert_eq!(b.ceiling(3), Duration::from_secs(5));
        let zero = Backoff {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            multiplier: 2.0,
        };
        assert_eq!(zero.delay(4), Duration::ZERO);
        assert_eq!(zero.delay_at_least_half(4), Duration::ZERO);
    }

    #[test]
    fn a_delay_of_at_least_half_stays_in_the_upper_half_of_the_ceiling() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
            multiplier: 2.0,
        };
        for (attempt, ceiling) in [(1, 100), (2, 200), (4, 800), (6, 2000), (40, 2000)] {
            for _ in 0..50 {
                let d = b.delay_at_least_half(attempt).as_millis();
                assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d}");
            }
        }
        let waits: std::collections::BTreeSet<_> =
            (0..200).map(|_| b.delay_at_least_half(5)).collect();
        assert!(waits.len() > 20, "{waits:?}");
    }

    #[test]
    fn retry_after_reads_seconds_and_the_three_date_forms() {
        let now = at("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:40 1994", now),
            Some(Duration::from_secs(3))
        );
        // In the past: no wait. Very far: capped.
        assert_eq!(
            parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "soon",
            "Sun, 06 Nov 1994 25:00:00 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn http_dates_match_known_epoch_seconds() {
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480)
        );
        assert_eq!(
            parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT"),
            Some(951_825_600)
        );
    }

    #[test]
    fn statuses_are_classified_as_the_table_says() {
        assert_eq!(classify_status(200, None, ""), Outcome::Delivered);
        assert_eq!(classify_status(204, None, "x"), Outcome::Delivered);
        let wait = Some(Duration::from_secs(1));
        for status in [408, 429, 500, 502, 503, 599] {
            match classify_status(status, wait, "busy") {
                Outcome::Retry { reason, after } => {
                    assert_eq!(after, wait);
                    assert_eq!(reason, format!("HTTP {status}: busy"));
                }
                other => panic!("{status}: {other:?}"),
            }
        }
        assert_eq!(
            classify_status(400, None, "{\"error\":\"bad field\"}"),
            Outcome::reject("HTTP 400: {\"error\":\"bad field\"}")
        );
        assert_eq!(classify_status(404, None, ""), Outcome::reject("HTTP 404"));
        assert!(
            matches!(classify_status(301, None, ""), Outcome::Reject { reason } if reason.contains("redirect"))
        );
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet(b"  a\n\tb  c ", 10), "a b c");
        assert_eq!(snippet(b"abcdefghij", 4), "abcd\u{2026}");
        assert_eq!(snippet(b"\xff\xfeok", 10), "\u{fffd}\u{fffd}ok");
        assert_eq!(snippet(b"", 10), "");
    }

    fn item(key: &str, len: usize) -> Item {
        Item {
            id: 1,
            rule: "r".into(),
            sink: "s".into(),
            key: key.into(),
            kind: ItemKind::Record,
            payload: Bytes::from(vec![b'x'; len]),
            event_ms: 0,
            created_ms: 0,
            attempts: 0,
        }
    }

    #[test]
    fn chunks_respect_counts_and_bytes_and_never_come_out_empty() {
        let items: Vec<Item> = [10, 10, 10, 50, 10].iter().map(|n| item("k", *n)).collect();
        assert_eq!(chunks(&items, 2, 1000), vec![0..2, 2..4, 4..5]);
        assert_eq!(chunks(&items, 10, 30), vec![0..3, 3..4, 4..5]);
        assert_eq!(chunks(&items, 0, 0), vec![0..1, 1..2, 2..3, 3..4, 4..5]);
        assert!(chunks(&[], 10, 10).is_empty());
    }

    #[test]
    fn batch_keys_are_stable_and_depend_on_every_key() {
        let a = [item("a", 1), item("b", 1)];
        let b = [item("a", 1), item("c", 1)];
        assert_eq!(batch_key(&a), batch_key(&a.clone()));
        assert_ne!(batch_key(&a), batch_key(&b));
        assert!(batch_key(&a).starts_with("sb1b-") && batch_key(&a).len() == 37);
        assert_eq!(batch_key(&a[..1]), "a");
    }

    #[test]
    fn env_references_are_expanded_and_unset_ones_named() {
        std::env::set_var("SB_RETRY_TEST_TOKEN", "s3cret");
        assert_eq!(
            expand_env(
                "crm",
                "headers.Authorization",
                "Bearer ${SB_RETRY_TEST_TOKEN}"
            )
            .unwrap(),
            "Bearer s3cret"
        );
        assert_eq!(
            expand_env("crm", "h", "$5 and $${NOT} and $").unwrap(),
            "$5 and ${NOT} and $"
        );
        let err = expand_env("crm", "headers.X", "${SB_RETRY_TEST_UNSET_VAR}").unwrap_err();
        assert_eq!(err.name, "crm");
        assert!(err.reason.contains("SB_RETRY_TEST_UNSET_VAR") && err.reason.contains("headers.X"));
        assert_eq!(
            env_references("a ${ONE} b ${_TWO2}").unwrap(),
            vec!["ONE".to_owned(), "_TWO2".to_owned()]
        );
        assert_eq!(
            env_references("ab ${OPEN").unwrap_err(),
            "unclosed ${ at character 4 (write $${ for a literal ${)"
        );
        assert!(env_references("${1X}")
            .unwrap_err()
            .contains("not a variable name"));
        assert!(env_references("${}").is_err());
    }

    #[test]
    fn a_config_with_problems_does_not_build() {
        assert_eq!(fail_on_problems("crm", |_| {}), Ok(()));
        let err = fail_on_problems("crm", |p| {
            p.push("url", "not a URL");
            p.push("", "whole");
        })
        .unwrap_err();
        assert_eq!(err, BuildError::sink("crm", "url: not a URL; whole"));
    }

    #[test]
    fn an_expanded_secret_never_shows_in_an_error() {
        std::env::set_var("SB_RETRY_TEST_SECRET2", "hunter2");
        let err = expand_env(
            "crm",
            "h",
            "${SB_RETRY_TEST_SECRET2} ${SB_RETRY_TEST_MISSING2}",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
