//! Frends API management request and response bodies, with the platform's field names.
//!
//! The documented specification shape (`DtoApiSpecification`: id, name, activeVersion,
//! description) cannot say which versions are published, where they are deployed, nor the base
//! path. The Converge sandbox adds those to its read operations (`basePath`, `publishedVersion`,
//! `deployments`; on a version also `version`, `isPublished`, `changeDescription`,
//! `specification`); they are decoded here as optional so that a tenant that does not send them
//! still decodes.

use serde::{Deserialize, Deserializer, Serialize};

/// An API specification (DtoApiSpecification, plus the read operations' additions).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpecification {
    pub id: i64,
    /// `info.title` of the active version's document.
    pub name: String,
    /// The editable version; every lower version is published (locked) or was.
    pub active_version: i32,
    #[serde(default)]
    pub description: Option<String>,
    /// Extension: the base path (OpenAPI 2) / server URL (OpenAPI 3) fixed at creation. Absent
    /// from create and import answers.
    #[serde(default)]
    pub base_path: Option<String>,
    /// Extension: the newest published (deployable) version.
    #[serde(default)]
    pub published_version: Option<i32>,
    /// Extension: which version each agent group runs.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub deployments: Vec<Deployment>,
}

impl ApiSpecification {
    /// Whether this specification is served under `base_path`, compared as Frends compares them
    /// when it refuses a second API on a path: the URL path only (an absolute server URL's host
    /// is ignored), without a trailing slash, ignoring case. False when the platform did not send
    /// the base path.
    pub fn serves_base_path(&self, base_path: &str) -> bool {
        self.base_path
            .as_deref()
            .is_some_and(|own| path_key(own) == path_key(base_path))
    }
}

/// The URL path part of a base path or server URL, lower-cased, without a trailing slash.
fn path_key(base_path: &str) -> String {
    let path = match base_path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => base_path,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    match path.trim().trim_end_matches('/') {
        "" => "/".to_string(),
        trimmed => trimmed.to_lowercase(),
    }
}

/// One version of a specification, as `GET /{id}/{apiVersion}` returns it: the documented
/// fields describe that version's document (`activeVersion` stays the specification's).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpecificationVersion {
    pub id: i64,
    pub name: String,
    pub active_version: i32,
    #[serde(default)]
    pub description: Option<String>,
    /// Extension: the version number shown.
    #[serde(default)]
    pub version: Option<i32>,
    /// Extension: the specification's base path.
    #[serde(default)]
    pub base_path: Option<String>,
    /// Extension: published versions are locked and deployable.
    #[serde(default)]
    pub is_published: Option<bool>,
    /// Extension: the change description it was published with.
    #[serde(default)]
    pub change_description: Option<String>,
    /// Extension: the agent groups this version is deployed to.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub deployments: Vec<Deployment>,
    /// Extension: the OpenAPI document of this version, as it was sent.
    #[serde(default)]
    pub specification: Option<String>,
}

/// A version deployed to an agent group (extension).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub agent_group_id: i64,
    pub version: i32,
    pub status: DeploymentStatus,
}

/// Where a deployment is: deploying only begins it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum DeploymentStatus {
    Deploying,
    Deployed,
    Failed,
    /// A status this client does not know yet.
    #[serde(other)]
    Unknown,
}

/// An API passthrough configuration (ApiPassthroughViewModel).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Passthrough {
    pub id: i64,
    /// The row id of the version it belongs to (not the version number).
    pub api_version_id: i64,
    #[serde(default)]
    pub modifier: Option<String>,
    /// When it last changed, as the platform writes it (e.g. `2025-09-07T10:06:05.654Z`).
    #[serde(default)]
    pub modified: Option<String>,
    /// Source API path; None on the default configuration.
    #[serde(default)]
    pub path: Option<String>,
    /// Upper-case HTTP method; None on the default configuration.
    #[serde(default)]
    pub method: Option<String>,
    pub is_default: bool,
    /// corsEnabled, targetUrl, headers, allowedOrigins: compare with what is wanted.
    #[serde(flatten)]
    pub settings: PassthroughSettings,
}

/// The editable part of a passthrough configuration (ApiPassthroughEditModel): the body of an
/// update, and part of a create.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassthroughSettings {
    #[serde(default)]
    pub cors_enabled: bool,
    pub target_url: TargetUrl,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub headers: Vec<PassthroughHeader>,
    /// Used when CORS is enabled.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_origins: Vec<String>,
}

