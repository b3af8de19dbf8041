//! What every sandbox does around the platform's own handlers: authentication, a rate limit per
//! credential, injected faults, and the call log with counts per route.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};

use super::{Platform, Sandbox, capture};

/// A credential as presented in the Authorization header.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Credential {
    Bearer { token: String },
    Basic { username: String, password: String },
}

impl std::fmt::Debug for Credential {
    // Never print a secret, not even in a test failure.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.identity())
    }
}

impl Credential {
    pub fn bearer(token: impl Into<String>) -> Self {
        Credential::Bearer {
            token: token.into(),
        }
    }

    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credential::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Parses `Authorization: Bearer <token>` or `Authorization: Basic <base64>`.
    pub fn from_headers(headers: &HeaderMap) -> Option<Credential> {
        let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
        let (scheme, rest) = value.split_once(' ')?;
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            return Some(Credential::bearer(rest));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let (u, p) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
            return Some(Credential::basic(u, p));
        }
        None
    }

    /// Who is calling, without the secret: the rate-limit key and what the call log shows.
    pub fn identity(&self) -> String {
        match self {
            Credential::Bearer { token } => {
                // A stable, non-reversible tag so two tokens get two buckets.
                let h = token.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                    (h ^ b as u64).wrapping_mul(0x100000001b3)
                });
                format!("bearer:{:08x}", h as u32)
            }
            Credential::Basic { username, .. } => format!("basic:{username}"),
        }
    }
}

/// Faults injected into a platform's responses. Changed at run time through the admin surface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Faults {
    /// Share of requests (0..1) answered with a 5xx in the platform's envelope, before the
    /// handler runs (nothing changes).
    pub error_rate: f64,
    /// The status of those errors (default 503).
    pub error_status: Option<u16>,
    /// The next N requests are answered with the injected error whatever errorRate says
    /// (counts down), for deterministic "fails, then succeeds" tests.
    pub fail_next: u32,
    /// Share of requests answered 429 with Retry-After, before the handler runs.
    pub throttle_rate: f64,
    /// Retry-After of those 429s, in seconds (default 1).
    pub retry_after_seconds: Option<u64>,
    /// Added latency in milliseconds, for every request.
    pub latency_ms: u64,
    /// Share of requests whose connection is cut after the handler ran: the change happens but
    /// the caller never sees the response.
    pub reset_rate: f64,
    /// Share of requests whose response body is cut short (invalid JSON) after the handler ran.
    pub malformed_rate: f64,
}

/// A token bucket per credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// One request as the call log keeps it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    /// When the request arrived (before any injected latency).
    pub at: jiff::Timestamp,
    pub method: String,
    pub path: String,
    /// The route template, e.g. `/api/v1/organizations/{orgId}/projects`.
    pub route: String,
    pub status: u16,
    /// Who called, without the secret.
    pub caller: Option<String>,
    /// The fault injected, if any: error, throttle, reset, malformed.
    pub fault: Option<String>,
}

/// Options every sandbox starts with.
#[derive(Clone, Debug, Default)]
pub struct OpsConfig {
    pub accepted: Vec<Credential>,
    pub rate_limit: Option<RateLimit>,
    pub faults: Faults,
}

/// The shared operability state of one platform sandbox.
pub struct Ops {
    accepted: RwLock<Vec<Credential>>,
    faults: RwLock<Faults>,
    limit: RwLock<Option<(RateLimit, DefaultKeyedRateLimiter<String>)>>,
    calls: Mutex<Vec<Call>>,
    counts: Mutex<BTreeMap<String, u64>>,
    /// The calls of `counts` answered 429 (a rate limit or an injected throttle), so a caller
    /// can tell the calls it needed from its retries.
    throttled: Mutex<BTreeMap<String, u64>>,
    failures: Patterns,
    holds: Patterns,
}

/// How many calls the log keeps (the counts keep everything).
const CALL_LOG_CAPACITY: usize = 10_000;

impl Ops {
    pub fn new(config: OpsConfig) -> Self {
        let ops = Ops {
            accepted: RwLock::new(config.accepted),
            faults: RwLock::new(config.faults),
            limit: RwLock::new(None),
            calls: Mutex::new(Vec::new()),
            counts: Mutex::new(BTreeMap::new()),
            throttled: Mutex::new(BTreeMap::new()),
            failures: Patterns::default(),
            holds: Patterns::default(),
        };
        ops.set_rate_limit(config.rate_limit);
        ops
    }

