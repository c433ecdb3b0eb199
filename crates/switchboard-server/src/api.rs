//! The JSON routes under `/api` (the feed is in [`crate::feed`]), plus the probes.
//!
//! Live views (seat map, queue board, active alerts) read the engine under its lock,
//! copy what they need and let go before serializing. History (contacts, metrics, past
//! alerts) comes from the store on the blocking pool; the store is at most one commit
//! (about a second) behind the engine, and the feed covers that second.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_engine::metrics::DimensionKind;
use switchboard_engine::{Alert, Engine, Interval};
use switchboard_model::Timestamp;
use switchboard_store::{ContactFilter, MetricQuery};

use crate::error::{ApiError, ApiPath, ApiQuery};
use crate::views::{self, AgentView, ContactDetailView, ContactSummary, MetricView, QueueView};
use crate::AppState;

/// Most contacts one request lists.
pub const MAX_CONTACTS: usize = 1000;
/// Contacts listed when the request does not say.
pub const DEFAULT_CONTACTS: usize = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsQuery {
    /// Agents serving this queue.
    queue: Option<String>,
    routing_profile: Option<String>,
    /// Agents with this hierarchy group at any level.
    hierarchy: Option<String>,
    /// Effective state (`available`, `on_contact`... or a custom status name).
    state: Option<String>,
}

#[derive(Serialize)]
pub struct AgentsResponse {
    /// Feed frames up to this sequence number are included.
    seq: u64,
    now: Option<Timestamp>,
    agents: Vec<AgentView>,
}

pub async fn agents(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AgentsQuery>,
) -> Result<Json<AgentsResponse>, ApiError> {
    let (seq, now, mut agents) = state
        .read_engine(move |state, engine| {
            let agents: Vec<AgentView> = engine
                .agents()
                .filter(|a| q.queue.as_ref().is_none_or(|x| a.queues.contains(x)))
                .filter(|a| {
                    q.routing_profile
                        .as_ref()
                        .is_none_or(|x| a.routing_profile.as_ref() == Some(x))
                })
                .filter(|a| q.hierarchy.as_ref().is_none_or(|x| a.hierarchy.contains(x)))
                .filter(|a| q.state.as_ref().is_none_or(|x| a.effective.as_str() == x))
                .map(AgentView::of)
                .collect();
            (state.hub().seq(), state.now(engine).0, agents)
        })
        .await?;
    agents.sort_by(|a, b| {
        (a.username.as_deref(), &a.agent_arn).cmp(&(b.username.as_deref(), &b.agent_arn))
    });
    Ok(Json(AgentsResponse { seq, now, agents }))
}

#[derive(Serialize)]
pub struct QueuesResponse {
    seq: u64,
    now: Option<Timestamp>,
    queues: Vec<QueueView>,
}

pub async fn queues(
    State(state): State<AppState>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<QueuesResponse>, ApiError> {
    let response = state
        .read_engine(|state, engine| QueuesResponse {
            seq: state.hub().seq(),
            now: state.now(engine).0,
            queues: views::queues(engine),
        })
        .await?;
    Ok(Json(response))
}

/// A route without parameters still refuses unknown ones (a typo should not pass).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactsQuery {
    active: Option<bool>,
    queue: Option<String>,
    /// Agent ARN or username.
    agent: Option<String>,
    since: Option<Timestamp>,
    limit: Option<usize>,
}

#[derive(Serialize)]
pub struct ContactsResponse {
    contacts: Vec<ContactSummary>,
}

/// The ARN of `agent`, given as an ARN or a username; `None` for an unknown username.
fn agent_arn(engine: &Engine, agent: &str) -> Option<String> {
    if agent.starts_with("arn:") {
        return Some(agent.to_owned());
    }
    engine
        .agents()
        .find(|a| a.username.as_deref() == Some(agent))
        .map(|a| a.agent_arn.clone())
}

pub async fn contacts(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ContactsQuery>,
) -> Result<Json<ContactsResponse>, ApiError> {
    let limit = q.limit.unwrap_or(DEFAULT_CONTACTS);
    if limit == 0 || limit > MAX_CONTACTS {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_CONTACTS}"
        )));
    }
    let agent_arn = match q.agent.clone() {
        Some(a) => match state.read_engine(move |_, e| agent_arn(e, &a)).await? {
            Some(arn) => Some(arn),
            None => return Ok(Json(ContactsResponse { contacts: vec![] })),
        },
        None => None,
    };
    let filter = ContactFilter {
        active: q.active,
        queue: q.queue,
        agent_arn,
        since: q.since,
        limit: Some(limit),
    };
    let timelines = state
        .with_store_blocking("listing contacts", move |s| s.contacts(&filter))
        .await?;
    Ok(Json(ContactsResponse {
        contacts: timelines.iter().map(ContactSummary::of).collect(),
    }))
}

