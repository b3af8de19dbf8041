//! The OpsChain client: projects and environments (addressed by code), their versioned
//! properties, workflows with versions, runs and their steps, over OpsChain's JSON:API
//! (`application/vnd.api+json` both ways) with basic or bearer authentication.
//!
//! OpsChain lists are not paged (a list call returns everything); `filter[...]` narrows them.
//! Natural keys: project code; environment and workflow codes within their project. A run has
//! no natural key, so Converge tags each run's `metadata` with a unique marker and finds it
//! with [`OpsChainClient::find_runs_by_metadata`] before starting another.

mod jsonapi;
mod nodes;
mod refusals;
mod requests;
mod runs;
mod status;
mod types;
mod workflows;

use std::fmt;

use reqwest::header::{ACCEPT, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Auth, Call, ClientError, ClientMetrics, Http, HttpConfig};
use jsonapi::{Document, ListDocument, RequestDocument};

pub use jsonapi::{MEDIA_TYPE, error_message};
pub use refusals::{PropertiesUpdateError, StepActionError};
pub use requests::{NewEnvironment, NewProject, NewRun, NewWorkflow, NodeUpdate, WorkflowUpdate};
pub use status::{RunStatus, StepKind, StepStatus};
pub use types::{
    Decision, Environment, Info, Project, Properties, Run, Step, Workflow, WorkflowVersion,
};

/// The platform name: metric label and error prefix.
pub const PLATFORM: &str = "opschain";

/// A client of one OpsChain instance. Clones share the connection's budget, credentials and
/// connection pool.
#[derive(Clone)]
pub struct OpsChainClient {
    http: Http,
}

impl fmt::Debug for OpsChainClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpsChainClient")
            .field("endpoint", &self.http.base_url())
            .finish_non_exhaustive()
    }
}

impl OpsChainClient {
    /// This client for a drift check, which may share collection reads ([`Http::sharing`]).
    pub fn sharing(&self, window: std::time::Duration) -> Self {
        OpsChainClient {
            http: self.http.sharing(window),
        }
    }

    /// The HTTP settings for an OpsChain instance at `endpoint`, its server root (for example
    /// `https://opschain.example.com`; request paths start with `/api`).
    pub fn config(endpoint: impl Into<String>) -> HttpConfig {
        HttpConfig::new(PLATFORM, endpoint, error_message)
    }

    /// A client over `config` (as [`OpsChainClient::config`] makes it, tuned as needed). The
    /// platform name and error reader are always OpsChain's, and an endpoint given with a
    /// trailing `/api` is taken as the server root.
    pub fn new(
        mut config: HttpConfig,
        auth: Auth,
        metrics: ClientMetrics,
    ) -> Result<OpsChainClient, ClientError> {
        config.platform = PLATFORM;
        config.error_message = error_message;
        let root = config.base_url.trim_end_matches('/');
        config.base_url = root.strip_suffix("/api").unwrap_or(root).to_string();
        Ok(OpsChainClient {
            http: Http::new(config, auth, metrics)?,
        })
    }

    /// The shared HTTP layer (to rotate credentials with `set_auth`).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// Sends a read and decodes the one resource it answers.
    async fn fetch<T: DeserializeOwned>(&self, call: Call) -> Result<T, ClientError> {
        let document: Document<T> = self.http.json(accept(call)).await?;
        Ok(document.data.0)
    }

    /// Like `fetch`, with `None` when OpsChain has no such record (404 `Record Not Found`). A
    /// 404 routing error is an error: the endpoint is wrong, not the object missing.
    async fn fetch_optional<T: DeserializeOwned>(
        &self,
        call: Call,
    ) -> Result<Option<T>, ClientError> {
        match self.fetch(call).await {
            Ok(resource) => Ok(Some(resource)),
            Err(e) if is_missing_record(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn fetch_list<T: DeserializeOwned>(&self, call: Call) -> Result<Vec<T>, ClientError> {
        let document: ListDocument<T> = self.http.json(accept(call)).await?;
        Ok(document.data.into_iter().map(|r| r.0).collect())
    }

    /// Sends a call answered with no body (204).
    async fn send(&self, call: Call) -> Result<(), ClientError> {
        self.http.send(accept(call)).await.map(drop)
    }
}

fn accept(call: Call) -> Call {
    call.header(ACCEPT, HeaderValue::from_static(MEDIA_TYPE))
}

/// A JSON:API write body.
fn body<A: Serialize>(call: Call, document: &RequestDocument<'_, A>) -> Call {
    call.json_as(document, MEDIA_TYPE)
}

/// A 404 about a record, not about the route (Rails answers an unknown path with 404
/// `Action Controller - Routing Error`).
fn is_missing_record(error: &ClientError) -> bool {
    error.is_not_found()
        && !error
            .message()
            .starts_with("Action Controller - Routing Error")
}

/// A path segment, escaped. Codes (lowercase letters, digits, underscores) and ids (UUIDs) pass
/// unchanged; a value holding `/`, `?` or `#` cannot reach another path.
fn segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Every decoder of this client over one response body (see `clients::decoders`): the error
/// message, and each response type in the envelope it arrives in. How many accepted the body.
pub fn decode_every_way(body: &[u8]) -> usize {
    use crate::decoders::accepts;
    let mut n = usize::from(error_message(400, body).is_some())
        + accepts::<Document<Info>>(body)
        + accepts::<Document<Project>>(body)
        + accepts::<Document<Environment>>(body)
        + accepts::<Document<Workflow>>(body)
        + accepts::<Document<WorkflowVersion>>(body)
        + accepts::<Document<Run>>(body)
        + accepts::<Document<Properties>>(body)
        + accepts::<ListDocument<Project>>(body)
        + accepts::<ListDocument<Environment>>(body)
        + accepts::<ListDocument<Workflow>>(body)
        + accepts::<ListDocument<Run>>(body)
        + accepts::<ListDocument<Step>>(body);
    // Refusals are recognised from the platform's message: feed it the body as one.
    for status in [409, 422] {
        let error = || ClientError::Status {
            platform: PLATFORM,
            operation: "fuzz",
            status,
            message: String::from_utf8_lossy(body).into_owned(),
            retry_after: None,
        };
        n += usize::from(matches!(
            StepActionError::classify(error()),
            StepActionError::NotWaiting { .. }
        ));
        n += usize::from(matches!(
            PropertiesUpdateError::classify(error()),
            PropertiesUpdateError::VersionMismatch { .. }
        ));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_cannot_escape_their_place() {
        assert_eq!(segment("web_2"), "web_2");
        assert_eq!(
            segment("0d369f01-e9fb-45b1-8a78-a88a75a3ff5e"),
            "0d369f01-e9fb-45b1-8a78-a88a75a3ff5e"
        );
        assert_eq!(segment("../x?y"), "%2E%2E%2Fx%3Fy");
    }

    #[test]
    fn the_endpoint_is_the_server_root() {
        let client = OpsChainClient::new(
            OpsChainClient::config("https://opschain.example.com/api/"),
            Auth::bearer("token-value"),
            ClientMetrics::default(),
        )
        .unwrap();
        assert_eq!(client.http().base_url(), "https://opschain.example.com");
        assert_eq!(
            format!("{client:?}"),
            "OpsChainClient { endpoint: \"https://opschain.example.com\", .. }"
        );
    }
}
