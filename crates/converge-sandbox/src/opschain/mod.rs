//! The OpsChain sandbox: the `/api/...` JSON:API surface Converge drives, faithful to
//! `shared/platform-apis/docs/opschain-api-v1.txt` and the official spec.
//!
//! - Media type `application/vnd.api+json` both ways (415 for another request body type, 406
//!   for an Accept header that only takes it with parameters); errors are JSON:API
//!   `{"errors": [{"status", "title", "detail" | "meta": {"message"} | "code", "source"}]}`.
//! - Basic or bearer authentication; a missing or unknown credential gets 401 in that envelope.
//! - Projects, environments and assets are addressed by code (lowercase letters, digits and
//!   `_`, unique in their parent, immutable). A duplicate code or name is a 422 model error
//!   `Code has already been taken` / `Name has already been taken` (Rails' uniqueness wording;
//!   the spec shows no example). DELETE archives them (204).
//! - Workflows (Enterprise projects only: Standard ones answer 422 `Unsupported project type`)
//!   with versions: drafts, publishing (`draft: false`, validated against the documented step
//!   shapes), `latest_version` / `latest_published_version`.
//! - Runs of a published version, whose status moves over time (see `progress.rs`); wait steps
//!   are continued, approval steps approved or rejected, at `/api/workflow_steps/{id}/...` and
//!   its run-specific alias. (`/api/steps/...` are the steps of changes, which the sandbox does
//!   not model: it answers 404 there.)
//! - Log lines of runs and steps (what OpsChain reports as they move), read-only empty bookmark
//!   lists, the user directory (`/api/users`) and `/api/info`.
//! - Versioned properties with optimistic concurrency (`version` mismatch → 422).
//! - `filter[...]` narrows and sorts every list (see `filter.rs`); there is no pagination.

mod filter;
mod jsonapi;
mod logs;
mod model;
mod nodes;
mod progress;
mod render;
mod runs;
mod seed;
mod steps;
mod workflows;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::ops::Credential;
use super::{Platform, Sandbox};
use jsonapi::ApiError;

pub use model::State;

/// The OpsChain platform.
pub struct OpsChain;

/// The handle every OpsChain handler gets.
type Sb = Sandbox<OpsChain>;

impl Platform for OpsChain {
    const NAME: &'static str = "opschain";
    type State = State;