pub async fn contact(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(NoParams {}): ApiQuery<NoParams>,
) -> Result<Json<ContactDetailView>, ApiError> {
    let key = id.clone();
    let live = state
        .read_engine(move |_, e| e.contact(&key).cloned())
        .await?;
    let stored = if state.has_store() {
        let key = id.clone();
        state
            .with_store_blocking("reading a contact", move |s| s.contact(&key))
            .await?
    } else {
        None
    };
    let (timeline, record) = match (live, stored) {
        (Some(t), stored) => (t, stored.and_then(|d| d.record)),
        (None, Some(d)) => (d.timeline, d.record),
        (None, None) => return Err(ApiError::NotFound(format!("no contact {id:?}"))),
    };
    let view = ContactDetailView::new(&timeline, record, state.options().mask_phone_numbers)
        .map_err(|e| ApiError::internal("serializing a contact record", e))?;
    Ok(Json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsQuery {
    interval: Option<Interval>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    queue: Option<String>,
    /// Agent ARN or username.
    agent: Option<String>,
}

#[derive(Serialize)]
pub struct MetricsResponse {
    interval: Interval,
    rows: Vec<MetricView>,
}

pub async fn metrics(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> Result<Json<MetricsResponse>, ApiError> {
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if from >= to {
            return Err(ApiError::BadRequest("from must be before to".into()));
        }
    }
    let interval = q.interval.unwrap_or(Interval::Min15);
    let agent = match q.agent.clone() {
        Some(a) => match state.read_engine(move |_, e| agent_arn(e, &a)).await? {
            Some(arn) => Some(arn),
            None => {
                return Ok(Json(MetricsResponse {
                    interval,
                    rows: vec![],
                }))
            }
        },
        None => None,
    };
    let query = MetricQuery {
        interval,
        from: q.from,
        to: q.to,
        queue: q.queue,
        agent,
    };
    let rows = state
        .with_store_blocking("reading metrics", move |s| s.metrics(&query))
        .await?;
    let agent_ids: Vec<String> = rows
        .iter()
        .filter(|r| r.kind == DimensionKind::Agent)
        .map(|r| r.id.clone())
        .collect();
    let usernames: BTreeMap<String, String> = state
        .read_engine(move |_, engine| {
            agent_ids
                .into_iter()
                .filter_map(|id| {
                    let name = engine.agent(&id)?.username.clone()?;
                    Some((id, name))
                })
                .collect()
        })
        .await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let label = match r.kind {
                DimensionKind::Queue => Some(r.id.clone()),
                DimensionKind::Agent => usernames.get(&r.id).cloned(),
            };
            MetricView::new(r.start, r.kind, r.id, label, r.cell)
        })
        .collect();
    Ok(Json(MetricsResponse { interval, rows }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    /// Only alerts not cleared yet (live, from the engine); otherwise every stored alert.
    active: Option<bool>,
}

#[derive(Serialize)]
pub struct AlertsResponse {
    alerts: Vec<Alert>,
}

pub async fn alerts(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let mut alerts = if q.active == Some(true) {
        state
            .read_engine(|_, e| e.meta().alerts.active().cloned().collect())
            .await?
    } else {
        state
            .with_store_blocking("listing alerts", |s| s.alerts(false))
            .await?
    };
    alerts.sort_by(|a: &Alert, b: &Alert| b.raised_at.cmp(&a.raised_at).then(a.id.cmp(&b.id)));
    Ok(Json(AlertsResponse { alerts }))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Liveness: the process answers.
pub async fn healthz() -> Json<impl Serialize> {
    Json(Health { status: "ok" })
}

/// Readiness: state restored and the pipeline running.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<impl Serialize>, ApiError> {
    if state.is_ready() {
        Ok(Json(Health { status: "ready" }))
    } else {
        Err(ApiError::Unavailable("starting".into()))
    }
}

/// Prometheus text exposition.
pub async fn prometheus(State(state): State<AppState>) -> Response {
    let handle = state.metrics();
    handle.run_upkeep();
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// Unknown routes: JSON 404 like every other error.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}
