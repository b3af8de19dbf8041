//! The sandbox's inspection of Frends, on its admin surface (no authentication, never recorded
//! as platform traffic): what the documented API cannot show. People trying Converge and the
//! tests read the base path of a specification, its published versions, what is deployed to
//! each agent group and how far the deployment got, and each version's document here.
//!
//! - `GET /_sandbox/frends/specifications`: every specification ([`SpecificationView`]).
//! - `GET /_sandbox/frends/specifications/{id}`: one.
//! - `GET /_sandbox/frends/specifications/{id}/{apiVersion}`: one version ([`VersionView`]).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Frends;
use super::model::version_of;
use super::problem::Problem;
use super::request::Ids;
use super::views::{SpecificationView, VersionView};
use crate::Sandbox;

type Sb = State<Sandbox<Frends>>;

pub fn routes() -> Router<Sandbox<Frends>> {
    Router::new()
        .route("/_sandbox/frends/specifications", get(list))
        .route("/_sandbox/frends/specifications/{id}", get(one))
        .route(
            "/_sandbox/frends/specifications/{id}/{apiVersion}",
            get(version),
        )
}

async fn list(State(sb): Sb) -> Response {
    let now = sb.now();
    let views: Vec<SpecificationView> = sb.read(|s| {
        s.specifications
            .values()
            .map(|spec| SpecificationView::of(spec, sb.timing(), now))
            .collect()
    });
    Json(views).into_response()
}

async fn one(State(sb): Sb, Path(ids): Path<Ids>) -> Result<Response, Problem> {
    let id = ids.spec()?;
    let now = sb.now();
    let view = sb.read(|s| {
        s.specification(id)
            .map(|spec| SpecificationView::of(spec, sb.timing(), now))
    })?;
    Ok(Json(view).into_response())
}

async fn version(State(sb): Sb, Path(ids): Path<Ids>) -> Result<Response, Problem> {
    let (id, version) = (ids.spec()?, ids.version()?);
    let now = sb.now();
    let view = sb.read(|s| {
        let spec = s.specification(id)?;
        let v = version_of(spec, version)?;
        Ok::<_, Problem>(VersionView::of(spec, v, sb.timing(), now))
    })?;
    Ok(Json(view).into_response())
}
