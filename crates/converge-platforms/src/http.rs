//! The one HTTP path every platform call takes: wait for the connection's request budget,
//! authenticate, send with a timeout, classify the answer, retry what is safe to retry with
//! exponential backoff and jitter (honouring Retry-After), and record metrics.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;

use super::budget::{Budget, Priority, Window};
use super::shared_reads::SharedReads;
use super::{Auth, ClientError, ClientMetrics};

/// Turns an error response body into the platform's own message (None: not in its envelope).
pub type ErrorMessage = fn(status: u16, body: &[u8]) -> Option<String>;

/// How one platform connection talks HTTP.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// choreo, cycloid, frends, api7 or opschain: the metric label and error prefix.
    pub platform: &'static str,
    /// The PlatformConnection, as namespace/name: the budget wait metric's label.
    pub connection: String,
    /// The endpoint; request paths are appended to it.
    pub base_url: String,
    /// Timeout of one attempt.
    pub timeout: Duration,
    /// The connection's token bucket: sustained rate and burst.
    pub requests_per_second: u32,
    pub burst: u32,
    /// Retries after the first attempt, for calls that are safe to repeat.
    pub max_retries: usize,
    /// First backoff delay; doubles per retry, with jitter.
    pub min_retry_delay: Duration,
    /// Longest wait between two attempts, Retry-After included. A longer Retry-After ends the
    /// retries and is handed to the caller (the reconciler requeues after it).
    pub max_retry_delay: Duration,
    /// PEM CA certificates to trust besides the system roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Send only GET and HEAD; anything else fails before it leaves (`converge plan`'s
    /// guarantee that a preview writes nothing, whatever a reconciler does).
    pub read_only: bool,
    pub error_message: ErrorMessage,
}

impl HttpConfig {
    /// Defaults for a platform: 30 s timeout, 10 requests/s with a burst of 20, 4 retries
    /// from 200 ms up to 10 s.
    pub fn new(
        platform: &'static str,
        base_url: impl Into<String>,
        error_message: ErrorMessage,
    ) -> Self {
        HttpConfig {
            platform,
            connection: String::new(),
            base_url: base_url.into(),
            timeout: Duration::from_secs(30),
            requests_per_second: 10,
            burst: 20,
            max_retries: 4,
            min_retry_delay: Duration::from_millis(200),
            max_retry_delay: Duration::from_secs(10),
            ca_bundle_pem: None,
            read_only: false,
            error_message,
        }
    }
}

/// Whether a call may be sent again after a failure whose effect is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Sending it twice has the same effect as once (reads, PUT, DELETE, pause...).
    Safe,
    /// It could create twice: never resent blindly; the caller looks up and decides.
    Never,
}

#[derive(Clone, Debug)]
enum Body {
    Empty,
    Bytes {
        content_type: HeaderValue,
        bytes: Vec<u8>,
    },
    Multipart {
        field: &'static str,
        file_name: String,
        mime: &'static str,
        bytes: Vec<u8>,
    },
}

/// One request, described before it is sent (so it can be sent again).
#[derive(Clone, Debug)]
pub struct Call {
    operation: &'static str,
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Body,
    repeat: Repeat,
}

