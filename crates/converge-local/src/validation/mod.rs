//! Admission as the apiserver does it, without an apiserver: the one validation step that
//! `converge local`, `converge local --watch`, `converge plan` and the embedded apiserver share.
//!
//! The pipeline follows kube-apiserver's for a create or an update of a custom resource, step by
//! step, each in its own file:
//! 1. `structural`: strict decoding (unknown fields refused, each named as kubectl's
//!    "strict decoding error" names them), nulls pruned where the schema is not nullable, and
//!    the schema's defaults applied — the object as the apiserver would store it;
//! 2. `meta`: `metadata` (names, labels, annotations, finalizers) and the rules of the
//!    built-in kinds Converge reads (Secret, ConfigMap, Namespace);
//! 3. `openapi`: the structural schema's value validations (types, enums, patterns, lengths,
//!    formats, required, list-type uniqueness), with the `jsonschema` crate;
//! 4. `cel`: the `x-kubernetes-validations` rules, including transition rules against the old
//!    object on an update, with kube's CEL implementation (kube-cel);
//! 5. the apiserver's object size limit.
//!
//! Everything is driven by the CRDs `converge_api::crds::all()` generates (and k8s-openapi's schemas
//! for the built-in kinds), never by a list of fields: a field added to a CRD type is validated
//! here the moment it exists. Messages are the apiserver's, word for word where it matters
//! (`tests/validation.rs` compares decisions with a real kube-apiserver).

mod cel;
mod meta;
mod openapi;
mod schema;
mod structural;

use std::fmt;

use serde_json::Value;

pub use crate::manifests::yaml::{Seg, render};
pub use schema::{Kind, kind_of, kinds};

/// What the apiserver does with fields no schema declares (its `fieldValidation` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Refuse the object, naming each unknown field (kubectl's default).
    #[default]
    Strict,
    /// Drop them (the apiserver's default for clients that do not say, such as kube-rs).
    Prune,
}

/// The largest object the apiserver stores: etcd's default request limit (`--max-request-bytes`,
/// 1.5 MiB), which the stored object (with the metadata the apiserver adds, counted as
/// [`SERVER_METADATA_BYTES`]) must fit in.
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;
/// What the apiserver adds to a stored object (uid, timestamps, managedFields), about.
pub const SERVER_METADATA_BYTES: usize = 512;
/// The largest request body the apiserver reads (before decoding anything).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// An object `kubectl apply` stores with its own copy in the last-applied-configuration
/// annotation, which (with every other annotation) may not exceed 256 KiB.
pub const CLIENT_SIDE_APPLY_BYTES: usize = 256 * 1024;

/// Why an object was refused, as the apiserver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// 400: the object cannot be decoded (unknown fields under strict validation, a malformed
    /// `metadata`).
    BadRequest,
    /// 422: it decodes but breaks the schema, a CEL rule or a metadata rule.
    Invalid,
    /// 413: too large to store.
    TooLarge,
}

/// One thing wrong with an object: where, and the apiserver's words for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    pub path: Vec<Seg>,
    /// The whole message, path included (`spec.x: Invalid value: ...`), as the apiserver
    /// writes it.
    pub message: String,
}

impl Cause {
    pub fn new(path: Vec<Seg>, message: impl Into<String>) -> Cause {
        Cause {
            path,
            message: message.into(),
        }
    }
}

/// A refusal of an object, with every cause found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub kind: String,
    pub api_version: String,
    pub name: String,
    pub causes: Vec<Cause>,
}

impl fmt::Display for Refusal {
    /// The message of the apiserver's `Status`, as `kubectl` shows it after "Error from server".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages: Vec<&str> = self.causes.iter().map(|c| c.message.as_str()).collect();
        match self.reason {
            Reason::BadRequest => {
                let version = self
                    .api_version
                    .rsplit('/')
                    .next()
                    .unwrap_or(&self.api_version);
                let strict = messages.iter().all(|m| m.starts_with("unknown field "));
                write!(
                    f,
                    "{} in version {version:?} cannot be handled as a {}: {}{}",
                    self.kind,
                    self.kind,
                    if strict {
                        "strict decoding error: "
                    } else {
                        ""
                    },
                    messages.join(", ")
                )
            }
            Reason::Invalid => {
                let group = self.api_version.split_once('/').map(|(g, _)| g);
                let qualified = match group {
                    Some(g) => format!("{}.{g}", self.kind),
                    None => self.kind.clone(),
                };
                match messages.as_slice() {
                    [one] => write!(f, "{qualified} {:?} is invalid: {one}", self.name),
                    many => write!(
                        f,
                        "{qualified} {:?} is invalid: [{}]",
                        self.name,
                        many.join(", ")
                    ),
                }
            }
            Reason::TooLarge => write!(f, "{}", messages.join(", ")),
        }
    }
}

impl std::error::Error for Refusal {}

