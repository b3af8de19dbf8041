//! The Frends sandbox. (Skeleton: routes, state and seed data to be filled in.)

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{Platform, Sandbox};

pub struct Frends;

#[derive(Default, Serialize, Deserialize)]
pub struct State {}

impl Platform for Frends {
    const NAME: &'static str = "frends";
    type State = State;

    fn routes() -> Router<Sandbox<Self>> {
        Router::new()
    }

    fn error(status: StatusCode, message: &str) -> Response {
        (
            status,
            axum::Json(serde_json::json!({ "message": message })),
        )
            .into_response()
    }

    fn default_seed(_state: &mut State) {}

    fn seed(_state: &mut State, _seed: serde_json::Value) -> Result<(), String> {
        Err("not implemented".into())
    }
}