/// Where requests are forwarded (ApiPassthroughTarget).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetUrl {
    /// An absolute http:// or https:// URL.
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// A header rule (ApiPassthroughHeader).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PassthroughHeader {
    pub action: HeaderAction,
    pub name: String,
    /// Not used by `Remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// What a header rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeaderAction {
    Add,
    Replace,
    Remove,
    /// An action this client does not know yet; only ever decoded, never meant to be sent.
    #[serde(other)]
    Unknown,
}

/// A new passthrough configuration (ApiPassthroughCreateModel).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPassthrough {
    #[serde(flatten)]
    pub settings: PassthroughSettings,
    /// Source API path; not used when `is_default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// HTTP method; not used when `is_default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Used for every path and method of the API.
    pub is_default: bool,
}

impl NewPassthrough {
    /// What identifies this configuration within its version.
    pub fn key(&self) -> PassthroughKey {
        match (self.is_default, &self.path, &self.method) {
            (false, Some(path), Some(method)) => PassthroughKey::Operation {
                path: path.clone(),
                method: method.clone(),
            },
            _ => PassthroughKey::Default,
        }
    }
}

/// The natural key of a passthrough configuration within a version: a version has at most one
/// default configuration and one per path and method. Frends answers a create without an id, so
/// this is how the created configuration (or one created before a crash) is found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PassthroughKey {
    Default,
    Operation { path: String, method: String },
}

impl PassthroughKey {
    /// Paths compare exactly, methods without regard to case (Frends stores them upper-case).
    pub fn matches(&self, p: &Passthrough) -> bool {
        match self {
            PassthroughKey::Default => p.is_default,
            PassthroughKey::Operation { path, method } => {
                !p.is_default
                    && p.path.as_deref() == Some(path.as_str())
                    && p.method
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case(method))
            }
        }
    }
}

/// The publish body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PublishModel<'a> {
    pub change_description: Option<&'a str>,
}

/// Arrays the platform declares nullable decode as empty.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(base_path: Option<&str>) -> ApiSpecification {
        ApiSpecification {
            id: 1,
            name: "A".into(),
            active_version: 1,
            description: None,
            base_path: base_path.map(String::from),
            published_version: None,
            deployments: vec![],
        }
    }

    #[test]
    fn base_paths_compare_by_url_path_ignoring_case_and_trailing_slash() {
        let s = spec(Some("https://api.acme.test/API/Petstore/v1/"));
        assert!(s.serves_base_path("/api/petstore/v1"));
        assert!(s.serves_base_path("http://other.test/api/petstore/v1"));
        assert!(!s.serves_base_path("/api/petstore"));
        assert!(spec(Some("https://h.test")).serves_base_path("/"));
        assert!(!spec(None).serves_base_path("/api/petstore/v1"));
    }

    #[test]
    fn unknown_values_and_null_arrays_decode() {
        let p: Passthrough = serde_json::from_value(serde_json::json!({
            "id": 3, "apiVersionId": 2, "isDefault": false, "path": "/pets", "method": "GET",
            "corsEnabled": true, "allowedOrigins": null, "headers": [{"action": "Append", "name": "A", "value": "1"}],
            "targetUrl": {"server": "https://b.test", "basePath": null}, "newField": 1
        }))
        .unwrap();
        assert_eq!(p.settings.allowed_origins, Vec::<String>::new());
        assert_eq!(p.settings.headers[0].action, HeaderAction::Unknown);
        assert!(
            PassthroughKey::Operation {
                path: "/pets".into(),
                method: "get".into()
            }
            .matches(&p)
        );
        assert!(!PassthroughKey::Default.matches(&p));
        let d: Deployment = serde_json::from_value(
            serde_json::json!({"agentGroupId": 2, "version": 1, "status": "Queued"}),
        )
        .unwrap();
        assert_eq!(d.status, DeploymentStatus::Unknown);
    }

    #[test]
    fn a_missing_required_field_fails() {
        let missing = serde_json::from_value::<ApiSpecification>(
            serde_json::json!({"id": 1, "name": "A", "description": null}),
        );
        assert!(missing.is_err());
    }
}
