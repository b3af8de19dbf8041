//! The Cycloid sandbox: the organization-scoped API Converge drives (projects, environments,
//! components, pipelines, jobs, builds, events, config repositories), as
//! `shared/platform-apis/docs/cycloid-api-reference.txt` and the official OpenAPI spec
//! describe it.
//!
//! - Paths are the spec's, under `/organizations/{organization_canonical}`, authenticated with
//!   `Authorization: Bearer <api key>`; a missing or unknown key is a 401 `Unauthenticated`
//!   (the spec's `unauthenticated` response). The `api_key` query parameter is not accepted:
//!   the shared authentication layer reads the header only.
//! - Success is `{"data": ...}`; lists add `"pagination": {"index","size","total"}` and page
//!   with `page_index` (from 1) / `page_size` (default 1000); builds page the Concourse way
//!   (`pagination_concourse`). Errors are `{"errors":[{"code","message","details"}]}` (codes in
//!   `error.rs`): 404 for an unknown entity of the path, 422 for validation (go-swagger's
//!   wording, every violation in `details`), 409 for a duplicate canonical or name.
//! - Bodies are JSON (`application/vnd.cycloid.io.v1+json`, `application/json`) or
//!   `application/x-www-form-urlencoded`; other media types get 415, a body without
//!   Content-Length 411.
//! - Ids are integers; times are Unix seconds (event timestamps: milliseconds).
//! - Builds follow a time-based state machine (`concourse.rs`).
//! - Seed JSON (`POST /_sandbox/seed`): organizations, config repositories, stacks and
//!   projects, shape in `seed.rs`.
//!
//! Where the docs and the spec differ, the docs win: `updateProject` requires `updated_at`
//! (optimistic concurrency, 409 when stale) although the spec's schema forbids it;
//! `sendEvent` answers `{"data": [event]}` as the docs' sample shows (the spec says an
//! object); form variables hold any JSON value (the docs show strings, the spec objects).

mod builds;
mod components;
mod concourse;
mod error;
mod model;
mod org;
mod pipelines;
mod projects;
mod query;
mod render;
mod seed;
mod validate;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

use super::{Credential, Platform, Sandbox};
use error::{ApiError, code_for};

pub use model::State;

/// The Cycloid platform.
pub struct Cycloid;

/// The handlers' axum state.
type Sb = Sandbox<Cycloid>;

const ORG: &str = "/organizations/{org}";
const PROJECT: &str = "/organizations/{org}/projects/{project}";
const ENV: &str = "/organizations/{org}/projects/{project}/environments/{env}";
const COMPONENT: &str =
    "/organizations/{org}/projects/{project}/environments/{env}/components/{component}";
const PIPELINE: &str = "/organizations/{org}/projects/{project}/environments/{env}/components/{component}/pipelines/{pipeline}";

fn route(base: &str, rest: &str) -> String {
    format!("{base}{rest}")
}

impl Platform for Cycloid {
    const NAME: &'static str = "cycloid";
    /// The spec's `api_key_query` scheme (the only one it lists for build events).
    const API_KEY_QUERY: Option<&'static str> = Some("api_key");
    type State = State;

