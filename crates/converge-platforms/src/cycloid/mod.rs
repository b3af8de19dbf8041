//! The Cycloid client: one organization's projects, environments, components, pipelines, jobs,
//! builds and events, over the shared HTTP layer.
//!
//! Every path is under `/organizations/{organization_canonical}` on the endpoint (e.g.
//! `https://http-api.cycloid.io`), authenticated with `Authorization: Bearer <api key>`.
//! Answers come in `{"data": ...}` (unwrapped here); lists that page are walked to the end;
//! errors carry the `code: message: details` of Cycloid's `{"errors": [...]}`.
//!
//! For a reconciler:
//! - Natural keys: projects, environments and components by canonical, pipelines by name
//!   (unique in the organization: [`CycloidClient::find_pipeline`] finds one wherever it is),
//!   builds by id. `get_*` answer `None` on 404 so a create can be preceded by a lookup.
//! - Creates (`create_*`), `trigger_build` and `send_event` are POSTs and never resent: after
//!   a failure whose effect is unknown, look up before trying again. A build or an event sent
//!   twice is a second build or event; there is no lookup that tells one apart, so record what
//!   was triggered (build id) before anything else.
//! - Updates replace what they carry, and most optional fields not sent are cleared (each
//!   body says which); `update_project` needs the `updated_at` of the latest read (409 when
//!   stale), and environment changes move it.
//! - New pipelines are paused: unpause them for their builds to run.

mod builds;
mod components;
mod envelope;
mod events;
mod model;
mod projects;
mod requests;

use std::fmt;

use reqwest::header::{ACCEPT, HeaderValue};
use serde::de::DeserializeOwned;

use crate::{Auth, Call, ClientError, ClientMetrics, Http, HttpConfig, Secret};
use envelope::{Data, Page};

pub use envelope::error_message;
pub use model::{
    Build, BuildStatus, CloudProvider, Component, ConfigRepository, EntityRef, Environment, Event,
    EventType, FormVariables, Job, Organization, Pipeline, PipelineVariables, Project,
    ServiceCatalogRef, Severity, Tag, TeamRef, User,
};
pub use requests::{
    EventFilter, NewComponent, NewEnvironment, NewEvent, NewPipeline, NewProject, PipelineFilter,
    UpdateComponent, UpdateEnvironment, UpdatePipeline, UpdateProject,
};

const PLATFORM: &str = "cycloid";

/// The media type of request bodies the docs show.
const MEDIA_TYPE: &str = "application/vnd.cycloid.io.v1+json";

/// Items asked per page when walking a list (the platform's default is 1000).
const DEFAULT_PAGE_SIZE: u32 = 100;

/// A client of one Cycloid organization. Clones share the connection, budget and credentials.
#[derive(Clone)]
pub struct CycloidClient {
    http: Http,
    organization: String,
    page_size: u32,
}

/// Where a component is: its project, environment and canonical.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ComponentPath {
    pub project: String,
    pub environment: String,
    pub component: String,
}

impl ComponentPath {
    pub fn new(
        project: impl Into<String>,
        environment: impl Into<String>,
        component: impl Into<String>,
    ) -> Self {
        ComponentPath {
            project: project.into(),
            environment: environment.into(),
            component: component.into(),
        }
    }

    /// `/projects/{p}/environments/{e}/components/{c}`.
    fn path(&self) -> String {
        format!(
            "{}/components/{}",
            environment_path(&self.project, &self.environment),
            segment(&self.component)
        )
    }

    /// `.../components/{c}/pipelines/{pl}`.
    fn pipeline(&self, pipeline: &str) -> String {
        format!("{}/pipelines/{}", self.path(), segment(pipeline))
    }

    /// `.../pipelines/{pl}/jobs/{job}`.
    fn job(&self, pipeline: &str, job: &str) -> String {
        format!("{}/jobs/{}", self.pipeline(pipeline), segment(job))
    }
}

impl fmt::Display for ComponentPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.project, self.environment, self.component
        )
    }
}

/// The endpoint and organization only: the credentials never print.
impl fmt::Debug for CycloidClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycloidClient")
            .field("endpoint", &self.http.base_url())
            .field("organization", &self.organization)
            .finish_non_exhaustive()
    }
}

impl CycloidClient {
    /// This client for a drift check, which may share collection reads ([`Http::sharing`]).
    pub fn sharing(&self, window: std::time::Duration) -> Self {
        CycloidClient {
            http: self.http.sharing(window),
            ..self.clone()
        }
    }

    /// The HTTP layer (budget, pool, credentials).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The HTTP settings for a Cycloid endpoint, with Cycloid's error envelope; adjust the
    /// timeout, budget and retries before [`CycloidClient::new`].
    pub fn config(endpoint: impl Into<String>) -> HttpConfig {
        HttpConfig::new(PLATFORM, endpoint, error_message)
    }

    /// A client of `organization` (its canonical) authenticated with an API key.
    pub fn new(
        config: HttpConfig,
        api_key: Secret,
        organization: impl Into<String>,
        metrics: ClientMetrics,
    ) -> Result<Self, ClientError> {
        let http = Http::new(config, Auth::Bearer(api_key), metrics)?;
        Ok(CycloidClient {
            http,
            organization: organization.into(),
            page_size: DEFAULT_PAGE_SIZE,
        })
    }

    /// Walks lists `size` items per page (at least 1).
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// The organization canonical every call is scoped to.
    pub fn organization(&self) -> &str {
        &self.organization
    }

