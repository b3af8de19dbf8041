//! Simulated gateway traffic, and "Get Cluster Metrics" over it.
//!
//! Every published application receives requests, which its gateways split between upstream
//! versions the way API7 routes them: a canary release in progress of type `percent` sends its
//! `percent` to its version, the default version takes the rest (paused, finished and `rule`
//! releases send nothing to their version here). Each version answers with a failure rate and
//! a latency. By default an application receives 10 requests per second, versions answer every
//! request in 20 ms, and a version whose targets are all under `.invalid` (a name that never
//! resolves, RFC 6761) fails every request with 502 in 5 ms, as a gateway would. The admin route
//! changes that per application and version:
//!
//! `PUT /_sandbox/traffic` with `{"application": NAME, "version": V, "requestsPerSecond": N,
//! "failureRate": 0..1, "latencyMs": N, "metrics": MODE}`. Without `version`, the numbers are
//! the application's: its incoming request rate, and the failure rate and latency of versions
//! that set none. With `version`, they are that version's (a `requestsPerSecond` there fixes the
//! version's rate whatever its share). `metrics` makes the metrics operation answer, for that
//! application: `ok`, `error` (503), `throttle` (429, Retry-After 1), `empty` (no series: no
//! data) or `slow` (answers after 10 s). Settings are kept by application name, so they can be
//! set before the application exists. `GET` lists them, `DELETE` clears them.
//!
//! The metrics operation (`GET /api/v1/clusters/{cluster_id}/metrics/{metric_type}`: the docs
//! give no path, see `clients::api7::metrics`) takes the documented parameters: `start`, `end`
//! (RFC 3339, required), `step` (seconds, required, at least 1), `app_id`, `api_id`,
//! `instance_id`. Its payload is a Prometheus query result, `{"resultType": "matrix",
//! "result": [{"metric": {...}, "values": [[time, "value"], ...]}]}`, with one sample every
//! `step` seconds after `start` up to `end` (and not after now): the metric over the `step`
//! seconds that end there, computed with the current settings and split (the sandbox keeps no
//! history). Requests and failures are counts, latency the request-weighted mean in ms, qps
//! per second, bandwidth bytes (1 KiB a request), connections the requests in flight,
//! status-dist counts per `code`. An `api_id` takes an even share of its application's
//! traffic; an `instance_id` matches nothing (the sandbox runs no gateway instances).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Api7;
use super::envelope::{ApiError, error_response, ok};
use super::model::{Application, Id, State as Store, canary_state};
use super::query::pairs;
use super::scope;
use crate::Sandbox;

/// Requests per second an application receives unless told otherwise.
pub const DEFAULT_RPS: f64 = 10.0;
pub const DEFAULT_LATENCY_MS: f64 = 20.0;
/// A version that cannot be reached answers 502 at once.
pub const UNREACHABLE_LATENCY_MS: f64 = 5.0;
/// The most samples one answer holds (Prometheus' own limit).
const MAX_POINTS: u64 = 11_000;
/// How long `slow` keeps an answer.
const SLOW: Duration = Duration::from_secs(10);

pub const METRIC_TYPES: [&str; 7] = [
    "api-requests",
    "api-failure-requests",
    "api-status-dist",
    "api-latency",
    "api-bandwidth",
    "api-connections",
    "api-qps",
];

/// Numbers of an application or a version; unset ones fall back (see the module doc).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// How the metrics operation answers for an application.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsMode {
    #[default]
    Ok,
    Error,
    Throttle,
    Empty,
    Slow,
}

/// The traffic settings of one application.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppTraffic {
    #[serde(default)]
    pub application: Profile,
    #[serde(default)]
    pub versions: BTreeMap<String, Profile>,
    #[serde(default)]
    pub metrics: MetricsMode,
}

/// What a version serves at a moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Flow {
    pub rps: f64,
    pub failure_rate: f64,
    pub latency_ms: f64,
    /// The failures' status code: 502 for an unreachable version, else 500.
    pub failure_code: u16,
}