impl Call {
    /// `operation` names the call in metrics and errors (e.g. "createProject"); `path` is
    /// appended to the endpoint. GET, PUT and DELETE are safe to repeat; POST and PATCH are not
    /// unless marked with [`Call::safe_to_repeat`].
    pub fn new(method: Method, operation: &'static str, path: impl Into<String>) -> Self {
        let repeat = if matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        ) {
            Repeat::Safe
        } else {
            Repeat::Never
        };
        Call {
            operation,
            method,
            path: path.into(),
            query: vec![],
            headers: vec![],
            body: Body::Empty,
            repeat,
        }
    }

    pub fn get(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::GET, operation, path)
    }
    pub fn post(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::POST, operation, path)
    }
    pub fn put(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::PUT, operation, path)
    }
    pub fn patch(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::PATCH, operation, path)
    }
    pub fn delete(operation: &'static str, path: impl Into<String>) -> Self {
        Self::new(Method::DELETE, operation, path)
    }

    pub fn query(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.query.push((key.into(), value.to_string()));
        self
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A JSON body with `application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(self, body: &T) -> Self {
        self.json_as(body, "application/json")
    }

    /// A JSON body with another media type (OpsChain's JSON:API, Cycloid's vendor type).
    pub fn json_as<T: serde::Serialize + ?Sized>(
        mut self,
        body: &T,
        content_type: &'static str,
    ) -> Self {
        let bytes =
            serde_json::to_vec(body).expect("request bodies are plain data and always serialize");
        self.body = Body::Bytes {
            content_type: HeaderValue::from_static(content_type),
            bytes,
        };
        self
    }

    /// A multipart/form-data body with one file field (Frends import).
    pub fn multipart(
        mut self,
        field: &'static str,
        file_name: impl Into<String>,
        mime: &'static str,
        bytes: Vec<u8>,
    ) -> Self {
        self.body = Body::Multipart {
            field,
            file_name: file_name.into(),
            mime,
            bytes,
        };
        self
    }

    /// Marks a POST or PATCH whose repetition is harmless (an action on an existing object
    /// that ends in the same state, e.g. pause or approve-if-waiting).
    pub fn safe_to_repeat(mut self) -> Self {
        self.repeat = Repeat::Safe;
        self
    }

    /// Marks a call that must never be resent.
    pub fn never_repeat(mut self) -> Self {
        self.repeat = Repeat::Never;
        self
    }

    pub fn operation(&self) -> &'static str {
        self.operation
    }
}

/// A successful (2xx) answer.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

/// A platform client's HTTP layer. Clones share the budget, credentials and connection pool.
#[derive(Clone)]
pub struct Http {
    inner: Arc<Inner>,
    /// Set on the client a drift check gets: how old a shared list it may take.
    share: Option<Duration>,
}

struct Inner {
    config: HttpConfig,
    client: reqwest::Client,
    auth: RwLock<Auth>,
    budget: Budget,
    metrics: ClientMetrics,
    shared: SharedReads,
}

impl Http {
    pub fn new(
        config: HttpConfig,
        auth: Auth,
        metrics: ClientMetrics,
    ) -> Result<Http, ClientError> {
        let platform = config.platform;
        let config_error = |message: String| ClientError::Config { platform, message };
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("converge/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &config.ca_bundle_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| config_error(format!("CA bundle: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| config_error(e.to_string()))?;
        reqwest::Url::parse(&config.base_url)
            .map_err(|e| config_error(format!("endpoint {:?}: {e}", config.base_url)))?;
        let budget = Budget::new(config.requests_per_second, config.burst);
        Ok(Http {
            inner: Arc::new(Inner {
                config,
                client,
                auth: RwLock::new(auth),
                budget,
                metrics,
                shared: SharedReads::default(),
            }),
            share: None,
        })
    }

    /// This connection for a drift check: collection reads through [`Http::shared`] may take
    /// a list another drift check read less than `window` ago (see `shared_reads`), and its
    /// calls take the budget only while no other call waits for it (see `budget`).
    pub fn sharing(&self, window: Duration) -> Http {
        Http {
            inner: self.inner.clone(),
            share: Some(window),
        }
    }

    /// Whether this is a drift check's client, which may answer from shared lists.
    pub fn shares(&self) -> bool {
        self.share.is_some()
    }

    /// A collection read a drift check may share: `read` runs unless a list under `key` read
    /// within this client's window, with no write since, is at hand. Without a window it
    /// always runs.
    pub async fn shared<T, F>(&self, key: &str, read: F) -> Result<Arc<T>, ClientError>
    where
        T: Send + Sync + 'static,
        F: std::future::Future<Output = Result<T, ClientError>>,
    {
        match self.share {
            Some(window) => self.inner.shared.get(key, window, read).await,
            None => Ok(Arc::new(read.await?)),
        }
    }

    pub fn platform(&self) -> &'static str {
        self.inner.config.platform
    }

    /// How calls fared against the budget since the last window, once `min_calls` were made.
    pub fn budget_window(&self, min_calls: u64) -> Option<Window> {
        self.inner.budget.take_window(min_calls)
    }

    /// The budget's sustained rate, requests per second.
    pub fn budget_rate(&self) -> u32 {
        self.inner.config.requests_per_second
    }

    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url
    }

    /// New credentials (a rotated Secret) for every following request.
    pub fn set_auth(&self, auth: Auth) {
        *self.inner.auth.write().unwrap_or_else(|e| e.into_inner()) = auth;
    }

    fn auth(&self) -> Auth {
        self.inner
            .auth
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends a call, retrying it when that is safe, and returns a 2xx answer or the error.
    pub async fn send(&self, call: Call) -> Result<Response, ClientError> {
        let config = &self.inner.config;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(config.min_retry_delay)
            .with_max_delay(config.max_retry_delay)
            .with_max_times(config.max_retries)
            .with_jitter();
        let max_delay = config.max_retry_delay;
        let repeat = call.repeat;
        let writes = !matches!(call.method, Method::GET | Method::HEAD);
        let result = (|| self.attempt(&call))
            .retry(backoff)
            .when(|e: &ClientError| repeat == Repeat::Safe && e.is_retryable())
            .adjust(move |e: &ClientError, delay| match (e.retry_after(), delay) {
                // Retry-After is a floor for the next delay; beyond our ceiling, stop here and
                // let the caller requeue after it.
                (Some(after), Some(_)) if after > max_delay => None,
                (Some(after), Some(d)) => Some(d.max(after)),
                (_, d) => d,
            })
            .notify(|e: &ClientError, delay| {
                tracing::debug!(platform = self.platform(), operation = call.operation, error = %e, ?delay, "retrying");
            })
            .await;
        if writes {
            // Even a failed write may have landed.
            self.inner.shared.wrote();
        }
        result
    }

    /// Sends a call and decodes the JSON answer; a body that does not decode is retried like a
    /// transport error when the call is safe to repeat.
    pub async fn json<T: DeserializeOwned>(&self, call: Call) -> Result<T, ClientError> {
        let platform = self.platform();
        let operation = call.operation;
        let parse = |r: Response| decode::<T>(platform, operation, &r.body);
        match self.send(call.clone()).await.and_then(parse) {
            Err(ClientError::Decode { .. }) if call.repeat == Repeat::Safe => {
                self.send(call).await.and_then(parse)
            }
            other => other,
        }
    }

    async fn attempt(&self, call: &Call) -> Result<Response, ClientError> {
        let config = &self.inner.config;
        let (platform, operation) = (config.platform, call.operation);
        if config.read_only && !matches!(call.method, Method::GET | Method::HEAD) {
            return Err(ClientError::Config {
                platform,
                message: format!(
                    "{operation}: refused to send {} in read-only mode",
                    call.method
                ),
            });
        }
        let priority = if self.share.is_some() {
            Priority::Background
        } else {
            Priority::Urgent
        };
        let waited = self.inner.budget.acquire(priority).await;
        self.inner
            .metrics
            .budget_waited(platform, &config.connection, priority, waited);
        let auth = self.auth();
        let url = format!("{}{}", config.base_url.trim_end_matches('/'), call.path);
        let mut request = self.inner.client.request(call.method.clone(), &url);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        for (name, value) in &call.headers {
            request = request.header(name, value);
        }
        request = match &call.body {
            Body::Empty => request,
            Body::Bytes {
                content_type,
                bytes,
            } => request
                .header(reqwest::header::CONTENT_TYPE, content_type.clone())
                .body(bytes.clone()),
            Body::Multipart {
                field,
                file_name,
                mime,
                bytes,
            } => {
                let part = reqwest::multipart::Part::bytes(bytes.clone())
                    .file_name(file_name.clone())
                    .mime_str(mime)
                    .map_err(|e| ClientError::Config {
                        platform,
                        message: e.to_string(),
                    })?;
                request.multipart(reqwest::multipart::Form::new().part(*field, part))
            }
        };
        let request = auth.apply(request);

        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Err(e) => {
                let error = ClientError::Transport {
                    platform,
                    operation,
                    // reqwest's message can include the URL, never the Authorization header;
                    // redact anyway in case an endpoint embeds a credential.
                    message: auth.redact(&transport_message(&e)),
                    timeout: e.is_timeout(),
                };
                self.inner.metrics.observe(
                    platform,
                    operation,
                    error.metric_label().to_string(),
                    seconds,
                );
                Err(error)
            }
            Ok((status, headers, body)) => {
                self.inner
                    .metrics
                    .observe(platform, operation, status.to_string(), seconds);
                if (200..300).contains(&status) {
                    return Ok(Response {
                        status,
                        headers,
                        body,
                    });
                }
                let message = (config.error_message)(status, &body).unwrap_or_else(|| {
                    format!("{} (no error message in the response)", reason(status))
                });
                Err(ClientError::Status {
                    platform,
                    operation,
                    status,
                    message: auth.redact(&message),
                    retry_after: retry_after(&headers),
                })
            }
        }
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    platform: &'static str,
    operation: &'static str,
    body: &[u8],
) -> Result<T, ClientError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| ClientError::Decode {
        platform,
        operation,
        message: match e.path().to_string().as_str() {
            "." => e.into_inner().to_string(),
            path => format!("{path}: {}", e.into_inner()),
        },
    })
}

/// The innermost cause is the informative part ("connection refused", "operation timed out").
fn transport_message(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message = format!("{message}: {s}");
        source = s.source();
    }
    // rustls's words ("invalid peer certificate: UnknownIssuer") do not say what to do about it.
    if message.contains("certificate") {
        message.push_str(
            "; TLS certificate verification failed: if the platform's certificate is issued by \
             a private CA, name that CA in the PlatformConnection's tls.caBundle",
        );
    }
    message
}

fn reason(status: u16) -> String {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map(|r| format!("HTTP {status} {r}"))
        .unwrap_or_else(|| format!("HTTP {status}"))
}

/// Retry-After as seconds (HTTP dates are not used by these platforms).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_value(headers.get(reqwest::header::RETRY_AFTER)?.as_bytes())
}

pub(crate) fn retry_after_value(value: &[u8]) -> Option<Duration> {
    let value = std::str::from_utf8(value).ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}