    /// A rotated API key for every following call (clones included).
    pub fn set_api_key(&self, api_key: Secret) {
        self.http.set_auth(Auth::Bearer(api_key));
    }

    /// `/organizations/{org}{rest}`.
    fn org_path(&self, rest: &str) -> String {
        format!("/organizations/{}{rest}", segment(&self.organization))
    }

    /// Sends a call and unwraps `{"data": T}`.
    async fn data<T: DeserializeOwned>(&self, call: Call) -> Result<T, ClientError> {
        Ok(self.http.json::<Data<T>>(call).await?.data)
    }

    /// Like [`Self::data`], with 404 (the entity or one of its parents is gone) as None.
    async fn optional<T: DeserializeOwned>(&self, call: Call) -> Result<Option<T>, ClientError> {
        match self.data(call).await {
            Ok(value) => Ok(Some(value)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends a call answered without a body (204).
    async fn no_content(&self, call: Call) -> Result<(), ClientError> {
        self.http.send(call).await.map(drop)
    }

    /// Every item of a list paged by `page_index`/`page_size`, filters repeated on each page.
    async fn all_pages<T: DeserializeOwned>(
        &self,
        operation: &'static str,
        path: &str,
        filters: &[(&'static str, String)],
    ) -> Result<Vec<T>, ClientError> {
        let mut items = Vec::new();
        let mut index: u64 = 1;
        loop {
            let mut call = get(operation, path)
                .query("page_index", index)
                .query("page_size", self.page_size);
            for (key, value) in filters {
                call = call.query(*key, value);
            }
            let page: Page<T> = self.http.json(call).await?;
            if page.pagination.index != index {
                // A server that ignores page_index would have us read the same page forever.
                return Err(ClientError::Decode {
                    platform: PLATFORM,
                    operation,
                    message: format!(
                        "pagination.index: asked for page {index}, got page {}",
                        page.pagination.index
                    ),
                });
            }
            let got = page.data.len();
            items.extend(page.data);
            if got == 0 || items.len() as u64 >= page.pagination.total {
                return Ok(items);
            }
            index += 1;
        }
    }
}

/// A GET that asks for JSON.
fn get(operation: &'static str, path: impl Into<String>) -> Call {
    accept_json(Call::get(operation, path))
}

/// A POST with a JSON body in Cycloid's media type (never resent).
fn post<B: serde::Serialize + ?Sized>(
    operation: &'static str,
    path: impl Into<String>,
    body: &B,
) -> Call {
    accept_json(Call::post(operation, path).json_as(body, MEDIA_TYPE)).never_repeat()
}

/// A POST without a body (never resent).
fn post_empty(operation: &'static str, path: impl Into<String>) -> Call {
    accept_json(Call::post(operation, path)).never_repeat()
}

/// A PUT with a JSON body in Cycloid's media type.
fn put<B: serde::Serialize + ?Sized>(
    operation: &'static str,
    path: impl Into<String>,
    body: &B,
) -> Call {
    accept_json(Call::put(operation, path).json_as(body, MEDIA_TYPE))
}

/// A PUT without a body (pause, unpause, abort).
fn put_empty(operation: &'static str, path: impl Into<String>) -> Call {
    accept_json(Call::put(operation, path))
}

fn delete(operation: &'static str, path: impl Into<String>) -> Call {
    accept_json(Call::delete(operation, path))
}

fn accept_json(call: Call) -> Call {
    call.header(ACCEPT, HeaderValue::from_static("application/json"))
}

/// `/projects/{p}/environments/{e}`.
fn environment_path(project: &str, environment: &str) -> String {
    format!(
        "/projects/{}/environments/{}",
        segment(project),
        segment(environment)
    )
}

/// A path segment with everything but unreserved characters percent-encoded (canonicals
/// never need it; job names may hold spaces or slashes).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every decoder of this client over one response body (see `clients::decoders`): the error
/// message, and each response type in the envelope it arrives in. How many accepted the body.
pub fn decode_every_way(body: &[u8]) -> usize {
    use crate::decoders::accepts;
    let mut n = usize::from(error_message(400, body).is_some())
        + accepts::<Data<Project>>(body)
        + accepts::<Data<Organization>>(body)
        + accepts::<Data<User>>(body)
        + accepts::<Data<Component>>(body)
        + accepts::<Data<Pipeline>>(body)
        + accepts::<Data<Job>>(body)
        + accepts::<Data<Build>>(body)
        + accepts::<Data<Vec<ConfigRepository>>>(body)
        + accepts::<Page<Project>>(body)
        + accepts::<Page<Environment>>(body)
        + accepts::<Page<Event>>(body)
        + accepts::<envelope::ConcoursePage<Build>>(body);
    // Answers that come enveloped or bare, and one event or a list of one.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let bare = envelope::data_or_bare(value);
        n += usize::from(envelope::decode_value::<Component>("fuzz", bare.clone()).is_ok());
        if let Ok(first) = envelope::one_or_first("fuzz", bare) {
            n += usize::from(envelope::decode_value::<Event>("fuzz", first).is_ok());
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_encode_what_a_path_cannot_hold() {
        assert_eq!(segment("billing-api.deploy_1~"), "billing-api.deploy_1~");
        assert_eq!(segment("unit tests/é"), "unit%20tests%2F%C3%A9");
        let path = ComponentPath::new("billing", "staging", "billing-api");
        assert_eq!(
            path.job("billing-api-deploy", "run it"),
            "/projects/billing/environments/staging/components/billing-api/pipelines/billing-api-deploy/jobs/run%20it"
        );
    }
}