fn unreachable(upstream: &Value) -> bool {
    let targets = upstream["upstream"]["targets"].as_array();
    targets.is_some_and(|t| {
        !t.is_empty()
            && t.iter().all(|t| {
                t["host"]
                    .as_str()
                    .is_some_and(|h| h.trim_end_matches('.').ends_with(".invalid"))
            })
    })
}

/// The traffic share (0..=1) of each upstream version of `app` now.
fn shares(state: &Store, app: &Application) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut canary = 0.0;
    for c in state.open_canaries(app.id) {
        if c.spec.state != canary_state::IN_PROGRESS || c.spec.kind != "percent" {
            continue;
        }
        let p = (c.spec.percent.unwrap_or(0) as f64 / 100.0).clamp(0.0, 1.0 - canary);
        canary += p;
        *out.entry(c.spec.canary_upstream_version.clone())
            .or_insert(0.0) += p;
    }
    *out.entry(app.spec.default_upstream_version.clone())
        .or_insert(0.0) += 1.0 - canary;
    out
}

/// What each upstream version of `app` serves now, by version.
pub fn flows(state: &Store, app: &Application) -> BTreeMap<String, Flow> {
    let settings = state
        .traffic
        .get(&app.spec.name)
        .cloned()
        .unwrap_or_default();
    let published = app.spec.active == 0;
    let incoming = settings
        .application
        .requests_per_second
        .unwrap_or(DEFAULT_RPS)
        .max(0.0);
    let shares = shares(state, app);
    let mut out = BTreeMap::new();
    for upstream in &app.spec.upstreams {
        let Some(version) = upstream["version"].as_str() else {
            continue;
        };
        let own = settings.versions.get(version).copied().unwrap_or_default();
        let down = unreachable(upstream);
        let share = shares.get(version).copied().unwrap_or(0.0);
        let rps = own.requests_per_second.unwrap_or(incoming * share).max(0.0);
        let failure_rate = own
            .failure_rate
            .or(settings.application.failure_rate)
            .unwrap_or(if down { 1.0 } else { 0.0 })
            .clamp(0.0, 1.0);
        let latency_ms = own
            .latency_ms
            .or(settings.application.latency_ms)
            .unwrap_or(if down {
                UNREACHABLE_LATENCY_MS
            } else {
                DEFAULT_LATENCY_MS
            })
            .max(0.0);
        out.insert(
            version.to_string(),
            Flow {
                rps: if published { rps } else { 0.0 },
                failure_rate,
                latency_ms,
                failure_code: if down { 502 } else { 500 },
            },
        );
    }
    out
}

/// The documented query parameters, validated.
#[derive(Debug, PartialEq)]
pub struct Query {
    pub start: Timestamp,
    pub end: Timestamp,
    pub step: u64,
    pub app_id: Option<Id>,
    pub api_id: Option<Id>,
    pub instance_id: Option<String>,
}

