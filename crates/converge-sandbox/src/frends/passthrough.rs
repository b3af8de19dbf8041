//! API passthrough configurations of a version: list, create, update, delete.
//!
//! Rules (the docs give the fields; the sandbox picks these checks): `targetUrl.server` is
//! required and absolute (http/https); a header's `action` is `Add`, `Replace` or `Remove` and
//! needs a `name` (and a `value` unless it removes); unless `isDefault`, `path` and `method` are
//! required and must name an operation of that version's document; a version has at most one
//! default configuration and one per path and method (409); published versions are locked (409).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Frends;
use super::model::{Header, PassthroughKey, PassthroughSettings, TargetUrl, version_of};
use super::problem::Problem;
use super::request::{self, Ids};
use super::views::{Data, PassthroughView};
use crate::Sandbox;

type Sb = State<Sandbox<Frends>>;
type Result<T = Response> = std::result::Result<T, Problem>;

/// Property names of the create and edit models, for case-insensitive binding.
const NAMES: [&str; 11] = [
    "corsEnabled",
    "targetUrl",
    "server",
    "basePath",
    "operationPath",
    "query",
    "headers",
    "action",
    "name",
    "value",
    "allowedOrigins",
];
const CREATE_NAMES: [&str; 3] = ["path", "method", "isDefault"];

/// HTTP methods a passthrough can be for.
const METHODS: [&str; 8] = [
    "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE",
];

/// ApiPassthroughCreateModel.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CreateModel {
    #[serde(flatten)]
    pub settings: EditModel,
    pub path: Option<String>,
    pub method: Option<String>,
    #[serde(default)]
    pub is_default: bool,
}

/// ApiPassthroughEditModel.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct EditModel {
    #[serde(default)]
    pub cors_enabled: bool,
    pub target_url: Option<TargetModel>,
    pub headers: Option<Vec<HeaderModel>>,
    pub allowed_origins: Option<Vec<String>>,
}

/// ApiPassthroughTarget.
#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TargetModel {
    pub server: Option<String>,
    pub base_path: Option<String>,
    pub operation_path: Option<String>,
    pub query: Option<String>,
}

/// ApiPassthroughHeader.
#[derive(Deserialize, Default, Clone)]
pub struct HeaderModel {
    pub action: Option<String>,
    pub name: Option<String>,
    pub value: Option<String>,
}

impl EditModel {
    /// Checks the model and returns what is stored.
    pub fn settings(self) -> Result<PassthroughSettings> {
        let target = self
            .target_url
            .ok_or_else(|| Problem::invalid("targetUrl", "The targetUrl field is required."))?;
        let server = target
            .server
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Problem::invalid(
                    "targetUrl.server",
                    "The targetUrl.server field is required.",
                )
            })?;
        let host = server
            .strip_prefix("https://")
            .or_else(|| server.strip_prefix("http://"));
        if host.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
            return Err(Problem::invalid(
                "targetUrl.server",
                format!(
                    "The target server {server:?} must be an absolute http:// or https:// URL."
                ),
            ));
        }
        let mut headers = Vec::new();
        for (i, h) in self.headers.unwrap_or_default().into_iter().enumerate() {
            let action = match h.action.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("add") => "Add",
                Some("replace") => "Replace",
                Some("remove") => "Remove",
                _ => {
                    return Err(Problem::invalid(
                        &format!("headers[{i}].action"),
                        format!(
                            "The header action {:?} is not valid: use Add, Replace or Remove.",
                            h.action.unwrap_or_default()
                        ),
                    ));
                }
            };
            let name = h
                .name
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    Problem::invalid(
                        &format!("headers[{i}].name"),
                        "The header name is required.",
                    )
                })?;
            if action != "Remove" && h.value.is_none() {
                return Err(Problem::invalid(
                    &format!("headers[{i}].value"),
                    format!(
                        "The header {name} needs a value to {}.",
                        action.to_lowercase()
                    ),
                ));
            }
            headers.push(Header {
                action: action.into(),
                name,
                value: h.value,
            });
        }
        let allowed_origins = self.allowed_origins.unwrap_or_default();
        if let Some(i) = allowed_origins.iter().position(|o| o.trim().is_empty()) {
            return Err(Problem::invalid(
                &format!("allowedOrigins[{i}]"),
                "An allowed origin cannot be empty.",
            ));
        }
        Ok(PassthroughSettings {
            cors_enabled: self.cors_enabled,
            target_url: TargetUrl {
                server,
                base_path: target.base_path,
                operation_path: target.operation_path,
                query: target.query,
            },
            headers,
            allowed_origins,
        })
    }
}

