//! The API7 Cloud client: one organization and one gateway cluster of it, over the shared
//! HTTP layer.
//!
//! Everything is under `/api/v1` with a bearer token. Answers come in the envelope of
//! [`envelope`] (HTTP 200 with the `payload`, creates included; errors carry `error` and
//! `status.message`). Ids are 64-bit integers sent as decimal strings and are kept as
//! `String`: the platform's ids exceed 2^53, so reading them as JSON numbers corrupts them.
//! Calls under `/clusters/{cluster_id}/...` and `/apps/{app_id}/...` send
//! `X-API7-Cloud-Gateway-Cluster-ID`; the `/apps/...` paths do not name the cluster, the header
//! does, and the platform refuses them without it.
//!
//! Creates are never retried (POST): a reconciler looks its object up by natural key
//! (`find_*_by_name`) before creating, and again after an error whose effect is unknown.

mod account;
mod apis;
mod applications;
mod canary;
mod certificates;
mod consumers;
mod enums;
mod envelope;
mod metrics;

use reqwest::header::{HeaderName, HeaderValue};
use serde::de::DeserializeOwned;

use super::{Auth, Call, ClientError, ClientMetrics, Http, HttpConfig};
use envelope::{Envelope, Page};

pub use account::{Cluster, Organization, User};
pub use apis::{Api, ApiPath, ApiSpec, FineGrainedRouteControl, RouteExpression};
pub use applications::{
    Application, ApplicationPatch, ApplicationSpec, Upstream, UpstreamAndVersion, UpstreamTarget,
    UpstreamTimeout,
};
pub use canary::{CanaryRelease, CanaryReleaseSpec};
pub use certificates::{Certificate, CertificateMetadata, CertificateSpec};
pub use consumers::{Consumer, ConsumerSpec};
pub use enums::{
    Active, ApiType, CanaryState, CanaryType, CertificateType, ClusterStatus, EntityStatus, LbType,
    LogicalRelationship, PathType, Protocol, UpstreamScheme,
};
pub use envelope::error_message;
pub use metrics::{DEFAULT_METRICS_PATH, MetricType, MetricsQuery};

const API_PREFIX: &str = "/api/v1";

/// Items asked for per page when walking a list: few round trips, small answers.
const DEFAULT_PAGE_SIZE: u32 = 100;

/// Where a connection works: an organization and one of its gateway clusters, both ids as
/// decimal strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Api7Scope {
    pub organization_id: String,
    pub cluster_id: String,
}

/// Narrows a list: `search` matches names (case-insensitively, in part; certificates: SNIs and
/// subject) and `labels` keeps items carrying every label given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub search: Option<String>,
    pub labels: Vec<String>,
}

impl ListFilter {
    /// Items whose name contains `text`.
    pub fn search(text: impl Into<String>) -> Self {
        ListFilter {
            search: Some(text.into()),
            labels: vec![],
        }
    }

    /// Items carrying `label`.
    pub fn label(label: impl Into<String>) -> Self {
        ListFilter {
            search: None,
            labels: vec![label.into()],
        }
    }
}

/// A typed client of API7 Cloud for one organization and cluster. Clones share the HTTP layer
/// (budget, credentials, connections).
#[derive(Clone)]
pub struct Api7Client {
    http: Http,
    scope: Api7Scope,
    cluster_header: HeaderValue,
    page_size: u32,
    /// Where "Get Cluster Metrics" lives (see `metrics`).
    metrics_path: String,
}

impl Api7Client {
    /// This client for a drift check, which may share collection reads ([`Http::sharing`]).
    pub fn sharing(&self, window: std::time::Duration) -> Self {
        Api7Client {
            http: self.http.sharing(window),
            ..self.clone()
        }
    }

    /// Defaults for an endpoint such as `https://api.api7.cloud` (a trailing `/api/v1` is
    /// accepted too): the shared layer's timeouts, budget and retries.
    pub fn config(endpoint: &str) -> HttpConfig {
        HttpConfig::new("api7", endpoint, error_message)
    }

    /// A client of `scope` through `config` (see [`Api7Client::config`]). The platform label and
    /// the error-message reader are always API7's, whatever `config` holds. Fails with
    /// `ClientError::Config` on an id that is not a decimal number or a bad endpoint.
    pub fn new(
        mut config: HttpConfig,
        auth: Auth,
        metrics: ClientMetrics,
        scope: Api7Scope,
    ) -> Result<Self, ClientError> {
        config.platform = "api7";
        config.error_message = error_message;
        let endpoint = config.base_url.trim_end_matches('/');
        config.base_url = endpoint
            .strip_suffix(API_PREFIX)
            .unwrap_or(endpoint)
            .to_string();
        check_id("organization id", &scope.organization_id)?;
        check_id("cluster id", &scope.cluster_id)?;
        let cluster_header = HeaderValue::from_str(&scope.cluster_id)
            .map_err(|e| config_error(format!("cluster id: {e}")))?;
        Ok(Api7Client {
            http: Http::new(config, auth, metrics)?,
            scope,
            cluster_header,
            page_size: DEFAULT_PAGE_SIZE,
            metrics_path: DEFAULT_METRICS_PATH.to_string(),
        })
    }

