//! The kinds validated and their schemas: Converge's CRDs as `converge_api::crds::all()` generates
//! them, and the built-in kinds Converge reads (Secret, ConfigMap, Namespace) from
//! k8s-openapi's schemas. Compiled once per process.

use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::openapi;

/// A kind the validator knows, with its compiled schema.
pub struct Kind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespaced: bool,
    /// The root object's structural schema (`openAPIV3Schema`).
    pub schema: Value,
    /// A built-in kind (its schema comes from k8s-openapi, not a CRD).
    pub builtin: bool,
    pub(super) values: jsonschema::Validator,
    pub(super) cel: Option<kube::core::cel::CompiledSchema>,
}

impl Kind {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_cel_rules(&self) -> bool {
        self.cel.is_some()
    }
}

/// Every kind validated.
pub fn kinds() -> &'static [Kind] {
    static KINDS: OnceLock<Vec<Kind>> = OnceLock::new();
    KINDS.get_or_init(build)
}

/// The kind of an object with this apiVersion and kind, if validated.
pub fn kind_of(api_version: &str, kind: &str) -> Option<&'static Kind> {
    kinds()
        .iter()
        .find(|k| k.kind == kind && k.api_version() == api_version)
}

/// `ObjectMeta`'s schema: what `metadata` may hold.
pub fn object_meta() -> &'static Value {
    static META: OnceLock<Value> = OnceLock::new();
    META.get_or_init(builtin_schema::<ObjectMeta>)
}

/// The schema of the field at `path` (Null where the schema says nothing).
pub fn at<'a>(schema: &'a Value, path: &[super::Seg]) -> &'a Value {
    let mut s = schema;
    for seg in path {
        s = match seg {
            super::Seg::Key(k) => s
                .get("properties")
                .and_then(|p| p.get(k))
                .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
                .unwrap_or(&Value::Null),
            super::Seg::Index(_) => s.get("items").unwrap_or(&Value::Null),
        };
    }
    s
}

fn build() -> Vec<Kind> {
    let mut out = Vec::new();
    for crd in converge_api::crds::all() {
        for version in &crd.spec.versions {
            let schema = version
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .map(|s| serde_json::to_value(s).expect("a CRD schema serializes"))
                .unwrap_or_else(|| serde_json::json!({"type": "object"}));
            out.push(kind(
                &crd.spec.group,
                &version.name,
                &crd.spec.names.kind,
                crd.spec.scope == "Namespaced",
                schema,
                false,
            ));
        }
    }
    out.push(kind(
        "",
        "v1",
        "Secret",
        true,
        builtin_schema::<Secret>(),
        true,
    ));
    out.push(kind(
        "",
        "v1",
        "ConfigMap",
        true,
        builtin_schema::<ConfigMap>(),
        true,
    ));
    out.push(kind(
        "",
        "v1",
        "Namespace",
        false,
        builtin_schema::<Namespace>(),
        true,
    ));
    out
}

fn kind(
    group: &str,
    version: &str,
    name: &str,
    namespaced: bool,
    schema: Value,
    builtin: bool,
) -> Kind {
    let values = openapi::compile(&schema);
    let cel = has_rules(&schema).then(|| {
        let compiled = kube::core::cel::compile_schema(&schema);
        assert!(
            !compiled.has_errors(),
            "the CEL rules of {name} compile: {:?}",
            compiled.compilation_errors()
        );
        compiled
    });
    Kind {
        group: group.into(),
        version: version.into(),
        kind: name.into(),
        namespaced,
        schema,
        builtin,
        values,
        cel,
    }
}

fn has_rules(v: &Value) -> bool {
    match v {
        Value::Object(o) => o.contains_key("x-kubernetes-validations") || o.values().any(has_rules),
        Value::Array(a) => a.iter().any(has_rules),
        _ => false,
    }
}

/// The structural schema of a k8s-openapi type, generated as kube generates a CRD's.
fn builtin_schema<T: schemars::JsonSchema>() -> Value {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .into_generator();
    let mut schema =
        serde_json::to_value(generator.into_root_schema_for::<T>()).expect("a schema serializes");
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    // apiVersion, kind and metadata are the apiserver's, checked apart.
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.remove("metadata");
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crd_and_the_builtin_kinds_are_known() {
        for crd in converge_api::crds::all() {
            let k = kind_of("converge.dev/v1alpha1", &crd.spec.names.kind).unwrap();
            assert!(k.namespaced && !k.builtin);
            assert!(k.has_cel_rules(), "{}", k.kind);
        }
        for name in ["Secret", "ConfigMap", "Namespace"] {
            let k = kind_of("v1", name).unwrap();
            assert!(k.builtin);
            assert!(
                k.schema["properties"].as_object().unwrap().len() >= 2,
                "{name}: {}",
                k.schema
            );
        }
        assert!(kind_of("v1", "Pod").is_none());
        let meta = object_meta()["properties"].as_object().unwrap();
        for field in ["name", "namespace", "labels", "annotations", "finalizers"] {
            assert!(meta.contains_key(field), "{field}");
        }
    }
}
