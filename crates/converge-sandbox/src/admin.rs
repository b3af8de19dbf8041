//! The admin surface, under `/_sandbox/` beside the platform's own paths and without
//! authentication: the call log and counts, state dump/reset/seed, faults, rate limit,
//! builds or steps marked to fail, and builds held under way.

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::ops::{Faults, RateLimit};
use super::{Platform, Sandbox};

pub fn routes<P: Platform>() -> Router<Sandbox<P>> {
    Router::new()
        .route("/_sandbox/info", get(info::<P>))
        .route("/_sandbox/calls", get(calls::<P>).delete(clear_calls::<P>))
        .route("/_sandbox/counts", get(counts::<P>))
        .route("/_sandbox/throttled", get(throttled::<P>))
        .route("/_sandbox/state", get(state::<P>))
        .route("/_sandbox/reset", post(reset::<P>))
        .route("/_sandbox/seed", post(seed::<P>))
        .route("/_sandbox/faults", get(faults::<P>).put(set_faults::<P>))
        .route(
            "/_sandbox/rate-limit",
            get(rate_limit::<P>)
                .put(set_rate_limit::<P>)
                .delete(clear_rate_limit::<P>),
        )
        .route(
            "/_sandbox/failures",
            get(failures::<P>)
                .post(add_failure::<P>)
                .delete(clear_failures::<P>),
        )
        .route(
            "/_sandbox/holds",
            get(holds::<P>).post(add_hold::<P>).delete(clear_holds::<P>),
        )
}

async fn info<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    Json(serde_json::json!({
        "platform": P::NAME,
        "stepDelayMs": sb.timing().step.as_millis() as u64,
        "rateLimit": sb.ops().rate_limit(),
        "faults": sb.ops().faults(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct CallsQuery {
    /// Only the newest N calls.
    limit: Option<usize>,
}

async fn calls<P: Platform>(State(sb): State<Sandbox<P>>, Query(q): Query<CallsQuery>) -> Response {
    let calls = sb.ops().calls();
    let skip = q.limit.map(|n| calls.len().saturating_sub(n)).unwrap_or(0);
    Json(&calls[skip..]).into_response()
}

async fn clear_calls<P: Platform>(State(sb): State<Sandbox<P>>) -> StatusCode {
    sb.ops().clear_calls();
    StatusCode::NO_CONTENT
}

async fn counts<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    Json(sb.ops().counts()).into_response()
}

/// Like counts, only the calls answered 429.
async fn throttled<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    Json(sb.ops().throttled()).into_response()
}

async fn state<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    sb.read(|s| Json(serde_json::to_value(s).unwrap_or_default()).into_response())
}

async fn reset<P: Platform>(State(sb): State<Sandbox<P>>) -> StatusCode {
    sb.reset();
    StatusCode::NO_CONTENT
}

async fn seed<P: Platform>(
    State(sb): State<Sandbox<P>>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    match sb.write(|s| P::seed(s, body)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": message })),
        )
            .into_response(),
    }
}

async fn faults<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    Json(sb.ops().faults()).into_response()
}

async fn set_faults<P: Platform>(State(sb): State<Sandbox<P>>, Json(f): Json<Faults>) -> Response {
    let rates = [
        f.error_rate,
        f.throttle_rate,
        f.reset_rate,
        f.malformed_rate,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "rates are between 0 and 1" })),
        )
            .into_response();
    }
    sb.ops().set_faults(f.clone());
    Json(f).into_response()
}

async fn rate_limit<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    Json(sb.ops().rate_limit()).into_response()
}

async fn set_rate_limit<P: Platform>(
    State(sb): State<Sandbox<P>>,
    Json(l): Json<RateLimit>,
) -> Response {
    if l.per_second == 0 {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({ "error": "perSecond must be at least 1" })),
        )
            .into_response();
    }
    sb.ops().set_rate_limit(Some(l));
    Json(l).into_response()
}

async fn clear_rate_limit<P: Platform>(State(sb): State<Sandbox<P>>) -> StatusCode {
    sb.ops().set_rate_limit(None);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Failure {
    /// Builds, runs or steps whose commit, branch, job, workflow or step name contains this
    /// text end as failed.
    #[serde(rename = "match")]
    pattern: String,
}

async fn failures<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    Json(sb.ops().failures()).into_response()
}

async fn add_failure<P: Platform>(
    State(sb): State<Sandbox<P>>,
    Json(f): Json<Failure>,
) -> StatusCode {
    sb.ops().add_failure(f.pattern);
    StatusCode::NO_CONTENT
}

async fn clear_failures<P: Platform>(State(sb): State<Sandbox<P>>) -> StatusCode {
    sb.ops().clear_failures();
    StatusCode::NO_CONTENT
}

/// `{"match": "abc123"}`: Choreo builds whose commit or branch contains this text stay
/// InProgress until `DELETE /_sandbox/holds`, so a test (or a demo) can look at a state that
/// would otherwise pass in a moment. (A Cycloid build is held pending by pausing its pipeline;
/// an OpsChain run by a wait step.)
async fn holds<P: Platform>(State(sb): State<Sandbox<P>>) -> Response {
    Json(sb.ops().holds()).into_response()
}

async fn add_hold<P: Platform>(State(sb): State<Sandbox<P>>, Json(f): Json<Failure>) -> StatusCode {
    sb.ops().add_hold(f.pattern);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct Release {
    /// Only this hold (`DELETE /_sandbox/holds?match=abc123`); without it, every hold.
    #[serde(rename = "match")]
    pattern: Option<String>,
}

async fn clear_holds<P: Platform>(
    State(sb): State<Sandbox<P>>,
    Query(r): Query<Release>,
) -> StatusCode {
    sb.ops().release_holds(r.pattern.as_deref());
    StatusCode::NO_CONTENT
}