impl CreateModel {
    /// Which configuration this is: the default one (path and method are not used), or one
    /// operation's.
    pub fn key(&self) -> Result<PassthroughKey> {
        if self.is_default {
            return Ok(PassthroughKey::Default);
        }
        let path = self
            .path
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                Problem::invalid(
                    "path",
                    "The path field is required unless isDefault is true.",
                )
            })?;
        let method = self
            .method
            .as_deref()
            .map(|m| m.trim().to_ascii_uppercase())
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                Problem::invalid(
                    "method",
                    "The method field is required unless isDefault is true.",
                )
            })?;
        if !METHODS.contains(&method.as_str()) {
            return Err(Problem::invalid(
                "method",
                format!("The method {method:?} is not an HTTP method."),
            ));
        }
        Ok(PassthroughKey::Operation {
            path: path.to_string(),
            method,
        })
    }
}

/// Parses a create model from a JSON body.
pub fn create_model(headers: &HeaderMap, body: &Bytes) -> Result<CreateModel> {
    let names: Vec<&str> = NAMES.iter().chain(CREATE_NAMES.iter()).copied().collect();
    request::model(headers, body, &names)
}

/// `GET /{id}/{apiVersion}/api-passthrough`: `{"data":[...]}` (not paged).
pub async fn list(State(sb): Sb, Path(ids): Path<Ids>) -> Result {
    let (id, version) = (ids.spec()?, ids.version()?);
    let views: Vec<PassthroughView> = sb.read(|s| {
        let v = version_of(s.specification(id)?, version)?;
        Ok::<_, Problem>(
            v.passthroughs
                .iter()
                .map(|p| PassthroughView::of(p, v.id))
                .collect(),
        )
    })?;
    Ok(Json(Data { data: views }).into_response())
}

/// `POST /{id}/{apiVersion}/api-passthrough`: 201 without a body.
pub async fn create(
    State(sb): Sb,
    Path(ids): Path<Ids>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result {
    let (id, version) = (ids.spec()?, ids.version()?);
    let model = create_model(&headers, &request::bytes(body)?)?;
    let key = model.key()?;
    let settings = model.settings.settings()?;
    let modifier = request::modifier(&headers);
    let now = sb.now();
    sb.write(|s| s.add_passthrough(id, version, key, settings, modifier, now))?;
    Ok(StatusCode::CREATED.into_response())
}

/// `PUT /{id}/{apiVersion}/api-passthrough/{passthroughConfigId}`: replaces corsEnabled,
/// targetUrl, headers and allowedOrigins (path, method and isDefault never change); 200 with the
/// configuration.
pub async fn update(
    State(sb): Sb,
    Path(ids): Path<Ids>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result {
    let (id, version, passthrough) = (ids.spec()?, ids.version()?, ids.passthrough()?);
    let model: EditModel = request::model(&headers, &request::bytes(body)?, &NAMES)?;
    let settings = model.settings()?;
    let modifier = request::modifier(&headers);
    let now = sb.now();
    let (p, version_id) =
        sb.write(|s| s.update_passthrough(id, version, passthrough, settings, modifier, now))?;
    Ok(Json(Data {
        data: PassthroughView::of(&p, version_id),
    })
    .into_response())
}

/// `DELETE /{id}/{apiVersion}/api-passthrough/{passthroughConfigId}`: 204.
pub async fn delete(State(sb): Sb, Path(ids): Path<Ids>) -> Result {
    let (id, version, passthrough) = (ids.spec()?, ids.version()?, ids.passthrough()?);
    sb.write(|s| s.delete_passthrough(id, version, passthrough))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
