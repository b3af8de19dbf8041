//! Reading Converge objects from YAML files: the input of `converge local` and `converge plan`,
//! and what the example tests check.

pub mod yaml;

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::apispec::crd::ApiSpec;
use crate::component::crd::Component;
use crate::connection::crd::PlatformConnection;
use crate::gateway::crd::GatewayApplication;
use crate::project::crd::Project;
use crate::workflow::crd::Workflow;

/// One object from a manifest file.
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
    /// Anything else (a Namespace, a Deployment...): not Converge's business.
    Other {
        api_version: String,
        kind: String,
    },
}

/// A manifest and where it came from.
#[derive(Clone, Debug)]
pub struct Located {
    pub source: PathBuf,
    /// 0-based index of the YAML document in the file.
    pub document: usize,
    pub manifest: Manifest,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, document {document}: {message}")]
    Invalid {
        path: PathBuf,
        document: usize,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
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
            Manifest::Other { api_version, kind } => format!("{kind} ({api_version})"),
        }
    }

    /// The platform block a Converge object sets, if it is one.
    pub fn platform(&self) -> Option<&'static str> {
        match self {
            Manifest::Connection(o) => {
                let s = &o.spec;
                pick(&[
                    (s.choreo.is_some(), "choreo"),
                    (s.cycloid.is_some(), "cycloid"),
                    (s.frends.is_some(), "frends"),
                    (s.api7.is_some(), "api7"),
                    (s.opschain.is_some(), "opschain"),
                ])
            }
            Manifest::Project(o) => {
                let s = &o.spec;
                pick(&[
                    (s.choreo.is_some(), "choreo"),
                    (s.cycloid.is_some(), "cycloid"),
                    (s.opschain.is_some(), "opschain"),
                ])
            }
            Manifest::Component(o) => pick(&[
                (o.spec.choreo.is_some(), "choreo"),
                (o.spec.cycloid.is_some(), "cycloid"),
            ]),
            Manifest::ApiSpec(o) => {
                let s = &o.spec;
                pick(&[
                    (s.frends.is_some(), "frends"),
                    (s.api7.is_some(), "api7"),
                    (s.choreo.is_some(), "choreo"),
                ])
            }
            Manifest::Gateway(_) => Some("api7"),
            Manifest::Workflow(o) => pick(&[
                (o.spec.opschain.is_some(), "opschain"),
                (o.spec.cycloid.is_some(), "cycloid"),
            ]),
            _ => None,
        }
    }

    /// Checks the CRDs' CEL rules without an apiserver, as far as they can be evaluated
    /// client-side. Returns the messages of the rules that failed.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        fn cel<T: kube::CustomResourceExt + serde::Serialize>(o: &T) -> Result<(), Vec<String>> {
            kube::core::cel::validate_cel(o)
                .map_err(|e| e.into_iter().map(|x| x.to_string()).collect())
        }
        match self {
            Manifest::Connection(o) => cel(o),
            Manifest::Project(o) => cel(o),
            Manifest::Component(o) => cel(o),
            Manifest::ApiSpec(o) => cel(o),
            Manifest::Gateway(o) => cel(o),
            Manifest::Workflow(o) => cel(o),
            _ => Ok(()),
        }
    }

    /// Checks the CEL transition rules (immutable fields) of an update from `old` to `self`.
    pub fn validate_update(&self, old: &Manifest) -> Result<(), Vec<String>> {
        fn cel<T: kube::CustomResourceExt + serde::Serialize>(
            o: &T,
            old: &T,
        ) -> Result<(), Vec<String>> {
            kube::core::cel::validate_cel_update(o, old)
                .map_err(|e| e.into_iter().map(|x| x.to_string()).collect())
        }
        match (self, old) {
            (Manifest::Connection(o), Manifest::Connection(p)) => cel(o, p),
            (Manifest::Project(o), Manifest::Project(p)) => cel(o, p),
            (Manifest::Component(o), Manifest::Component(p)) => cel(o, p),
            (Manifest::ApiSpec(o), Manifest::ApiSpec(p)) => cel(o, p),
            (Manifest::Gateway(o), Manifest::Gateway(p)) => cel(o, p),
            (Manifest::Workflow(o), Manifest::Workflow(p)) => cel(o, p),
            _ => Err(vec![format!(
                "{} cannot replace {}",
                self.display_name(),
                old.display_name()
            )]),
        }
    }

    pub fn is_converge_object(&self) -> bool {
        !matches!(
            self,
            Manifest::Secret(_) | Manifest::ConfigMap(_) | Manifest::Other { .. }
        )
    }
}

