//! The API7 Cloud sandbox, after the "API7 Cloud OpenAPI Specification (0.11.0)" and, for URL
//! paths and headers the rendered docs leave out, the official Go SDK (`cloud-go-sdk`).
//!
//! Everything is under `/api/v1` with `Authorization: Bearer <token>`; answers use the envelope
//! of [`envelope`] (HTTP 200 with `status.code` 0 on success, creates included). Ids are 64-bit
//! integers sent as decimal strings. Routes:
//!
//! | method | path |
//! |---|---|
//! | GET | `/api/v1/user/me` |
//! | GET | `/api/v1/orgs/{org_id}` |
//! | GET, POST | `/api/v1/orgs/{org_id}/clusters` |
//! | GET | `/api/v1/clusters/{cluster_id}` |
//! | PATCH | `/api/v1/clusters/{cluster_id}/config`, `/api/v1/clusters/{cluster_id}/plugins` |
//! | GET, POST, DELETE | `/api/v1/clusters/{cluster_id}/apps` |
//! | POST | `/api/v1/clusters/{cluster_id}/apps/openapi` (the OpenAPI import, see [`import`]) |
//! | GET, PUT, PATCH, DELETE | `/api/v1/clusters/{cluster_id}/apps/{app_id}` |
//! | GET, POST, DELETE | `/api/v1/apps/{app_id}/apis` |
//! | GET, PUT, PATCH, DELETE | `/api/v1/apps/{app_id}/apis/{api_id}` |
//! | GET, POST | `/api/v1/apps/{app_id}/canary_releases` |
//! | GET, PUT, DELETE | `/api/v1/apps/{app_id}/canary_releases/{canary_release_id}` |
//! | GET, POST | `/api/v1/clusters/{cluster_id}/consumers` |
//! | GET, PUT, PATCH, DELETE | `/api/v1/clusters/{cluster_id}/consumers/{consumer_id}` |
//! | GET, POST | `/api/v1/clusters/{cluster_id}/certificates` |
//! | GET, PUT, PATCH, DELETE | `/api/v1/clusters/{cluster_id}/certificates/{certificate_id}` |
//! | GET | `/api/v1/clusters/{cluster_id}/metrics/{metric_type}` ("Get Cluster Metrics": the docs give no path; see [`traffic`]) |
//!
//! Beside the shared admin surface, `GET|PUT|DELETE /_sandbox/traffic` sets the simulated
//! traffic the metrics report, per application and upstream version (see [`traffic`]).
//!
//! `/apps/{app_id}/...` calls need `X-API7-Cloud-Gateway-Cluster-ID` (see [`scope`]). Unknown
//! paths answer 404 and known paths with another method 405 (with `Allow`), both in the
//! envelope. Seed data: see [`seed`].

mod apis;
mod apps;
mod canary;
mod certificates;
mod consumers;
pub mod envelope;
mod import;
pub mod model;
mod orgs;
mod query;
pub mod scope;
pub mod seed;
pub mod traffic;
mod validate;
mod x509;

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{get, patch, post};

use super::{Credential, Platform, Sandbox};

pub use model::State;

/// The API7 Cloud platform.
pub struct Api7;

async fn not_found(uri: Uri) -> Response {
    envelope::error_response(
        StatusCode::NOT_FOUND,
        &format!("no API7 Cloud endpoint at {}", uri.path()),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    envelope::error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("{method} is not allowed on {}", uri.path()),
    )
}

impl Platform for Api7 {
    const NAME: &'static str = "api7";
    type State = State;

    fn routes() -> Router<Sandbox<Self>> {
        Router::new()
            .route("/api/v1/user/me", get(orgs::me))
            .route("/api/v1/orgs/{org_id}", get(orgs::get_org))
            .route(
                "/api/v1/orgs/{org_id}/clusters",
                get(orgs::list_clusters).post(orgs::create_cluster),
            )
            .route("/api/v1/clusters/{cluster_id}", get(orgs::get_cluster))
            .route(
                "/api/v1/clusters/{cluster_id}/config",
                patch(orgs::update_config),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/plugins",
                patch(orgs::update_plugins),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/apps",
                get(apps::list).post(apps::create).delete(apps::delete_all),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/apps/openapi",
                post(import::import),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/apps/{app_id}",
                get(apps::get)
                    .put(apps::update)
                    .patch(apps::patch)
                    .delete(apps::delete),
            )
            .route(
                "/api/v1/apps/{app_id}/apis",
                get(apis::list).post(apis::create).delete(apis::delete_all),
            )
            .route(
                "/api/v1/apps/{app_id}/apis/{api_id}",
                get(apis::get)
                    .put(apis::update)
                    .patch(apis::patch)
                    .delete(apis::delete),
            )
            .route(
                "/api/v1/apps/{app_id}/canary_releases",
                get(canary::list).post(canary::create),
            )
            .route(
                "/api/v1/apps/{app_id}/canary_releases/{canary_release_id}",
                get(canary::get).put(canary::update).delete(canary::delete),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/consumers",
                get(consumers::list).post(consumers::create),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/consumers/{consumer_id}",
                get(consumers::get)
                    .put(consumers::update)
                    .patch(consumers::patch)
                    .delete(consumers::delete),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/certificates",
                get(certificates::list).post(certificates::create),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/certificates/{certificate_id}",
                get(certificates::get)
                    .put(certificates::update)
                    .patch(certificates::patch)
                    .delete(certificates::delete),
            )
            .route(
                "/api/v1/clusters/{cluster_id}/metrics/{metric_type}",
                get(traffic::metrics),
            )
            .method_not_allowed_fallback(method_not_allowed)
            .fallback(not_found)
    }

    fn error(status: StatusCode, message: &str) -> Response {
        envelope::error_response(status, message)
    }

    fn admin_routes() -> Router<Sandbox<Self>> {
        Router::new().route(
            "/_sandbox/traffic",
            get(traffic::get_traffic)
                .put(traffic::put_traffic)
                .delete(traffic::clear_traffic),
        )
    }

    /// API7 Cloud takes bearer access tokens only. The messages never include the token.
    fn authenticate(
        credential: Option<&Credential>,
        accepted: &[Credential],
    ) -> Result<(), Box<Response>> {
        let message = match credential {
            Some(c @ Credential::Bearer { .. }) if accepted.contains(c) => return Ok(()),
            None => "Authorization header with a Bearer access token is required",
            Some(Credential::Basic { .. }) => "only Bearer access tokens are accepted",
            Some(_) => "invalid or expired access token",
        };
        Err(Box::new(Self::error(StatusCode::UNAUTHORIZED, message)))
    }

    fn default_seed(state: &mut State) {
        seed::default_seed(state)
    }

    fn seed(state: &mut State, value: serde_json::Value) -> Result<(), String> {
        seed::seed(state, value)
    }
}