pub fn parse_query(raw: Option<&str>) -> Result<Query, ApiError> {
    let (mut start, mut end, mut step) = (None, None, None);
    let (mut app_id, mut api_id, mut instance_id) = (None, None, None);
    let time = |name: &str, v: &str| {
        v.parse::<Timestamp>().map_err(|_| {
            ApiError::invalid(format!(
                "{name} in query must be of type date-time: \"{v}\""
            ))
        })
    };
    let id = |name: &str, v: &str| {
        Id::parse(v).ok_or_else(|| {
            ApiError::invalid(format!("{name} in query should match '^[1-9][0-9]*$'"))
        })
    };
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "start" => start = Some(time("start", &v)?),
            "end" => end = Some(time("end", &v)?),
            "step" => {
                let n: i64 = v.parse().map_err(|_| {
                    ApiError::invalid(format!("step in query must be of type int64: \"{v}\""))
                })?;
                if n < 1 {
                    return Err(ApiError::invalid(
                        "step in query should be greater than or equal to 1",
                    ));
                }
                step = Some(n as u64);
            }
            "app_id" => app_id = Some(id("app_id", &v)?),
            "api_id" => api_id = Some(id("api_id", &v)?),
            "instance_id" => {
                if !v
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(ApiError::invalid(
                        "instance_id in query should match '^[A-Za-z0-9_-]*$'",
                    ));
                }
                instance_id = Some(v).filter(|v| !v.is_empty());
            }
            _ => {}
        }
    }
    let required = |name: &str| ApiError::invalid(format!("{name} in query is required"));
    let (start, end, step) = (
        start.ok_or_else(|| required("start"))?,
        end.ok_or_else(|| required("end"))?,
        step.ok_or_else(|| required("step"))?,
    );
    if end < start {
        return Err(ApiError::invalid("end in query should not be before start"));
    }
    let span = end.duration_since(start).as_secs().max(0) as u64;
    if span / step > MAX_POINTS {
        return Err(ApiError::invalid(format!(
            "exceeded maximum resolution of {MAX_POINTS} points per series: raise step"
        )));
    }
    Ok(Query {
        start,
        end,
        step,
        app_id,
        api_id,
        instance_id,
    })
}

/// One measured quantity of a set of flows over `secs` seconds.
fn value(metric: &str, flows: &[Flow], secs: f64, code: Option<u16>) -> Option<f64> {
    let rps: f64 = flows.iter().map(|f| f.rps).sum();
    let failed: f64 = flows.iter().map(|f| f.rps * f.failure_rate).sum();
    Some(match metric {
        "api-requests" => rps * secs,
        "api-failure-requests" => failed * secs,
        "api-qps" => rps,
        "api-bandwidth" => rps * secs * 1024.0,
        "api-connections" => flows.iter().map(|f| f.rps * f.latency_ms / 1000.0).sum(),
        "api-latency" if rps > 0.0 => flows.iter().map(|f| f.rps * f.latency_ms).sum::<f64>() / rps,
        "api-latency" => return None,
        "api-status-dist" => {
            let failing = |f: &Flow| f.rps * f.failure_rate;
            let n: f64 = match code {
                Some(200) => flows.iter().map(|f| f.rps - failing(f)).sum(),
                Some(c) => flows
                    .iter()
                    .filter(|f| f.failure_code == c)
                    .map(failing)
                    .sum(),
                None => rps,
            };
            n * secs
        }
        _ => return None,
    })
}

fn sample(t: Timestamp, v: f64) -> Value {
    json!([t.as_millisecond() as f64 / 1000.0, format!("{v}")])
}

/// The payload for `metric` over the applications `apps` (with their flows and creation times).
pub fn payload(
    metric: &str,
    q: &Query,
    apps: &[(Timestamp, Vec<Flow>)],
    labels: Value,
    now: Timestamp,
) -> Value {
    let codes: Vec<Option<u16>> = if metric == "api-status-dist" {
        vec![Some(200), Some(500), Some(502)]
    } else {
        vec![None]
    };
    let mut result = Vec::new();
    for code in codes {
        let mut values = Vec::new();
        let step = jiff::SignedDuration::from_secs(q.step as i64);
        let mut t = q.start;
        while let Ok(next) = t.checked_add(step) {
            if next > q.end || next > now {
                break;
            }
            let from = t;
            t = next;
            // Only the part of the step each application existed for counts.
            let mut total = 0.0;
            let mut weighted = 0.0;
            let mut any = false;
            for (created, flows) in apps {
                let begin = from.max(*created);
                if begin >= t {
                    continue;
                }
                let secs = t.duration_since(begin).as_secs_f64();
                if metric == "api-latency" {
                    if let Some(l) = value(metric, flows, secs, code) {
                        let rps: f64 = flows.iter().map(|f| f.rps).sum();
                        total += l * rps;
                        weighted += rps;
                        any = true;
                    }
                } else if let Some(v) = value(metric, flows, secs, code) {
                    total += v;
                    any = true;
                }
            }
            if !any {
                continue;
            }
            let v = if metric == "api-latency" {
                total / weighted
            } else {
                total
            };
            values.push(sample(t, v));
        }
        // A status code nobody got has no series (API7's own queries drop zeros).
        let all_zero = values.iter().all(|v| v[1] == "0");
        if values.is_empty() || (code.is_some() && all_zero) {
            continue;
        }
        let mut metric_labels = labels.clone();
        if let Some(c) = code {
            metric_labels["code"] = json!(c.to_string());
        }
        result.push(json!({"metric": metric_labels, "values": values}));
    }
    json!({"resultType": "matrix", "result": result})
}

