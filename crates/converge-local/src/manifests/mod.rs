//! Reading manifests as `kubectl apply -f DIR -R` reads them: the input of `converge local`
//! and `converge plan`, and what the example tests check.
//!
//! Every `.yaml`, `.yml` and `.json` file under the path, in name order; every document of
//! each (YAML read by go-yaml v2's rules, as kubectl does: `yaml.rs`); the items of a `List`
//! expanded. Converge's kinds, Secrets, ConfigMaps and Namespaces are admitted through
//! `crate::validation` (the apiserver's decision, defaults applied); other kinds are listed as
//! skipped; two objects with the same kind, namespace and name are refused, naming both places.
//! Every error names its file, document (1-based) and line.

pub mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use serde_json::Value;

use crate::validation::{self, FieldValidation, Reason, Refusal, Seg};
use converge_api::apispec::ApiSpec;
use converge_api::component::Component;
use converge_api::connection::PlatformConnection;
use converge_api::gateway::GatewayApplication;
use converge_api::kind::Kind;
use converge_api::project::Project;
use converge_api::workflow::Workflow;
use converge_core::Platform;
use yaml::Lines;

/// One object from a manifest file, as Converge reads it.
#[derive(Clone, Debug)]
pub enum Manifest {
    Connection(PlatformConnection),
    Project(Project),
    Component(Component),
    ApiSpec(ApiSpec),
    Gateway(GatewayApplication),
    Workflow(Workflow),
    /// Secrets and ConfigMaps that Converge objects read.
    Secret(Secret),
    ConfigMap(ConfigMap),
    Namespace(Namespace),
}

/// Where an object was declared: file, document (1-based), List item (1-based), and the line
/// of each of its fields.
#[derive(Clone, Debug)]
pub struct Source {
    pub file: PathBuf,
    pub document: usize,
    pub item: Option<usize>,
    lines: Arc<Lines>,
}

impl Source {
    /// The line of a field (or of the nearest enclosing one the document has).
    pub fn line(&self, path: &[Seg]) -> usize {
        self.lines.of(path)
    }

    /// `file:LINE (document N)`, with the List item when there is one.
    pub fn at(&self, path: &[Seg]) -> String {
        let item = self.item.map(|i| format!(", item {i}")).unwrap_or_default();
        format!(
            "{}:{} (document {}{item})",
            self.file.display(),
            self.line(path),
            self.document
        )
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.at(&[]))
    }
}

/// An admitted object and where it came from.
#[derive(Clone, Debug)]
pub struct Located {
    pub source: Source,
    /// As the apiserver would store it: namespace set, defaults applied.
    pub object: Value,
    pub manifest: Manifest,
}

/// A document of a kind Converge does not use.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub source: Source,
    /// `Deployment/web (apps/v1)`.
    pub what: String,
}

/// Everything read from a path.
#[derive(Debug, Default)]
pub struct Loaded {
    pub objects: Vec<Located>,
    pub skipped: Vec<Skipped>,
    /// What the apiserver or kubectl would warn about; nothing is refused for them.
    pub warnings: Vec<String>,
    /// Each refusal, located: `file:LINE (document N): Kind/name: message`.
    pub errors: Vec<String>,
    /// The manifest files read.
    pub files: usize,
}

impl Loaded {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Why there is nothing to converge, if so.
    pub fn nothing_found(&self, path: &Path) -> Option<String> {
        if self.objects.iter().any(|l| l.manifest.is_converge_object()) {
            return None;
        }
        Some(if self.files == 0 {
            format!(
                "no manifests found in {}: looked for .yaml, .yml and .json files",
                path.display()
            )
        } else {
            format!(
                "no Converge objects in {} ({} file(s) read): nothing to converge",
                path.display(),
                self.files
            )
        })
    }

    fn error(&mut self, source: &Source, path: &[Seg], what: &str, message: &str) {
        let what = if what.is_empty() {
            String::new()
        } else {
            format!("{what}: ")
        };
        self.errors
            .push(format!("{}: {what}{message}", source.at(path)));
    }