fn pick(blocks: &[(bool, &'static str)]) -> Option<&'static str> {
    let mut set = blocks.iter().filter(|(on, _)| *on);
    match (set.next(), set.next()) {
        (Some((_, name)), None) => Some(name),
        _ => None,
    }
}

/// Parses every YAML document of one file's content.
pub fn parse(content: &str, source: &Path) -> Result<Vec<Located>, LoadError> {
    let mut out = Vec::new();
    for (document, de) in serde_yaml_ng::Deserializer::from_str(content).enumerate() {
        let invalid = |message: String| LoadError::Invalid {
            path: source.to_path_buf(),
            document,
            message,
        };
        let value = serde_json::Value::deserialize(de).map_err(|e| invalid(e.to_string()))?;
        if value.is_null() {
            continue; // an empty document between two `---`
        }
        let meta: TypeMeta =
            serde_json::from_value(value.clone()).map_err(|e| invalid(e.to_string()))?;
        let manifest = match (meta.api_version.as_str(), meta.kind.as_str()) {
            (v, kind) if v == format!("{}/{}", crate::common::GROUP, crate::common::VERSION) => {
                match kind {
                    "PlatformConnection" => Manifest::Connection(typed(value).map_err(invalid)?),
                    "Project" => Manifest::Project(typed(value).map_err(invalid)?),
                    "Component" => Manifest::Component(typed(value).map_err(invalid)?),
                    "ApiSpec" => Manifest::ApiSpec(typed(value).map_err(invalid)?),
                    "GatewayApplication" => Manifest::Gateway(typed(value).map_err(invalid)?),
                    "Workflow" => Manifest::Workflow(typed(value).map_err(invalid)?),
                    other => return Err(invalid(format!("converge.dev has no kind {other:?}"))),
                }
            }
            (v, _) if v.starts_with(crate::common::GROUP) => {
                return Err(invalid(format!(
                    "unknown apiVersion {v:?}; Converge serves converge.dev/v1alpha1"
                )));
            }
            ("v1", "Secret") => Manifest::Secret(typed(value).map_err(invalid)?),
            ("v1", "ConfigMap") => Manifest::ConfigMap(typed(value).map_err(invalid)?),
            ("", _) | (_, "") => return Err(invalid("apiVersion and kind are required".into())),
            (v, k) => Manifest::Other {
                api_version: v.to_string(),
                kind: k.to_string(),
            },
        };
        out.push(Located {
            source: source.to_path_buf(),
            document,
            manifest,
        });
    }
    Ok(out)
}

fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            e.into_inner().to_string()
        } else {
            format!("{path}: {}", e.into_inner())
        }
    })
}

/// Reads every `.yaml`/`.yml` file under `dir` (recursively, in name order), or one file.
pub fn load(path: &Path) -> Result<Vec<Located>, LoadError> {
    let io = |path: &Path, source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    if path.is_dir() {
        collect(path, &mut files).map_err(|e| io(path, e))?;
    } else {
        files.push(path.to_path_buf());
    }
    let mut out = Vec::new();
    for file in files {
        let content = std::fs::read_to_string(&file).map_err(|e| io(&file, e))?;
        out.extend(parse(&content, &file)?);
    }
    Ok(out)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
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
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    #[test]
    fn every_example_parses_and_passes_the_cel_rules() {
        let loaded = load(&repo("examples")).expect("examples parse");
        let mut kinds = BTreeMap::new();
        for l in &loaded {
            if let Err(e) = l.manifest.validate() {
                panic!(
                    "{} in {}: {e:?}",
                    l.manifest.display_name(),
                    l.source.display()
                );
            }
            if let Manifest::Other { kind, .. } = &l.manifest {
                panic!(
                    "{}: examples/ should hold only Converge objects, Secrets and ConfigMaps, not {kind}",
                    l.source.display()
                );
            }
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
        let loaded = load(&repo("examples")).unwrap();
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

    /// The corpus under tests/invalid is refused by the apiserver in the integration tests; the
    /// cases that a CEL rule refuses must be refused here too, with the same message, so that
    /// `converge local` and `converge plan` catch them without a cluster.
    #[test]
    fn cel_rules_refuse_the_invalid_corpus_client_side() {
        fn messages(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(o) => {
                    if let Some(rules) =
                        o.get("x-kubernetes-validations").and_then(|r| r.as_array())
                    {
                        out.extend(
                            rules
                                .iter()
                                .filter_map(|r| r["message"].as_str().map(String::from)),
                        );
                    }
                    o.values().for_each(|v| messages(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| messages(v, out)),
                _ => {}
            }
        }
        let mut rule_messages = Vec::new();
        messages(
            &serde_json::to_value(crate::crds::all()).unwrap(),
            &mut rule_messages,
        );
        let mut checked = 0;
        for entry in std::fs::read_dir(repo("tests/invalid")).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .expect("first line: # expect: ...");
            if !rule_messages.iter().any(|m| m.contains(expect)) {
                continue; // a schema rule (pattern, enum, required): only the apiserver applies those
            }
            let docs = parse(&text, &path).unwrap();
            let result = match docs.as_slice() {
                [one] => one.manifest.validate(),
                [old, new] => {
                    old.manifest.validate().unwrap_or_else(|e| {
                        panic!("{}: first document invalid: {e:?}", path.display())
                    });
                    new.manifest.validate_update(&old.manifest)
                }
                _ => panic!("{}: one or two documents", path.display()),
            };
            let errors = result
                .err()
                .unwrap_or_else(|| panic!("{}: accepted client-side", path.display()));
            assert!(
                errors.iter().any(|e| e.contains(expect)),
                "{}: {errors:?}",
                path.display()
            );
            checked += 1;
        }
        assert!(checked >= 15, "only {checked} CEL cases checked");
    }

    #[test]
    fn a_document_without_kind_is_refused_with_its_location() {
        let err = parse("apiVersion: v1\n", Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "x.yaml, document 0: apiVersion and kind are required");
    }

    #[test]
    fn a_type_error_names_the_field() {
        let doc = "apiVersion: converge.dev/v1alpha1\nkind: Project\nmetadata: {name: p}\nspec:\n  connectionRef: {name: 3}\n";
        let err = parse(doc, Path::new("p.yaml")).unwrap_err().to_string();
        assert!(err.contains("spec.connectionRef.name"), "{err}");
    }

    #[test]
    fn an_unknown_converge_kind_is_refused() {
        let doc = "apiVersion: converge.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: p}\n";
        let err = parse(doc, Path::new("p.yaml")).unwrap_err().to_string();
        assert!(
            err.contains("converge.dev has no kind \"Pipeline\""),
            "{err}"
        );
    }
}
