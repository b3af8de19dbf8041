//! The WSO2 Choreo sandbox: the Choreo API Management API (`/api/v1`) of
//! `shared/platform-apis/docs/choreo-api-management.openapi.txt`.
//!
//! Organizations, environments and APIs come from seed data (the API has no operation that
//! creates them); projects and components are created through the API; builds move Pending →
//! InProgress → Success/Failed and deployments Pending → Active/Failed over time, a newer live
//! deployment to the same environment turning the previous one Inactive. Every error uses the
//! envelope in [`error`]; ids are UUIDs, except the default organization's, `acme`.

mod error;
mod handlers;
mod model;
mod seed;
mod validate;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::get;

use super::{Credential, Platform, Sandbox};

pub use model::State;

/// The Choreo platform.
pub struct Choreo;

const ORG: &str = "/api/v1/organizations/{orgId}";
const COMPONENT: &str =
    "/api/v1/organizations/{orgId}/projects/{projectId}/components/{componentId}";

impl Platform for Choreo {
    const NAME: &'static str = "choreo";
    type State = State;

    fn routes() -> Router<Sandbox<Self>> {
        use handlers::*;
        Router::new()
            .route("/api/v1/organizations", get(list_organizations))
            .route(
                &format!("{ORG}/projects"),
                get(list_projects).post(create_project),
            )
            .route(
                &format!("{ORG}/projects/{{projectId}}/components"),
                get(list_components).post(create_component),
            )
            .route(COMPONENT, get(get_component).delete(delete_component))
            .route(
                &format!("{COMPONENT}/builds"),
                get(list_builds).post(create_build),
            )
            .route(
                &format!("{COMPONENT}/deployments"),
                get(list_deployments).post(create_deployment),
            )
            .route(&format!("{ORG}/environments"), get(list_environments))
            .route(&format!("{ORG}/apis"), get(list_apis))
            .route(&format!("{ORG}/apis/{{apiId}}"), get(get_api))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
    }

    fn error(status: StatusCode, message: &str) -> Response {
        error::envelope(status, message)
    }

    /// Bearer tokens only, with WSO2's wording for a missing or rejected credential. The
    /// credential itself is never echoed.
    fn authenticate(
        credential: Option<&Credential>,
        accepted: &[Credential],
    ) -> Result<(), Box<Response>> {
        match credential {
            Some(c) if accepted.contains(c) => Ok(()),
            None => Err(Box::new(error::unauthorized(
                "Missing Credentials. Make sure your API invocation call has a header: 'Authorization: Bearer ACCESS_TOKEN'",
                "Bearer realm=\"choreo\"",
            ))),
            Some(_) => Err(Box::new(error::unauthorized(
                "Invalid Credentials. Make sure you have provided the correct security credentials",
                "Bearer realm=\"choreo\", error=\"invalid_token\"",
            ))),
        }
    }

    fn default_seed(state: &mut State) {
        seed::default_seed(state);
    }

    fn seed(state: &mut State, seed: serde_json::Value) -> Result<(), String> {
        seed::seed(state, seed)
    }
}

async fn not_found(OriginalUri(uri): OriginalUri) -> Response {
    error::envelope(
        StatusCode::NOT_FOUND,
        &format!("no resource at {}", uri.path()),
    )
}

/// Axum keeps the Allow header listing the methods the path has.
async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    error::envelope(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("{method} is not supported on {}", uri.path()),
    )
}