/// `GET /api/v1/clusters/{cluster_id}/metrics/{metric_type}`.
pub async fn metrics(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cluster, metric)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let now = sb.now();
    let (answer, mode) = sb.read(|s| {
        let cluster = scope::cluster(s, &headers, &cluster)?;
        if !METRIC_TYPES.contains(&metric.as_str()) {
            return Err(ApiError::invalid(format!(
                "metric_type in path should be one of [{}]",
                METRIC_TYPES.join(" ")
            )));
        }
        let q = parse_query(raw.as_deref())?;
        let mut labels = json!({"cluster_id": cluster});
        let mut mode = MetricsMode::Ok;
        let mut apps = Vec::new();
        let selected = s
            .applications
            .values()
            .filter(|a| a.cluster_id == cluster)
            .filter(|a| q.app_id.is_none_or(|id| id == a.id));
        for app in selected {
            let mut flows: Vec<Flow> = flows(s, app).into_values().collect();
            if let Some(id) = q.app_id {
                labels["app_id"] = json!(id);
                mode = s
                    .traffic
                    .get(&app.spec.name)
                    .map(|t| t.metrics)
                    .unwrap_or_default();
            }
            if let Some(api) = q.api_id {
                labels["api_id"] = json!(api);
                let apis: Vec<Id> = s
                    .apis
                    .values()
                    .filter(|x| x.app_id == app.id)
                    .map(|x| x.id)
                    .collect();
                if !apis.contains(&api) {
                    continue;
                }
                let share = 1.0 / apis.len() as f64;
                for f in &mut flows {
                    f.rps *= share;
                }
            }
            apps.push((app.created_at, flows));
        }
        if q.instance_id.is_some() {
            apps.clear();
        }
        Ok((payload(&metric, &q, &apps, labels, now), mode))
    })?;
    match mode {
        MetricsMode::Ok => Ok(ok(answer)),
        MetricsMode::Empty => Ok(ok(json!({"resultType": "matrix", "result": []}))),
        MetricsMode::Error => Ok(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are temporarily unavailable",
        )),
        MetricsMode::Throttle => {
            let mut r = error_response(StatusCode::TOO_MANY_REQUESTS, "too many metrics queries");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(r)
        }
        MetricsMode::Slow => {
            tokio::time::sleep(SLOW).await;
            Ok(ok(answer))
        }
    }
}

/// The body of `PUT /_sandbox/traffic`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetTraffic {
    pub application: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(flatten)]
    pub profile: Profile,
    #[serde(default)]
    pub metrics: Option<MetricsMode>,
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// Applies one setting; Err with a message for a 400.
pub fn set(state: &mut Store, t: SetTraffic) -> Result<(), String> {
    let p = t.profile;
    if p.failure_rate.is_some_and(|r| !(0.0..=1.0).contains(&r)) {
        return Err("failureRate is between 0 and 1".into());
    }
    for (name, v) in [
        ("requestsPerSecond", p.requests_per_second),
        ("latencyMs", p.latency_ms),
    ] {
        if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
            return Err(format!("{name} is a number of at least 0"));
        }
    }
    if t.application.is_empty() {
        return Err("application names an application".into());
    }
    let entry = state.traffic.entry(t.application).or_default();
    match t.version {
        Some(v) => {
            if t.metrics.is_some() {
                return Err("metrics applies to an application, not a version".into());
            }
            let own = entry.versions.entry(v).or_default();
            own.requests_per_second = p.requests_per_second.or(own.requests_per_second);
            own.failure_rate = p.failure_rate.or(own.failure_rate);
            own.latency_ms = p.latency_ms.or(own.latency_ms);
        }
        None => {
            let own = &mut entry.application;
            own.requests_per_second = p.requests_per_second.or(own.requests_per_second);
            own.failure_rate = p.failure_rate.or(own.failure_rate);
            own.latency_ms = p.latency_ms.or(own.latency_ms);
            if let Some(m) = t.metrics {
                entry.metrics = m;
            }
        }
    }
    Ok(())
}

