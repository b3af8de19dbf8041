//! Frends API management request and response bodies, with the platform's field names.
//!
//! Only documented fields are relied on. Every specification read (list, get, get a version,
//! and the create and import answers) has the documented shape `DtoApiSpecification`: id,
//! name, activeVersion, description. It does not say which versions are published, where they
//! are deployed, nor the base path: the reconciler records what it did in status instead.

use serde::{Deserialize, Deserializer, Serialize};

/// An API specification (DtoApiSpecification); also the answer of a version read, whose
/// `name` and `description` are that version's (`activeVersion` stays the specification's).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiSpecification {
    pub id: i64,
    /// `info.title` of the active version's document.
    pub name: String,
    /// The editable version; every lower version is published (locked) or was.
    pub active_version: i32,
    /// `info.description` of the active version's document.
    #[serde(default)]
    pub description: Option<String>,
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

    #[test]
    fn fields_beyond_the_documented_shape_are_ignored() {
        let s: ApiSpecification = serde_json::from_value(serde_json::json!({
            "id": 1, "name": "A", "activeVersion": 2, "description": null, "basePath": "/x"
        }))
        .unwrap();
        assert_eq!((s.id, s.active_version, s.description), (1, 2, None));
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
    }

    #[test]
    fn a_missing_required_field_fails() {
        let missing = serde_json::from_value::<ApiSpecification>(
            serde_json::json!({"id": 1, "name": "A", "description": null}),
        );
        assert!(missing.is_err());
    }
}