    fn routes() -> Router<Sandbox<Self>> {
        Router::new()
            .route("/organizations", get(org::list_organizations))
            .route(ORG, get(org::get_organization))
            .route(
                &route(ORG, "/config_repositories"),
                get(org::list_config_repositories).post(org::create_config_repository),
            )
            .route(
                &route(ORG, "/config_repositories/{config_repository}"),
                get(org::get_config_repository)
                    .put(org::update_config_repository)
                    .delete(org::delete_config_repository),
            )
            .route(
                &route(ORG, "/service_catalogs"),
                get(org::list_service_catalogs),
            )
            .route(
                &route(ORG, "/service_catalogs/{service_catalog_ref}"),
                get(org::get_service_catalog),
            )
            .route(
                &route(ORG, "/service_catalogs/{service_catalog_ref}/use_cases"),
                get(org::get_service_catalog_use_cases),
            )
            .route(
                &route(ORG, "/events"),
                get(org::list_events).post(org::send_event),
            )
            .route(
                &route(ORG, "/components"),
                get(org::list_organization_components),
            )
            .route(
                &route(ORG, "/pipelines"),
                get(pipelines::list_organization_pipelines),
            )
            .route(
                &route(ORG, "/projects"),
                get(projects::list_projects).post(projects::create_project),
            )
            .route(
                PROJECT,
                get(projects::get_project)
                    .put(projects::update_project)
                    .delete(projects::delete_project),
            )
            .route(
                &route(PROJECT, "/pipelines"),
                get(pipelines::list_project_pipelines),
            )
            .route(
                &route(PROJECT, "/environments"),
                get(projects::list_environments).post(projects::create_environment),
            )
            .route(
                ENV,
                get(projects::get_environment)
                    .put(projects::update_environment)
                    .delete(projects::delete_environment),
            )
            .route(
                &route(ENV, "/pipelines"),
                get(pipelines::list_environment_pipelines),
            )
            .route(
                &route(ENV, "/components"),
                get(components::list_components).post(components::create_component),
            )
            .route(
                COMPONENT,
                get(components::get_component)
                    .put(components::update_component)
                    .delete(components::delete_component),
            )
            .route(
                &route(COMPONENT, "/config"),
                get(components::get_component_config),
            )
            .route(
                &route(COMPONENT, "/pipelines"),
                post(pipelines::create_pipeline),
            )
            .route(
                PIPELINE,
                get(pipelines::get_pipeline)
                    .put(pipelines::update_pipeline)
                    .delete(pipelines::delete_pipeline),
            )
            .route(
                &route(PIPELINE, "/config"),
                get(pipelines::get_pipeline_config),
            )
            .route(
                &route(PIPELINE, "/variables"),
                get(pipelines::get_pipeline_variables),
            )
            .route(&route(PIPELINE, "/pause"), put(pipelines::pause_pipeline))
            .route(
                &route(PIPELINE, "/unpause"),
                put(pipelines::unpause_pipeline),
            )
            .route(&route(PIPELINE, "/rename"), put(pipelines::rename_pipeline))
            .route(&route(PIPELINE, "/jobs"), get(pipelines::list_jobs))
            .route(&route(PIPELINE, "/jobs/{job}"), get(pipelines::get_job))
            .route(
                &route(PIPELINE, "/jobs/{job}/pause"),
                put(pipelines::pause_job),
            )
            .route(
                &route(PIPELINE, "/jobs/{job}/unpause"),
                put(pipelines::unpause_job),
            )
            .route(
                &route(PIPELINE, "/jobs/{job}/builds"),
                get(builds::list_builds).post(builds::create_build),
            )
            .route(
                &route(PIPELINE, "/jobs/{job}/builds/{build}"),
                get(builds::get_build).post(builds::rerun_build),
            )
            .route(
                &route(PIPELINE, "/jobs/{job}/builds/{build}/abort"),
                put(builds::abort_build),
            )
            .route(
                &route(PIPELINE, "/builds/{build}/events"),
                get(builds::build_events),
            )
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(not_found)
    }

    fn error(status: StatusCode, message: &str) -> Response {
        ApiError::new(status, code_for(status), message).into_response()
    }

    /// Cycloid takes an API key as a bearer token; anything else is unauthenticated.
    fn authenticate(
        credential: Option<&Credential>,
        accepted: &[Credential],
    ) -> Result<(), Box<Response>> {
        match credential {
            Some(c @ Credential::Bearer { .. }) if accepted.contains(c) => Ok(()),
            _ => Err(Box::new(Self::error(
                StatusCode::UNAUTHORIZED,
                "invalid credentials",
            ))),
        }
    }

    fn default_seed(state: &mut State) {
        seed::defaults(state);
    }

    /// See `seed.rs` for the JSON shape.
    fn seed(state: &mut State, seed: serde_json::Value) -> Result<(), String> {
        seed::apply(state, seed)
    }
}

/// 405 in the error envelope; axum adds the `Allow` header.
async fn method_not_allowed(method: Method) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("method {method} is not allowed"),
    )
    .into_response()
}

/// 404 for a path the API does not have.
async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("path {} was not found", uri.path()),
    )
    .into_response()
}