pub async fn get_traffic(State(sb): State<Sandbox<Api7>>) -> Response {
    sb.read(|s| Json(&s.traffic).into_response())
}

pub async fn put_traffic(State(sb): State<Sandbox<Api7>>, body: axum::body::Bytes) -> Response {
    let t: SetTraffic = match serde_json::from_slice(&body) {
        Ok(t) => t,
        Err(e) => return bad(&e.to_string()),
    };
    match sb.write(|s| set(s, t)) {
        Ok(()) => sb.read(|s| Json(&s.traffic).into_response()),
        Err(e) => bad(&e),
    }
}

pub async fn clear_traffic(State(sb): State<Sandbox<Api7>>) -> StatusCode {
    sb.write(|s| s.traffic.clear());
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api7::model::{AppSpec, CanaryRelease, CanarySpec};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn store(canary_percent: Option<i64>, v2_host: &str) -> (Store, Id) {
        let mut s = Store::default();
        let app = Id(11);
        s.applications.insert(
            app,
            Application {
                id: app,
                cluster_id: Id(2001),
                spec: AppSpec {
                    name: "shop".into(),
                    description: String::new(),
                    labels: vec![],
                    protocols: vec![],
                    path_prefix: "/".into(),
                    hosts: vec![],
                    plugins: Default::default(),
                    upstreams: vec![
                        json!({"version": "v1", "upstream": {"targets": [{"host": "v1.internal", "port": 80}]}}),
                        json!({"version": "v2", "upstream": {"targets": [{"host": v2_host, "port": 80}]}}),
                    ],
                    default_upstream_version: "v1".into(),
                    active: 0,
                },
                created_at: at(0),
                updated_at: at(0),
                never_ready: false,
            },
        );
        if let Some(p) = canary_percent {
            s.canary_releases.insert(
                Id(77),
                CanaryRelease {
                    id: Id(77),
                    app_id: app,
                    spec: CanarySpec {
                        name: "to-v2".into(),
                        state: canary_state::IN_PROGRESS.into(),
                        kind: "percent".into(),
                        canary_upstream_version: "v2".into(),
                        percent: Some(p),
                        expressions: None,
                    },
                    created_at: at(0),
                    updated_at: at(0),
                    never_ready: false,
                },
            );
        }
        (s, app)
    }

    fn traffic(s: &mut Store, body: Value) {
        set(s, serde_json::from_value(body).unwrap()).unwrap();
    }

    #[test]
    fn a_canary_takes_its_percent_and_unreachable_targets_fail() {
        let (s, app) = store(Some(20), "v2.invalid");
        let f = flows(&s, &s.applications[&app]);
        assert_eq!(f["v1"].rps, 8.0);
        assert_eq!(f["v2"].rps, 2.0);
        assert_eq!((f["v1"].failure_rate, f["v2"].failure_rate), (0.0, 1.0));
        assert_eq!(f["v2"].failure_code, 502);
        let (s, app) = store(None, "v2.internal");
        let f = flows(&s, &s.applications[&app]);
        assert_eq!((f["v1"].rps, f["v2"].rps), (10.0, 0.0));
    }

    #[test]
    fn settings_per_application_and_version() {
        let (mut s, app) = store(Some(50), "v2.internal");
        traffic(
            &mut s,
            json!({"application": "shop", "requestsPerSecond": 4}),
        );
        traffic(
            &mut s,
            json!({"application": "shop", "version": "v2", "failureRate": 0.5, "latencyMs": 300}),
        );
        let f = flows(&s, &s.applications[&app]);
        assert_eq!((f["v1"].rps, f["v2"].rps), (2.0, 2.0));
        assert_eq!((f["v2"].failure_rate, f["v2"].latency_ms), (0.5, 300.0));
        assert_eq!(f["v1"].latency_ms, DEFAULT_LATENCY_MS);
        traffic(
            &mut s,
            json!({"application": "shop", "version": "v2", "requestsPerSecond": 0}),
        );
        assert_eq!(
            flows(&s, &s.applications[&app])["v2"].rps,
            0.0,
            "an idle version"
        );
        assert!(
            set(
                &mut s,
                serde_json::from_value(json!({"application": "shop", "failureRate": 2})).unwrap()
            )
            .is_err()
        );
    }

    #[test]
    fn the_metrics_mix_the_versions_by_their_share() {
        let (mut s, app) = store(Some(50), "v2.internal");
        traffic(
            &mut s,
            json!({"application": "shop", "version": "v2", "failureRate": 0.2, "latencyMs": 100}),
        );
        let flows: Vec<Flow> = flows(&s, &s.applications[&app]).into_values().collect();
        let q = parse_query(Some(&format!("start={}&end={}&step=10", at(100), at(130)))).unwrap();
        let apps = vec![(at(0), flows)];
        let p = payload("api-requests", &q, &apps, json!({}), at(1000));
        assert_eq!(
            converge_platforms::prometheus::samples(&p).unwrap(),
            vec![100.0, 100.0, 100.0]
        );
        let p = payload("api-failure-requests", &q, &apps, json!({}), at(1000));
        assert_eq!(
            converge_platforms::prometheus::samples(&p).unwrap()[0],
            10.0
        );
        let p = payload("api-latency", &q, &apps, json!({}), at(1000));
        assert_eq!(
            converge_platforms::prometheus::samples(&p).unwrap()[0],
            60.0
        );
        // Nothing after now, and nothing before the application existed.
        let p = payload("api-requests", &q, &apps, json!({}), at(115));
        assert_eq!(
            converge_platforms::prometheus::samples(&p).unwrap(),
            vec![100.0]
        );
        let young = vec![(at(125), apps[0].1.clone())];
        let p = payload("api-requests", &q, &young, json!({}), at(1000));
        assert_eq!(
            converge_platforms::prometheus::samples(&p).unwrap(),
            vec![50.0]
        );
        let p = payload("api-status-dist", &q, &apps, json!({}), at(1000));
        assert_eq!(p["result"].as_array().unwrap().len(), 2, "200 and 500: {p}");
    }

    #[test]
    fn the_documented_parameters_are_checked() {
        for (query, message) in [
            (
                "end=2026-01-01T00:00:00Z&step=15",
                "start in query is required",
            ),
            (
                "start=yesterday&end=2026-01-01T00:00:00Z&step=15",
                "start in query must be of type date-time",
            ),
            (
                "start=2026-01-01T00:00:00Z&end=2026-01-01T00:00:00Z&step=0",
                "step in query should be greater than or equal to 1",
            ),
            (
                "start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z&step=5",
                "end in query should not be before start",
            ),
            (
                "start=2026-01-01T00:00:00Z&end=2026-01-01T00:10:00Z&step=5&app_id=01",
                "app_id in query should match",
            ),
            (
                "start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z&step=1",
                "exceeded maximum resolution",
            ),
        ] {
            let e = parse_query(Some(query)).unwrap_err();
            assert!(e.error.contains(message), "{query}: {}", e.error);
        }
        let q = parse_query(Some("start=2026-01-01T00:00:00Z&end=2026-01-01T00:01:00Z&step=15&app_id=11&instance_id=gw-1")).unwrap();
        assert_eq!(
            (q.step, q.app_id, q.instance_id.as_deref()),
            (15, Some(Id(11)), Some("gw-1"))
        );
    }
}
