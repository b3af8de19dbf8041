//! The Frends API management sandbox: API specifications under
//! `/api/v1/api-management/api-specifications`, with versions that are published (locked,
//! deployable), deployed to agent groups, and given API passthrough configurations.
//!
//! Answers have the documented shapes only; what they cannot show (base paths, published
//! versions, deployments) is on the admin surface ([`inspect`]).
//!
//! Envelopes: `{"data": ...}`; the specification list adds `"paging"`. Errors are
//! `application/problem+json` ([`problem`]). Ids are integers. Status choices where the docs are
//! silent: malformed input 400 (with an `errors` map), a body that is not JSON 415, the current
//! state refusing the request 409 (base path in use, locked version, unpublished version to
//! deploy, still in other agent groups, duplicate passthrough), unknown ids 404.

mod inspect;
mod model;
mod openapi;
mod paging;
mod passthrough;
pub mod problem;
mod request;
mod seed;
mod specifications;
mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use super::{Credential, Platform, Sandbox};
pub use model::State;
use problem::Problem;

/// The base path of every Frends route the sandbox serves.
pub const BASE: &str = "/api/v1/api-management/api-specifications";

/// Kestrel's default request body limit: OpenAPI documents can be large.
const BODY_LIMIT: usize = 30_000_000;

pub struct Frends;

impl Platform for Frends {
    const NAME: &'static str = "frends";
    type State = State;

    fn routes() -> Router<Sandbox<Self>> {
        let at = |rest: &str| format!("{BASE}{rest}");
        Router::new()
            .route(BASE, get(specifications::list).post(specifications::create))
            .route(&at("/import"), post(specifications::import))
            .route(
                &at("/{id}"),
                get(specifications::get).put(specifications::update),
            )
            .route(&at("/{id}/publish"), post(specifications::publish))
            .route(
                &at("/{id}/agent-group/{agentGroupId}"),
                delete(specifications::remove_from_group),
            )
            .route(&at("/{id}/{apiVersion}"), get(specifications::get_version))
            .route(
                &at("/{id}/{apiVersion}/deploy/{agentGroupId}"),
                post(specifications::deploy),
            )
            .route(
                &at("/{id}/{apiVersion}/processTemplate"),
                post(specifications::process_template),
            )
            .route(
                &at("/{id}/{apiVersion}/api-passthrough"),
                get(passthrough::list).post(passthrough::create),
            )
            .route(
                &at("/{id}/{apiVersion}/api-passthrough/{passthroughConfigId}"),
                put(passthrough::update).delete(passthrough::delete),
            )
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .layer(axum::middleware::from_fn(problem::fill_instance))
    }

    fn admin_routes() -> Router<Sandbox<Self>> {
        inspect::routes()
    }

    fn error(status: StatusCode, message: &str) -> Response {
        Problem::new(status, message).into_response()
    }

    /// A bearer token (`Authorization: Bearer <token>`); otherwise 401 with
    /// `WWW-Authenticate: Bearer`, as the platform's bearer scheme answers.
    fn authenticate(
        credential: Option<&Credential>,
        accepted: &[Credential],
    ) -> Result<(), Box<Response>> {
        let detail = match credential {
            Some(c @ Credential::Bearer { .. }) if accepted.contains(c) => return Ok(()),
            Some(Credential::Bearer { .. }) => "The bearer token is not valid.",
            _ => "An Authorization header with a bearer token (Bearer <token>) is required.",
        };
        let mut response = Self::error(StatusCode::UNAUTHORIZED, detail);
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        Err(Box::new(response))
    }

    fn default_seed(state: &mut State) {
        seed::default_seed(state);
    }

    /// See [`seed::Seed`] for the JSON shape.
    fn seed(state: &mut State, seed: serde_json::Value) -> Result<(), String> {
        seed::apply(state, seed)
    }
}

async fn not_found() -> Problem {
    Problem::not_found("The requested resource was not found.")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "The method is not allowed for the requested resource.",
    )
}