/// An admitted object: as the apiserver would store it (unknown fields pruned under
/// [`FieldValidation::Prune`], defaults applied), and what it would warn about.
#[derive(Clone, Debug)]
pub struct Admitted {
    pub object: Value,
    pub warnings: Vec<String>,
}

/// Admits `object` as the apiserver admits a create (`old` None) or an update of `old`.
/// Objects of kinds Converge does not validate (Events) pass unchanged.
pub fn admit(
    object: Value,
    old: Option<&Value>,
    fields: FieldValidation,
) -> Result<Admitted, Refusal> {
    let Some(kind) = kind_of_object(&object) else {
        return Ok(Admitted {
            object,
            warnings: Vec::new(),
        });
    };
    let refuse = |reason, causes, object: &Value| refusal(reason, object, causes);
    // 0. The request body, before anything is decoded.
    let sent = serde_json::to_vec(&object).map(|v| v.len()).unwrap_or(0);
    if sent > MAX_BODY_BYTES {
        return Err(refuse(
            Reason::TooLarge,
            vec![Cause::new(
                Vec::new(),
                format!("Request entity too large: limit is {MAX_BODY_BYTES}"),
            )],
            &object,
        ));
    }
    // 1. Decoding: metadata, unknown fields, nulls and defaults.
    let mut object = object;
    let decoded = structural::decode(kind, &mut object, fields);
    if !decoded.is_empty() {
        return Err(refuse(Reason::BadRequest, decoded, &object));
    }
    // 2-4. Validation: every cause is reported at once, as the apiserver does.
    let mut causes = meta::validate(kind, &object, old);
    causes.extend(openapi::validate(kind, &object));
    causes.extend(structural::list_types(kind, &object));
    if !causes.iter().any(blocks_cel) {
        causes.extend(cel::validate(kind, &object, old));
    } else if kind.has_cel_rules() {
        causes.push(Cause::new(
            Vec::new(),
            "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ));
    }
    if !causes.is_empty() {
        return Err(refuse(Reason::Invalid, causes, &object));
    }
    // 5. Size, as stored.
    let size = serde_json::to_vec(&object).map(|v| v.len()).unwrap_or(0);
    if size + SERVER_METADATA_BYTES > MAX_OBJECT_BYTES {
        return Err(refuse(
            Reason::TooLarge,
            vec![Cause::new(
                Vec::new(),
                format!(
                    "etcdserver: request is too large (the object is {size} bytes; etcd takes requests of at most {MAX_OBJECT_BYTES})"
                ),
            )],
            &object,
        ));
    }
    let mut warnings = Vec::new();
    if size > CLIENT_SIDE_APPLY_BYTES {
        warnings.push(format!(
            "the object is {} KiB: `kubectl apply` would refuse it (its last-applied-configuration annotation may not exceed 256 KiB); apply it with `kubectl apply --server-side`",
            size / 1024
        ));
    }
    Ok(Admitted { object, warnings })
}

/// Admits a write to the status subresource: the status part is checked against the schema
/// (unknown fields dropped, as the apiserver does for a client that does not ask for strict
/// validation); the rest of the object is the old one.
pub fn admit_status(object: Value, fields: FieldValidation) -> Result<Value, Refusal> {
    let Some(kind) = kind_of_object(&object) else {
        return Ok(object);
    };
    let mut object = object;
    let refuse = |reason, causes, object: &Value| refusal(reason, object, causes);
    let decoded = structural::decode_status(kind, &mut object, fields);
    if !decoded.is_empty() {
        return Err(refuse(Reason::BadRequest, decoded, &object));
    }
    let causes: Vec<Cause> = openapi::validate(kind, &object)
        .into_iter()
        .filter(|c| matches!(c.path.first(), Some(Seg::Key(k)) if k == "status"))
        .collect();
    if !causes.is_empty() {
        return Err(refuse(Reason::Invalid, causes, &object));
    }
    Ok(object)
}

fn kind_of_object(object: &Value) -> Option<&'static Kind> {
    kind_of(
        object["apiVersion"].as_str().unwrap_or_default(),
        object["kind"].as_str().unwrap_or_default(),
    )
}

fn refusal(reason: Reason, object: &Value, causes: Vec<Cause>) -> Refusal {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Refusal {
        reason,
        kind: text(&object["kind"]),
        api_version: text(&object["apiVersion"]),
        name: text(&object["metadata"]["name"]),
        causes,
    }
}

/// A Go RE2 pattern (a CRD's `pattern`) as Rust's `regex` crate reads it with the same meaning.
pub fn pattern_regex(pattern: &str) -> String {
    openapi::rust_pattern(pattern)
}

/// The errors after which the apiserver does not evaluate CEL rules (its `hasBlockingErr`).
fn blocks_cel(c: &Cause) -> bool {
    [
        ": Unsupported value",
        ": Required value",
        ": Too long",
        ": Too many",
        " must be of type ",
    ]
    .iter()
    .any(|m| c.message.contains(m))
}

#[cfg(test)]
mod tests;