    pub fn accepted(&self) -> Vec<Credential> {
        self.accepted.read().unwrap().clone()
    }

    pub fn set_accepted(&self, accepted: Vec<Credential>) {
        *self.accepted.write().unwrap() = accepted;
    }

    pub fn faults(&self) -> Faults {
        self.faults.read().unwrap().clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.faults.write().unwrap() = faults;
    }

    /// Consumes one of the `failNext` requests, if any are left.
    fn take_fail_next(&self) -> bool {
        let mut faults = self.faults.write().unwrap();
        if faults.fail_next > 0 {
            faults.fail_next -= 1;
            true
        } else {
            false
        }
    }

    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.limit.read().unwrap().as_ref().map(|(l, _)| *l)
    }

    /// Sets or removes the limit; buckets start full.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        let limiter = limit.and_then(|l| {
            let rate = NonZeroU32::new(l.per_second)?;
            let burst = NonZeroU32::new(l.burst.max(1))?;
            Some((
                l,
                RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            ))
        });
        *self.limit.write().unwrap() = limiter;
    }

    /// Err(seconds to wait) when the caller's bucket is empty.
    fn take_token(&self, key: &str) -> Result<(), u64> {
        let guard = self.limit.read().unwrap();
        let Some((_, limiter)) = guard.as_ref() else {
            return Ok(());
        };
        limiter.check_key(&key.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().unwrap().clone()
    }

    pub fn throttled(&self) -> BTreeMap<String, u64> {
        self.throttled.lock().unwrap().clone()
    }

    pub fn clear_calls(&self) {
        self.calls.lock().unwrap().clear();
        self.counts.lock().unwrap().clear();
        self.throttled.lock().unwrap().clear();
    }

    fn record(&self, call: Call) {
        let key = format!("{} {}", call.method, call.route);
        if call.status == StatusCode::TOO_MANY_REQUESTS.as_u16() {
            *self
                .throttled
                .lock()
                .unwrap()
                .entry(key.clone())
                .or_default() += 1;
        }
        *self.counts.lock().unwrap().entry(key).or_default() += 1;
        let mut calls = self.calls.lock().unwrap();
        if calls.len() == CALL_LOG_CAPACITY {
            calls.remove(0);
        }
        calls.push(call);
    }

    pub fn failures(&self) -> Vec<String> {
        self.failures.list()
    }

    pub fn add_failure(&self, pattern: String) {
        self.failures.add(pattern);
    }

    pub fn clear_failures(&self) {
        self.failures.clear(None);
    }

    /// Whether `text` contains a pattern marked to fail.
    pub fn should_fail(&self, text: &str) -> bool {
        self.failures.matches(text)
    }

    pub fn holds(&self) -> Vec<String> {
        self.holds.list()
    }

    pub fn add_hold(&self, pattern: String) {
        self.holds.add(pattern);
    }

    /// Releases one hold, or every hold.
    pub fn release_holds(&self, pattern: Option<&str>) {
        self.holds.clear(pattern);
    }

    /// Whether `text` contains a pattern marked to hold: what it names stays under way (a
    /// Choreo build in progress) until the hold is cleared, whatever the step delay.
    pub fn should_hold(&self, text: &str) -> bool {
        self.holds.matches(text)
    }
}

/// Admin text patterns (failures, holds): what contains one of them is marked.
#[derive(Default)]
struct Patterns(RwLock<Vec<String>>);

impl Patterns {
    fn list(&self) -> Vec<String> {
        self.0.read().unwrap().clone()
    }

    fn add(&self, pattern: String) {
        self.0.write().unwrap().push(pattern);
    }

    /// Removes `pattern`, or all of them.
    fn clear(&self, pattern: Option<&str>) {
        let mut all = self.0.write().unwrap();
        match pattern {
            Some(p) => all.retain(|x| x != p),
            None => all.clear(),
        }
    }

    fn matches(&self, text: &str) -> bool {
        self.0
            .read()
            .unwrap()
            .iter()
            .any(|p| !p.is_empty() && text.contains(p.as_str()))
    }
}

fn chance(rate: f64) -> bool {
    rate > 0.0 && rand::random::<f64>() < rate
}

