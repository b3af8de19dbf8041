//! OpsChain's JSON:API envelope as the client reads and writes it: `{"data": ...}` documents whose
//! resource objects decode into flat structs (the resource `id` and `type` next to its
//! attributes), request documents `{"data": {"attributes": ...}}`, and the
//! `{"errors": [...]}` body turned into the platform's own message.

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The only media type OpsChain reads and writes.
pub const MEDIA_TYPE: &str = "application/vnd.api+json";

/// A document holding one resource.
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct Document<T> {
    pub data: Resource<T>,
}

/// A document holding a list of resources (OpsChain lists are never paged).
#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub struct ListDocument<T> {
    pub data: Vec<Resource<T>>,
}

/// A resource object decoded into `T`, a flat struct that sees the attributes plus `id`,
/// `type` and `relationships` as if they were attributes.
pub struct Resource<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Resource<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            id: String,
            #[serde(rename = "type")]
            kind: String,
            attributes: Map<String, Value>,
            relationships: Option<Value>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let mut fields = raw.attributes;
        fields.insert("id".into(), Value::String(raw.id));
        fields.insert("type".into(), Value::String(raw.kind));
        if let Some(relationships) = raw.relationships {
            fields.insert("relationships".into(), relationships);
        }
        serde_path_to_error::deserialize(Value::Object(fields))
            .map(Resource)
            .map_err(|e| match e.path().to_string().as_str() {
                "." => D::Error::custom(e.into_inner()),
                path => D::Error::custom(format_args!("attributes.{path}: {}", e.into_inner())),
            })
    }
}

/// `{"data": {"attributes": ...}}`.
#[derive(Serialize)]
pub struct RequestDocument<'a, A: Serialize> {
    data: RequestData<'a, A>,
}

#[derive(Serialize)]
struct RequestData<'a, A: Serialize> {
    attributes: &'a A,
}

impl<'a, A: Serialize> RequestDocument<'a, A> {
    pub fn new(attributes: &'a A) -> Self {
        RequestDocument {
            data: RequestData { attributes },
        }
    }
}

/// The id of the to-one relationship `name` (`{"<name>": {"data": {"id": ...}}}`) in a
/// resource's `relationships`; `None` when absent or null. For a field declared
/// `#[serde(rename = "relationships", default, deserialize_with = ...)]`.
pub fn related_id<'de, D: Deserializer<'de>>(
    deserializer: D,
    name: &str,
) -> Result<Option<String>, D::Error> {
    let relationships = Value::deserialize(deserializer)?;
    Ok(relationships
        .get(name)
        .and_then(|r| r.get("data"))
        .and_then(|d| d.get("id"))
        .and_then(Value::as_str)
        .map(String::from))
}

/// How [`error_message`] shows where a validation error points, and how refusals recognise
/// the attribute a 422 is about.
pub fn source_note(pointer: &str) -> String {
    format!("(at {pointer})")
}

/// The platform's message from a JSON:API error body: for each error its title and its
/// `detail` or `meta.message` (Rails errors put the text there), then where it points
/// (`source.pointer` or `source.parameter`); several errors are joined with "; ". `None` when
/// the body is not an error document.
pub fn error_message(_status: u16, body: &[u8]) -> Option<String> {
    let document: Value = serde_json::from_slice(body).ok()?;
    let messages: Vec<String> = document
        .get("errors")?
        .as_array()?
        .iter()
        .filter_map(one_error)
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

fn one_error(error: &Value) -> Option<String> {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let title = text(error.get("title"));
    let detail = text(error.get("detail")).or_else(|| text(error.pointer("/meta/message")));
    let mut message = match (title, detail) {
        (Some(t), Some(d)) if t != d => format!("{t}: {d}"),
        (Some(t), _) => t,
        (None, Some(d)) => d,
        (None, None) => text(error.get("code"))?,
    };
    if let Some(pointer) = text(error.pointer("/source/pointer")) {
        message = format!("{message} {}", source_note(&pointer));
    } else if let Some(parameter) = text(error.pointer("/source/parameter")) {
        message = format!("{message} (parameter {parameter})");
    }
    Some(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(body: Value) -> Option<String> {
        error_message(422, body.to_string().as_bytes())
    }

    #[test]
    fn every_error_shape_becomes_the_platforms_words() {
        assert_eq!(
            message(
                json!({"errors": [{"status": 404, "title": "Active Record - Record Not Found", "meta": {"message": "Couldn't find Node"}}]})
            )
            .unwrap(),
            "Active Record - Record Not Found: Couldn't find Node"
        );
        assert_eq!(
            message(
                json!({"errors": [{"status": 422, "code": "model error", "title": "Code has already been taken", "source": {"pointer": "/data/attributes/code"}},
                                  {"status": 422, "code": "model error", "title": "Name can't be blank", "source": {"pointer": "/data/attributes/name"}}]})
            )
            .unwrap(),
            "Code has already been taken (at /data/attributes/code); Name can't be blank (at /data/attributes/name)"
        );
        assert_eq!(
            message(
                json!({"errors": [{"status": 401, "title": "Unauthorized", "detail": "invalid credentials"}]})
            )
            .unwrap(),
            "Unauthorized: invalid credentials"
        );
        assert_eq!(
            message(json!({"errors": [{"status": "400", "detail": "bad filter", "source": {"parameter": "filter"}}]}))
                .unwrap(),
            "bad filter (parameter filter)"
        );
        assert_eq!(
            message(json!({"errors": [{"code": "model error"}]})).unwrap(),
            "model error"
        );
        assert_eq!(message(json!({"errors": []})), None);
        assert_eq!(message(json!({"message": "not JSON:API"})), None);
        assert_eq!(error_message(502, b"<html>bad gateway</html>"), None);
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Flat {
        id: String,
        #[serde(rename = "type")]
        kind: String,
        code: String,
        #[serde(rename = "relationships", default, deserialize_with = "properties")]
        properties_id: Option<String>,
    }

    fn properties<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        related_id(d, "properties")
    }

    #[test]
    fn resources_decode_flat_and_missing_attributes_fail() {
        let doc: Document<Flat> = serde_json::from_value(json!({"data": {
            "id": "1", "type": "project", "attributes": {"code": "web", "new": true},
            "relationships": {"properties": {"data": {"id": "p1", "type": "properties"}}},
            "links": {}, "meta": {}
        }}))
        .unwrap();
        assert_eq!(
            doc.data.0,
            Flat {
                id: "1".into(),
                kind: "project".into(),
                code: "web".into(),
                properties_id: Some("p1".into()),
            }
        );
        let missing = serde_json::from_value::<Document<Flat>>(
            json!({"data": {"id": "1", "type": "project", "attributes": {}}}),
        )
        .err()
        .unwrap();
        assert!(
            missing.to_string().contains("missing field `code`"),
            "{missing}"
        );
        let wrong = serde_json::from_value::<Document<Flat>>(
            json!({"data": {"id": "1", "type": "project", "attributes": {"code": 7}}}),
        )
        .err()
        .unwrap();
        assert!(wrong.to_string().contains("attributes.code"), "{wrong}");
    }

    #[test]
    fn requests_wrap_attributes() {
        let attributes = json!({"steps": []});
        let body = RequestDocument::new(&attributes);
        assert_eq!(
            serde_json::to_value(body).unwrap(),
            json!({"data": {"attributes": {"steps": []}}})
        );
    }
}