    /// Records a refusal, one located line per cause.
    pub fn refused(&mut self, source: &Source, what: &str, refusal: &Refusal) {
        for cause in &refusal.causes {
            let message = match refusal.reason {
                Reason::BadRequest if cause.message.starts_with("unknown field ") => {
                    format!("strict decoding error: {}", cause.message)
                }
                _ => cause.message.clone(),
            };
            self.error(source, &cause.path, what, &message);
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {cause}")]
pub struct LoadError {
    path: PathBuf,
    cause: std::io::Error,
}

impl Manifest {
    /// kind/name, as kubectl prints it.
    pub fn display_name(&self) -> String {
        use kube::ResourceExt;
        match self {
            Manifest::Connection(o) => format!("PlatformConnection/{}", o.name_any()),
            Manifest::Project(o) => format!("Project/{}", o.name_any()),
            Manifest::Component(o) => format!("Component/{}", o.name_any()),
            Manifest::ApiSpec(o) => format!("ApiSpec/{}", o.name_any()),
            Manifest::Gateway(o) => format!("GatewayApplication/{}", o.name_any()),
            Manifest::Workflow(o) => format!("Workflow/{}", o.name_any()),
            Manifest::Secret(o) => format!("Secret/{}", o.name_any()),
            Manifest::ConfigMap(o) => format!("ConfigMap/{}", o.name_any()),
            Manifest::Namespace(o) => format!("Namespace/{}", o.name_any()),
        }
    }

    /// The platform block a Converge object sets, if it is one.
    pub fn platform(&self) -> Option<Platform> {
        match self {
            Manifest::Connection(o) => o.spec.platform(),
            Manifest::Project(o) => o.platform(),
            Manifest::Component(o) => o.platform(),
            Manifest::ApiSpec(o) => o.platform(),
            Manifest::Gateway(o) => o.platform(),
            Manifest::Workflow(o) => o.platform(),
            Manifest::Secret(_) | Manifest::ConfigMap(_) | Manifest::Namespace(_) => None,
        }
    }

    pub fn is_converge_object(&self) -> bool {
        !matches!(
            self,
            Manifest::Secret(_) | Manifest::ConfigMap(_) | Manifest::Namespace(_)
        )
    }
}

/// Reads and admits every manifest under `path` (a file or a directory, searched
/// recursively); objects that name no namespace are placed in `namespace`.
pub fn load(path: &Path, namespace: &str) -> Result<Loaded, LoadError> {
    let io = |path: &Path, cause| LoadError {
        path: path.to_path_buf(),
        cause,
    };
    let mut files = Vec::new();
    if path.is_dir() {
        collect(path, &mut files).map_err(|e| io(path, e))?;
    } else {
        std::fs::metadata(path).map_err(|e| io(path, e))?;
        files.push(path.to_path_buf());
    }
    let mut loaded = Loaded::default();
    let mut seen: BTreeMap<(String, String, String, String), Source> = BTreeMap::new();
    for file in files {
        let bytes = std::fs::read(&file).map_err(|e| io(&file, e))?;
        loaded.files += 1;
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(_) => {
                loaded
                    .errors
                    .push(format!("{}: not UTF-8 text", file.display()));
                continue;
            }
        };
        read_file(&text, &file, namespace, &mut loaded, &mut seen);
    }
    Ok(loaded)
}

/// Reads and admits the manifests of one file's text (`file` names it in messages).
pub fn parse(text: &str, file: &Path, namespace: &str) -> Loaded {
    let mut loaded = Loaded {
        files: 1,
        ..Loaded::default()
    };
    read_file(text, file, namespace, &mut loaded, &mut BTreeMap::new());
    loaded
}

fn read_file(
    text: &str,
    file: &Path,
    namespace: &str,
    loaded: &mut Loaded,
    seen: &mut BTreeMap<(String, String, String, String), Source>,
) {
    let json = file.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    let documents = if json {
        json_documents(text)
    } else {
        yaml::documents(text)
    };
    let documents = match documents {
        Ok(d) => d,
        Err(e) => {
            loaded.errors.push(format!(
                "{}:{} (document {}): {} is not valid {}: {}",
                file.display(),
                e.line,
                e.document,
                file.display(),
                if json { "JSON" } else { "YAML" },
                e.message
            ));
            return;
        }
    };
    for doc in documents {
        let source = Source {
            file: file.to_path_buf(),
            document: doc.number,
            item: None,
            lines: Arc::new(doc.lines.clone()),
        };
        for (path, line) in &doc.duplicate_keys {
            loaded.warnings.push(format!(
                "{}:{line} (document {}): {} is set twice; the last value is used, as kubectl does",
                file.display(),
                doc.number,
                validation::render(path)
            ));
        }
        let Some(value) = doc.value else {
            continue; // an empty document
        };
        read_object(value, source, namespace, loaded, seen, 0);
    }
}

/// JSON manifests: one object or several in a row, as kubectl reads them. Lines come from
/// reading the same text as YAML (JSON is YAML's flow style).
fn json_documents(text: &str) -> Result<Vec<yaml::Document>, yaml::SyntaxError> {
    let lines = yaml::documents(text)
        .ok()
        .filter(|d| d.len() == 1)
        .map(|mut d| d.remove(0).lines);
    let mut out = Vec::new();
    for (i, value) in serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .enumerate()
    {
        let value = value.map_err(|e| yaml::SyntaxError {
            document: i + 1,
            line: e.line(),
            message: e.to_string(),
        })?;
        out.push(yaml::Document {
            number: i + 1,
            value: (!value.is_null()).then(|| integral_numbers(value)),
            lines: if i == 0 {
                lines.clone().unwrap_or_default()
            } else {
                Lines::default()
            },
            duplicate_keys: Vec::new(),
        });
    }
    Ok(out)
}

/// kubectl re-encodes what it reads with Go's encoding/json: `1.0` reaches the apiserver as 1.
fn integral_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if n.is_f64() => yaml::float_value(n.as_f64().unwrap_or_default()),
        Value::Array(a) => Value::Array(a.into_iter().map(integral_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

const GROUP_VERSION: &str = "converge.dev/v1alpha1";

fn read_object(
    mut value: Value,
    source: Source,
    namespace: &str,
    loaded: &mut Loaded,
    seen: &mut BTreeMap<(String, String, String, String), Source>,
    depth: usize,
) {
    let Some(obj) = value.as_object() else {
        loaded.error(
            &source,
            &[],
            "",
            "a manifest must be a mapping (an object), not a list or a value",
        );
        return;
    };
    let api_version = obj
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut missing = Vec::new();
    if api_version.is_empty() {
        missing.push("apiVersion not set");
    }
    if kind.is_empty() {
        missing.push("kind not set");
    }
    if !missing.is_empty() {
        loaded.error(
            &source,
            &[],
            "",
            &format!("error validating data: [{}]", missing.join(", ")),
        );
        return;
    }
    // A List: its items, each its own object (kubectl flattens nested Lists too).
    if kind.ends_with("List")
        && let Some(items) = obj.get("items").and_then(Value::as_array)
    {
        if depth > 8 {
            loaded.error(&source, &[], &kind, "Lists nested too deep");
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let path = [Seg::Key("items".into()), Seg::Index(i)];
            let item_source = Source {
                file: source.file.clone(),
                document: source.document,
                item: Some(i + 1),
                lines: Arc::new(source.lines.subtree(&path)),
            };
            read_object(
                item.clone(),
                item_source,
                namespace,
                loaded,
                seen,
                depth + 1,
            );
        }
        return;
    }
    let name = value["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let what = format!("{kind}/{name}");
    let Some(k) = validation::kind_of(&api_version, &kind) else {
        if api_version.split('/').next() == Some(converge_api::common::GROUP) {
            loaded.error(
                &source,
                &[],
                &what,
                &format!("no matches for kind {kind:?} in version {api_version:?}: Converge serves {} in {GROUP_VERSION}",
                    validation::kinds().iter().filter(|k| !k.builtin).map(|k| k.kind.as_str()).collect::<Vec<_>>().join(", ")),
            );
        } else {
            loaded.skipped.push(Skipped {
                source,
                what: format!("{what} ({api_version})"),
            });
        }
        return;
    };
    // The namespace comes from the request when the manifest names none, as with `kubectl -n`.
    if k.namespaced {
        if value["metadata"]["namespace"]
            .as_str()
            .is_none_or(str::is_empty)
        {
            if !value["metadata"].is_object() && value["metadata"].is_null() {
                value["metadata"] = Value::Object(Default::default());
            }
            if value["metadata"].is_object() {
                value["metadata"]["namespace"] = namespace.into();
            }
        }
    } else if let Some(m) = value["metadata"].as_object_mut() {
        m.remove("namespace");
    }
    let ns = value["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // `kubectl apply` sends no field set to null (null means "remove" in its patches).
    drop_nulls(&mut value);
    let admitted = match validation::admit(value, None, FieldValidation::Strict) {
        Ok(a) => a,
        Err(refusal) => {
            loaded.refused(&source, &what, &refusal);
            return;
        }
    };
    for w in admitted.warnings {
        loaded.warnings.push(format!("{source}: {what}: {w}"));
    }
    let key = (k.group.clone(), kind.clone(), ns.clone(), name.clone());
    if let Some(first) = seen.get(&key) {
        let in_ns = if ns.is_empty() {
            String::new()
        } else {
            format!(" in namespace {ns}")
        };
        loaded.error(
            &source,
            &[],
            &what,
            &format!(
                "declared twice{in_ns}: also at {first}; the apiserver keeps one object per kind, namespace and name"
            ),
        );
        return;
    }
    seen.insert(key, source.clone());
    match typed(&admitted.object) {
        Ok(manifest) => loaded.objects.push(Located {
            source,
            object: admitted.object,
            manifest,
        }),
        Err(e) => loaded.error(
            &source,
            &[],
            &what,
            &format!("the apiserver would accept it but Converge cannot read it ({e}); this is a bug in Converge's CRDs: please report it"),
        ),
    }
}

fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.retain(|_, v| !v.is_null());
            o.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

fn typed(v: &Value) -> Result<Manifest, String> {
    fn de<T: serde::de::DeserializeOwned>(v: &Value) -> Result<T, String> {
        serde_path_to_error::deserialize(v.clone()).map_err(|e| {
            let path = e.path().to_string();
            format!("{path}: {}", e.into_inner())
        })
    }
    let kind = v["kind"].as_str().unwrap_or_default();
    Ok(match kind {
        "PlatformConnection" => Manifest::Connection(de(v)?),
        "Project" => Manifest::Project(de(v)?),
        "Component" => Manifest::Component(de(v)?),
        "ApiSpec" => Manifest::ApiSpec(de(v)?),
        "GatewayApplication" => Manifest::Gateway(de(v)?),
        "Workflow" => Manifest::Workflow(de(v)?),
        "Secret" => Manifest::Secret(de(v)?),
        "ConfigMap" => Manifest::ConfigMap(de(v)?),
        "Namespace" => Manifest::Namespace(de(v)?),
        other => return Err(format!("no typed form for {other}")),
    })
}

/// Manifest files under `dir`, recursively, in name order.
fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn repo(path: &str) -> PathBuf {
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("../..")
            .join(path)
    }

    fn examples() -> Loaded {
        let loaded = load(&repo("examples"), "default").expect("examples read");
        assert!(loaded.is_ok(), "{:#?}", loaded.errors);
        loaded
    }

    #[test]
    fn every_example_is_admitted_as_the_apiserver_would() {
        let loaded = examples();
        assert!(
            loaded.skipped.is_empty() && loaded.warnings.is_empty(),
            "examples/ holds only what Converge uses: {:?} {:?}",
            loaded.skipped,
            loaded.warnings
        );
        let mut kinds = BTreeMap::new();
        for l in &loaded.objects {
            *kinds
                .entry(
                    l.manifest
                        .display_name()
                        .split('/')
                        .next()
                        .unwrap()
                        .to_string(),
                )
                .or_insert(0) += 1;
        }
        for kind in [
            "PlatformConnection",
            "Project",
            "Component",
            "ApiSpec",
            "GatewayApplication",
            "Workflow",
            "Secret",
        ] {
            assert!(
                kinds.contains_key(kind),
                "examples/ has no {kind}: {kinds:?}"
            );
        }
    }

    /// Every reference in the examples names an object the examples declare, on the same platform,
    /// so `kubectl apply -f examples/` is self-contained.
    #[test]
    fn example_references_resolve() {
        let loaded = examples().objects;
        let find = |name: &str, f: fn(&Manifest) -> Option<&str>| {
            loaded.iter().find(|l| f(&l.manifest) == Some(name))
        };
        fn connection(m: &Manifest) -> Option<&str> {
            match m {
                Manifest::Connection(c) => c.metadata.name.as_deref(),
                _ => None,
            }
        }
        fn secret(m: &Manifest) -> Option<&str> {
            match m {
                Manifest::Secret(s) => s.metadata.name.as_deref(),
                _ => None,
            }
        }
        fn project(m: &Manifest) -> Option<&str> {
            match m {
                Manifest::Project(p) => p.metadata.name.as_deref(),
                _ => None,
            }
        }
        for l in &loaded {
            let m = &l.manifest;
            let (conn, proj) = match m {
                Manifest::Connection(c) => {
                    assert!(
                        find(&c.spec.credentials.secret_name, secret).is_some(),
                        "{}: no Secret",
                        m.display_name()
                    );
                    continue;
                }
                Manifest::Project(o) => (&o.spec.connection_ref.name, None),
                Manifest::Component(o) => {
                    (&o.spec.connection_ref.name, Some(&o.spec.project_ref.name))
                }
                Manifest::ApiSpec(o) => (&o.spec.connection_ref.name, None),
                Manifest::Gateway(o) => (&o.spec.connection_ref.name, None),
                Manifest::Workflow(o) => {
                    (&o.spec.connection_ref.name, Some(&o.spec.project_ref.name))
                }
                _ => continue,
            };
            let c = find(conn, connection)
                .unwrap_or_else(|| panic!("{}: no connection {conn}", m.display_name()));
            assert_eq!(
                c.manifest.platform(),
                m.platform(),
                "{}: connection {conn} is for another platform",
                m.display_name()
            );
            if let Some(p) = proj {
                let p = find(p, project)
                    .unwrap_or_else(|| panic!("{}: no project {p}", m.display_name()));
                assert_eq!(
                    p.manifest.platform(),
                    m.platform(),
                    "{}: project on another platform",
                    m.display_name()
                );
            }
        }
    }

    /// The corpus under tests/invalid is refused by the apiserver in the integration tests
    /// (tests/crds.rs) with the message on its first line; it is refused here with the same
    /// message, schema rules and CEL rules alike, transition rules on the second document.
    #[test]
    fn the_invalid_corpus_is_refused_with_the_apiservers_message() {
        let mut checked = 0;
        for entry in std::fs::read_dir(repo("tests/invalid")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .expect("first line: # expect: ...");
            let docs = yaml::documents(&text).unwrap();
            let values: Vec<Value> = docs.into_iter().filter_map(|d| d.value).collect();
            let admit = |v: &Value, old: Option<&Value>| {
                let mut v = v.clone();
                v["metadata"]["namespace"] = "ns".into();
                validation::admit(v, old, FieldValidation::Strict)
            };
            let result = match values.as_slice() {
                [one] => admit(one, None).map(|_| ()),
                [old, new] => {
                    let old = admit(old, None)
                        .unwrap_or_else(|e| {
                            panic!("{}: first document refused: {e}", path.display())
                        })
                        .object;
                    let mut new = new.clone();
                    new["metadata"]["namespace"] = "ns".into();
                    admit(&new, Some(&old)).map(|_| ())
                }
                _ => panic!("{}: one or two documents", path.display()),
            };
            let refusal = result.expect_err(&format!("{}: admitted", path.display()));
            assert!(
                refusal.to_string().contains(expect),
                "{}:\n  expected: {expect}\n  got: {refusal}",
                path.display()
            );
            checked += 1;
        }
        assert!(checked >= 30, "only {checked} cases");
    }

    fn one(text: &str) -> Loaded {
        parse(text, Path::new("m.yaml"), "default")
    }

    #[test]
    fn every_error_names_file_document_and_line() {
        let l = one(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\napiVersion: converge.dev/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec:\n  connectionRef: {name: c}\n  deletionpolicy: Orphan\n  cycloid:\n    canonical: Bad_Canonical\n    name: P\n    configRepositoryCanonical: cfg\n",
        );
        assert_eq!(l.objects.len(), 1);
        assert_eq!(
            l.errors,
            vec!["m.yaml:10 (document 2): Project/p: strict decoding error: unknown field \"spec.deletionpolicy\"".to_string()]
        );
        let l = one(
            "apiVersion: converge.dev/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec:\n  connectionRef: {name: c}\n  cycloid:\n    canonical: Bad_Canonical\n    name: P\n    configRepositoryCanonical: cfg\n",
        );
        assert_eq!(l.errors.len(), 1, "{:?}", l.errors);
        assert!(
            l.errors[0].starts_with("m.yaml:7 (document 1): Project/p: spec.cycloid.canonical: Invalid value: \"Bad_Canonical\": spec.cycloid.canonical in body should match"),
            "{}",
            l.errors[0]
        );
    }

    #[test]
    fn a_document_without_kind_is_refused_with_its_location() {
        let l = one("a: 1\n---\napiVersion: v1\n");
        assert_eq!(
            l.errors,
            vec![
                "m.yaml:1 (document 1): error validating data: [apiVersion not set, kind not set]"
                    .to_string(),
                "m.yaml:3 (document 2): error validating data: [kind not set]".to_string(),
            ]
        );
    }

    #[test]
    fn an_unknown_converge_kind_is_refused_and_other_kinds_are_skipped() {
        let l = one(
            "apiVersion: converge.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: p}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        );
        assert_eq!(l.errors.len(), 1);
        assert!(
            l.errors[0]
                .contains("no matches for kind \"Pipeline\" in version \"converge.dev/v1alpha1\""),
            "{:?}",
            l.errors
        );
        assert_eq!(l.skipped.len(), 1);
        assert_eq!(l.skipped[0].what, "Deployment/web (apps/v1)");
        assert_eq!(l.skipped[0].source.to_string(), "m.yaml:5 (document 2)");
    }

    #[test]
    fn list_items_are_objects_of_their_own_and_json_is_read() {
        let l = one(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n  data: {k: v}\n",
        );
        assert_eq!(l.objects.len(), 1);
        assert_eq!(l.errors.len(), 1, "{:?}", l.errors);
        assert!(l.errors.iter().any(|e| e.starts_with("m.yaml:7 (document 1, item 2): ConfigMap/a: declared twice in namespace default: also at m.yaml:4 (document 1, item 1)")), "{:?}", l.errors);
        let j = parse(
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n \"metadata\": {\"name\": \"j\"}, \"data\": {\"k\": \"v\"}}\n",
            Path::new("c.json"),
            "ns",
        );
        assert!(j.is_ok(), "{:?}", j.errors);
        assert_eq!(j.objects[0].object["metadata"]["namespace"], "ns");
    }

    #[test]
    fn defaults_are_applied_as_the_apiserver_applies_them() {
        let l = one(
            "apiVersion: converge.dev/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec:\n  connectionRef: {name: c}\n  opschain: {code: x, name: X}\n",
        );
        assert!(l.is_ok(), "{:?}", l.errors);
        let crd_defaults = converge_api::crds::all();
        let _ = crd_defaults;
        assert_eq!(
            l.objects[0].object["status"],
            serde_json::json!({"observedGeneration": 0})
        );
    }
}