/// The middleware around every platform route.
pub async fn layer<P: Platform>(
    State(sandbox): State<Sandbox<P>>,
    request: Request,
    next: Next,
) -> Response {
    let ops = sandbox.ops();
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let matched = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let routed = matched.is_some();
    let route = matched.unwrap_or_else(|| path.clone());
    let credential = Credential::from_headers(request.headers()).or_else(|| {
        let name = P::API_KEY_QUERY?;
        let query = request.uri().query()?;
        form_urlencoded_value(query, name).map(Credential::bearer)
    });
    let caller = credential.as_ref().map(Credential::identity);
    let (request, recording) = record_request::<P>(request).await;
    let faults = ops.faults();
    let mut fault = None;

    // The front door decides at arrival, as a platform's gateway does: the call log's time and
    // the rate limit see when a request came, not when its (delayed) answer left.
    let arrived = jiff::Timestamp::now();
    let denied = P::authenticate(credential.as_ref(), &ops.accepted()).err();
    let limited = match denied {
        None => ops
            .take_token(caller.as_deref().unwrap_or("anonymous"))
            .err(),
        Some(_) => None,
    };
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
    }
    let response = if let Some(denied) = denied {
        *denied
    } else if let Some(wait) = limited {
        too_many::<P>(wait, "rate limit exceeded for this credential")
    } else if chance(faults.throttle_rate) {
        fault = Some("throttle");
        too_many::<P>(
            faults.retry_after_seconds.unwrap_or(1),
            "too many requests (injected)",
        )
    } else if ops.take_fail_next() || chance(faults.error_rate) {
        fault = Some("error");
        let status = faults
            .error_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        P::error(status, "service unavailable (injected)")
    } else {
        let response = next.run(request).await;
        if chance(faults.reset_rate) {
            fault = Some("reset");
            reset(response)
        } else if chance(faults.malformed_rate) {
            fault = Some("malformed");
            malformed(response)
        } else {
            response
        }
    };
    let status = response.status().as_u16();
    let response = match recording {
        Some(r) => r.finish::<P>(&method, &path, routed, response, fault).await,
        None => response,
    };
    ops.record(Call {
        at: arrived,
        method,
        path,
        route,
        status,
        caller,
        fault: fault.map(String::from),
    });
    response
}

/// The request part of an exchange being recorded (see [`capture`]).
struct Recording {
    query: Option<String>,
    headers: Vec<(String, String)>,
    body: axum::body::Bytes,
}

impl Recording {
    /// Records the exchange and passes the response on unchanged. An injected fault's body is
    /// not read: a reset must stay a reset.
    async fn finish<P: Platform>(
        self,
        method: &str,
        path: &str,
        routed: bool,
        response: Response,
        fault: Option<&str>,
    ) -> Response {
        let status = response.status().as_u16();
        let (response, body) = if fault.is_some() {
            (response, axum::body::Bytes::new())
        } else {
            let (parts, body) = response.into_parts();
            let bytes = capture::buffer(body).await;
            (
                Response::from_parts(parts, Body::from(bytes.clone())),
                bytes,
            )
        };
        capture::record(
            P::NAME,
            method,
            path,
            self.query,
            routed,
            self.headers,
            &self.body,
            status,
            capture::response_headers(response.headers()),
            &body,
            fault,
        );
        response
    }
}

/// When traffic is recorded, reads the request body so that it can be recorded and passes on
/// an equal request.
async fn record_request<P: Platform>(request: Request) -> (Request, Option<Recording>) {
    if !capture::enabled() {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    let bytes = capture::buffer(body).await;
    let recording = Recording {
        query: capture::query(parts.uri.query(), P::API_KEY_QUERY),
        headers: capture::request_headers(&parts.headers),
        body: bytes.clone(),
    };
    (
        Request::from_parts(parts, Body::from(bytes)),
        Some(recording),
    )
}

/// The value of `name` in a query string (`a=1&api_key=...`), percent-decoded.
fn form_urlencoded_value(query: &str, name: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

fn too_many<P: Platform>(retry_after: u64, message: &str) -> Response {
    let mut r = P::error(StatusCode::TOO_MANY_REQUESTS, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    r
}

/// Keeps the status line and headers but fails the body mid-stream, so the server drops the
/// connection: the caller sees a reset or an incomplete message.
fn reset(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let stream = futures::stream::iter([
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"{")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset (injected)",
        )),
    ]);
    Response::from_parts(parts, Body::from_stream(stream))
}

/// A 200-looking JSON body that does not parse.
fn malformed(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    if !parts.headers.contains_key(header::CONTENT_TYPE) {
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    Response::from_parts(parts, Body::from("{\"data\": [{\"id\": "))
}