    /// Walks lists `n` items per page (at least 1).
    pub fn with_page_size(mut self, n: u32) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Asks "Get Cluster Metrics" at `path` (`{cluster_id}` and `{metric_type}` replaced)
    /// instead of [`DEFAULT_METRICS_PATH`].
    pub fn with_metrics_path(mut self, path: impl Into<String>) -> Self {
        self.metrics_path = path.into();
        self
    }

    /// The HTTP layer, e.g. to rotate credentials with [`Http::set_auth`].
    pub fn http(&self) -> &Http {
        &self.http
    }

    pub fn scope(&self) -> &Api7Scope {
        &self.scope
    }

    /// A call to `/api/v1{path}`.
    fn call(method: reqwest::Method, operation: &'static str, path: &str) -> Call {
        Call::new(method, operation, format!("{API_PREFIX}{path}"))
    }

    /// A call in the connection's cluster: `X-API7-Cloud-Gateway-Cluster-ID` names it.
    fn in_cluster(&self, call: Call) -> Call {
        call.header(
            HeaderName::from_static("x-api7-cloud-gateway-cluster-id"),
            self.cluster_header.clone(),
        )
    }

    /// `/clusters/{cluster_id}{rest}`.
    fn cluster_path(&self, rest: &str) -> String {
        format!("/clusters/{}{rest}", self.scope.cluster_id)
    }

    /// Sends a call whose answer may carry a payload.
    async fn maybe_payload<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Option<T>, ClientError> {
        let operation = call.operation();
        let envelope: Envelope<T> = self.http.json(call).await?;
        if let Some(warning) = &envelope.warning
            && !warning.is_empty()
        {
            tracing::warn!(platform = "api7", operation, %warning, "platform warning");
        }
        Ok(envelope.payload)
    }

    /// Sends a call whose answer must carry a payload.
    async fn payload<T: DeserializeOwned>(&self, call: Call) -> Result<T, ClientError> {
        let operation = call.operation();
        self.maybe_payload(call)
            .await?
            .ok_or_else(|| decode_error(operation, "the answer has no payload".into()))
    }

    /// Sends a call answered without a payload (deletes, the OpenAPI import).
    async fn no_payload(&self, call: Call) -> Result<(), ClientError> {
        self.http.send(call).await.map(|_| ())
    }

    /// Every item of a paged list. Pages are walked oldest first so that items created during
    /// the walk land on later pages instead of shifting the ones not yet read.
    async fn list_all<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        filter: &ListFilter,
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        for page in 1u64.. {
            let mut call = Self::call(reqwest::Method::GET, operation, path)
                .query("page", page)
                .query("page_size", self.page_size)
                .query("order_by", "created_at")
                .query("direction", "ASC");
            if let Some(search) = filter.search.as_deref().filter(|s| !s.is_empty()) {
                call = call.query("search", search);
            }
            for label in &filter.labels {
                call = call.query("labels", label);
            }
            let found: Page<T> = self.payload(self.in_cluster(call)).await?;
            let n = found.list.len();
            items.extend(found.list);
            if n < self.page_size as usize || items.len() as u64 >= found.count {
                break;
            }
        }
        Ok(items)
    }
}

fn config_error(message: String) -> ClientError {
    ClientError::Config {
        platform: "api7",
        message,
    }
}

fn decode_error(operation: &'static str, message: String) -> ClientError {
    ClientError::Decode {
        platform: "api7",
        operation,
        message,
    }
}

/// API7 ids are `^[1-9][0-9]*$`; anything else would be refused by the platform, or worse,
/// change the path it is put in.
fn check_id(what: &str, id: &str) -> Result<(), ClientError> {
    let digits = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
    if digits && !id.starts_with('0') {
        Ok(())
    } else {
        Err(config_error(format!(
            "{what} {id:?} is not an API7 id (a decimal number)"
        )))
    }
}
/// Every decoder of this client over one response body (see `clients::decoders`): the error
/// message, and each response type in the envelope it arrives in. How many accepted the body.
pub fn decode_every_way(body: &[u8]) -> usize {
    use crate::decoders::accepts;
    usize::from(error_message(400, body).is_some())
        + accepts::<Envelope<User>>(body)
        + accepts::<Envelope<Organization>>(body)
        + accepts::<Envelope<Cluster>>(body)
        + accepts::<Envelope<Application>>(body)
        + accepts::<Envelope<Api>>(body)
        + accepts::<Envelope<CanaryRelease>>(body)
        + accepts::<Envelope<Consumer>>(body)
        + accepts::<Envelope<Certificate>>(body)
        + accepts::<Envelope<Page<Application>>>(body)
        + accepts::<Envelope<Page<Api>>>(body)
        + accepts::<Envelope<Page<CanaryRelease>>>(body)
        // The metrics payload, read as a Prometheus query result.
        + usize::from(
            serde_json::from_slice::<Envelope<serde_json::Value>>(body)
                .ok()
                .and_then(|e| e.payload)
                .is_some_and(|p| super::prometheus::samples(&p).is_ok()),
        )
}