    fn routes() -> Router<Sb> {
        let steps = |prefix: &str| {
            Router::new()
                .route(prefix, get(runs::list_steps))
                .route(
                    &format!("{prefix}/{{step}}"),
                    get(runs::show_step).patch(runs::update_step),
                )
                .route(
                    &format!("{prefix}/{{step}}/continue"),
                    post(runs::continue_step),
                )
                .route(
                    &format!("{prefix}/{{step}}/approve"),
                    post(runs::approve_step),
                )
                .route(
                    &format!("{prefix}/{{step}}/reject"),
                    post(runs::reject_step),
                )
                .route(&format!("{prefix}/{{step}}/log_lines"), get(logs::step_log))
        };
        let run = "/api/projects/{project}/workflows/{workflow}/runs/{run}";
        Router::new()
            .route("/api/info", get(nodes::info))
            .route("/api/users", get(nodes::users))
            .route(
                "/api/projects",
                get(nodes::list_projects).post(nodes::create_project),
            )
            .route(
                "/api/projects/{project}",
                get(nodes::show_project)
                    .patch(nodes::update_project)
                    .delete(nodes::archive_project),
            )
            .route(
                "/api/projects/{project}/environments",
                get(nodes::list_environments).post(nodes::create_environment),
            )
            .route(
                "/api/projects/{project}/environments/{environment}",
                get(nodes::show_environment)
                    .patch(nodes::update_environment)
                    .delete(nodes::archive_environment),
            )
            .route(
                "/api/projects/{project}/assets",
                get(nodes::list_project_assets).post(nodes::create_project_asset),
            )
            .route(
                "/api/projects/{project}/assets/{asset}",
                get(nodes::show_project_asset)
                    .patch(nodes::update_project_asset)
                    .delete(nodes::archive_project_asset),
            )
            .route(
                "/api/projects/{project}/environments/{environment}/assets",
                get(nodes::list_environment_assets).post(nodes::create_environment_asset),
            )
            .route(
                "/api/projects/{project}/environments/{environment}/assets/{asset}",
                get(nodes::show_environment_asset)
                    .patch(nodes::update_environment_asset)
                    .delete(nodes::archive_environment_asset),
            )
            .route(
                "/api/properties/{properties}",
                get(nodes::show_properties).patch(nodes::update_properties),
            )
            .route(
                "/api/properties/{properties}/versions",
                get(nodes::list_properties_versions),
            )
            .route(
                "/api/properties/{properties}/versions/{version}",
                get(nodes::show_properties_version),
            )
            .route(
                "/api/projects/{project}/workflows",
                get(workflows::list).post(workflows::create),
            )
            .route(
                "/api/projects/{project}/workflows/{workflow}",
                get(workflows::show)
                    .patch(workflows::update)
                    .delete(workflows::delete),
            )
            .route(
                "/api/projects/{project}/workflows/{workflow}/versions",
                get(workflows::list_versions).delete(workflows::delete_drafts),
            )
            .route(
                "/api/projects/{project}/workflows/{workflow}/versions/{version}",
                get(workflows::show_version)
                    .patch(workflows::update_version)
                    .delete(workflows::delete_version),
            )
            .route(
                "/api/projects/{project}/workflows/{workflow}/versions/{version}/runs",
                get(runs::list_version_runs),
            )
            .route(
                "/api/projects/{project}/workflows/{workflow}/runs",
                get(runs::list_workflow_runs).post(runs::create_workflow_run),
            )
            .route(
                run,
                get(runs::show_nested_run).delete(runs::cancel_nested_run),
            )
            .route(
                "/api/projects/{project}/workflow_runs",
                get(runs::list_project_runs),
            )
            .route(
                "/api/workflow_runs",
                get(runs::list_runs).post(runs::create_run),
            )
            .route(
                "/api/workflow_runs/{run}",
                get(runs::show_run).delete(runs::cancel_run),
            )
            .route("/api/workflow_runs/{run}/log_lines", get(logs::run_log))
            .route("/api/projects/{project}/bookmarks", get(nodes::bookmarks))
            .route(
                "/api/projects/{project}/environments/{environment}/bookmarks",
                get(nodes::bookmarks),
            )
            .route(
                "/api/projects/{project}/assets/{asset}/bookmarks",
                get(nodes::bookmarks),
            )
            .route(
                "/api/projects/{project}/environments/{environment}/assets/{asset}/bookmarks",
                get(nodes::bookmarks),
            )
            .merge(steps("/api/workflow_steps"))
            .merge(steps(&format!("{run}/steps")))
            .method_not_allowed_fallback(no_route)
            .fallback(no_route)
            .layer(axum::middleware::from_fn(jsonapi::media_types))
    }

    fn error(status: StatusCode, message: &str) -> Response {
        ApiError::http(status, message).into_response()
    }

    /// Basic or bearer; a 401 also names the Basic scheme, as a Rails API does.
    fn authenticate(
        credential: Option<&Credential>,
        accepted: &[Credential],
    ) -> Result<(), Box<Response>> {
        let detail = match credential {
            Some(c) if accepted.contains(c) => return Ok(()),
            Some(_) => "invalid credentials",
            None => "authentication required",
        };
        let mut response = Self::error(StatusCode::UNAUTHORIZED, detail);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"OpsChain\""),
        );
        Err(Box::new(response))
    }

    fn default_seed(state: &mut State) {
        seed::defaults(state);
    }

    /// Adds seed data; the JSON shape is documented on `seed::apply` (`seed.rs`).
    fn seed(state: &mut State, seed: Value) -> Result<(), String> {
        seed::apply(state, seed)
    }
}

/// Unknown paths, and known paths with a method they do not take: Rails' routing error (404).
async fn no_route(request: Request) -> Response {
    jsonapi::no_route_response(request.method(), request.uri().path())
}

/// The user a request acts as: the Basic username, or the user API tokens belong to.
fn caller(headers: &HeaderMap, state: &State) -> String {
    match Credential::from_headers(headers) {
        Some(Credential::Basic { username, .. }) => username,
        _ => state.bearer_user.clone(),
    }
}

/// A list document, narrowed and sorted by the request's `filter[...]` parameters, with `meta`
/// unless it is `null`.
fn list_document(items: Vec<Value>, query: Option<&str>, meta: Value) -> Response {
    let items = filter::Query::parse(query).apply(items);
    let body = if meta.is_null() {
        json!({ "data": items })
    } else {
        json!({ "data": items, "meta": meta })
    };
    jsonapi::document(StatusCode::OK, body)
}
