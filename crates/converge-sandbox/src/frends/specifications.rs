//! The specification operations: list, create, import, get, update, get a version, delete from
//! an agent group, publish, deploy, and the (not reproduced) process template.

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::model::version_of;
use super::openapi;
use super::paging::Page;
use super::problem::Problem;
use super::request::{self, Ids};
use super::views::{Data, PagedData, SpecificationDto};
use super::{BASE, Frends};
use crate::Sandbox;

type Sb = State<Sandbox<Frends>>;
type Result<T = Response> = std::result::Result<T, Problem>;

/// `GET /api-specifications?PageNumber=&PageSize=`: specifications by id.
pub async fn list(
    State(sb): Sb,
    headers: HeaderMap,
    query: std::result::Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result {
    let Query(pairs) = query.map_err(|r| Problem::bad_request(r.body_text()))?;
    let page = Page::from_query(&pairs)?;
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let views: Vec<SpecificationDto> = sb.read(|s| {
        s.specifications
            .values()
            .map(SpecificationDto::of)
            .collect()
    });
    let (data, paging) = page.slice(views, &format!("http://{host}{BASE}"));
    Ok(Json(PagedData { data, paging }).into_response())
}

/// `POST /api-specifications` with the document as a JSON string: version 1 in the default
/// agent group.
pub async fn create(
    State(sb): Sb,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result {
    let text = request::document_string(&headers, &request::bytes(body)?)?;
    created(&sb, &text)
}

/// `POST /api-specifications/import`, multipart field `file`. Documented as very slow: it
/// answers after one timing step.
pub async fn import(
    State(sb): Sb,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result {
    let mut multipart = multipart.map_err(|r| {
        let status = match r.status() {
            StatusCode::BAD_REQUEST => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            other => other,
        };
        Problem::new(
            status,
            "The request must be multipart/form-data with the document in the field 'file'.",
        )
    })?;
    let mut file = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Problem::new(e.status(), e.body_text()))?
    {
        if field.name() == Some("file") {
            let bytes = field
                .bytes()
                .await
                .map_err(|e| Problem::new(e.status(), e.body_text()))?;
            file = Some(bytes);
        }
    }
    let file = file.ok_or_else(|| Problem::invalid("file", "The file field is required."))?;
    let text = String::from_utf8(file.to_vec())
        .map_err(|_| Problem::invalid("file", "The file must be UTF-8 text (JSON or YAML)."))?;
    tokio::time::sleep(sb.timing().step).await;
    created(&sb, &text)
}

fn created(sb: &Sandbox<Frends>, text: &str) -> Result {
    let doc = openapi::parse(text).map_err(|e| Problem::invalid("specification", e))?;
    let now = sb.now();
    let dto = sb.write(|s| {
        let id = s.create(text, doc, None, now)?;
        s.specification(id).map(SpecificationDto::of)
    })?;
    Ok((StatusCode::CREATED, Json(Data { data: dto })).into_response())
}

/// `GET /api-specifications/{id}`.
pub async fn get(State(sb): Sb, Path(ids): Path<Ids>) -> Result {
    let id = ids.spec()?;
    let view = sb.read(|s| s.specification(id).map(SpecificationDto::of))?;
    Ok(Json(Data { data: view }).into_response())
}

/// `PUT /api-specifications/{id}` with the document as a JSON string: changes the active
/// version. 200 without a body.
pub async fn update(
    State(sb): Sb,
    Path(ids): Path<Ids>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result {
    let id = ids.spec()?;
    let text = request::document_string(&headers, &request::bytes(body)?)?;
    let doc = openapi::parse(&text).map_err(|e| Problem::invalid("specification", e))?;
    let now = sb.now();
    sb.write(|s| s.update(id, &text, doc, now))?;
    Ok(StatusCode::OK.into_response())
}

/// `GET /api-specifications/{id}/{apiVersion}`.
pub async fn get_version(State(sb): Sb, Path(ids): Path<Ids>) -> Result {
    let (id, version) = (ids.spec()?, ids.version()?);
    let view = sb.read(|s| {
        let spec = s.specification(id)?;
        let v = version_of(spec, version)?;
        Ok::<_, Problem>(SpecificationDto::of_version(spec, v))
    })?;
    Ok(Json(Data { data: view }).into_response())
}

/// `DELETE /api-specifications/{id}/agent-group/{agentGroupId}`: 204.
pub async fn remove_from_group(State(sb): Sb, Path(ids): Path<Ids>) -> Result {
    let (id, group) = (ids.spec()?, ids.agent_group()?);
    sb.write(|s| s.remove_from_group(id, group))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The publish body.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PublishModel {
    change_description: Option<String>,
}

/// `POST /api-specifications/{id}/publish` with an optional `{changeDescription}`: 200 without
/// a body.
pub async fn publish(
    State(sb): Sb,
    Path(ids): Path<Ids>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result {
    let id = ids.spec()?;
    let model: PublishModel =
        request::model(&headers, &request::bytes(body)?, &["changeDescription"])?;
    let now = sb.now();
    sb.write(|s| s.publish(id, model.change_description, now))?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /api-specifications/{id}/{apiVersion}/deploy/{agentGroupId}`: begins the deployment;
/// 200 without a body. The deployment fails when a `/_sandbox/failures` pattern is in the
/// specification's name or base path, the version's change description, or the agent group's
/// name.
pub async fn deploy(State(sb): Sb, Path(ids): Path<Ids>) -> Result {
    let (id, version, group) = (ids.spec()?, ids.version()?, ids.agent_group()?);
    let now = sb.now();
    sb.write(|s| {
        let spec = s.specification(id)?;
        let v = version_of(spec, version)?;
        let group_name = s.agent_group(group)?.name.clone();
        let texts = [
            Some(v.name.as_str()),
            Some(spec.base_path.as_str()),
            v.published
                .as_ref()
                .and_then(|p| p.change_description.as_deref()),
            Some(group_name.as_str()),
        ];
        let fails = texts.into_iter().flatten().any(|t| sb.should_fail(t));
        s.deploy(id, version, group, now, fails)
    })?;
    Ok(StatusCode::OK.into_response())
}

/// `POST /api-specifications/{id}/{apiVersion}/processTemplate`: the specification and version
/// are checked, then 501: generating Frends process BPMN is not reproduced by the sandbox.
pub async fn process_template(State(sb): Sb, Path(ids): Path<Ids>) -> Result {
    let (id, version) = (ids.spec()?, ids.version()?);
    sb.read(|s| version_of(s.specification(id)?, version).map(|_| ()))?;
    Err(Problem::new(
        StatusCode::NOT_IMPLEMENTED,
        "Process templates are not reproduced by the Frends sandbox.",
    ))
}
