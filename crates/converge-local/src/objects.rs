//! From manifests to the objects loaded into the embedded apiserver: namespaces filled in,
//! Secrets' `stringData` folded into `data` (as the apiserver does), connections pointed at the
//! built-in sandboxes, and the credentials those sandboxes must accept.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::manifests::{Located, Manifest};
use converge_engine::connections::credentials;
use converge_platforms::Auth;
use converge_sandbox::ops::Credential;

/// The platform blocks a PlatformConnection can have, named as its spec names them.
pub const PLATFORMS: [&str; 5] = converge_core::Platform::IDS;

/// Kind, namespace and name: what identifies an object across reloads.
pub type Id = (String, String, String);

pub fn id(obj: &Value) -> Id {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        s(&obj["kind"]),
        s(&obj["metadata"]["namespace"]),
        s(&obj["metadata"]["name"]),
    )
}

/// The objects to load, in load order (Namespaces, Secrets and ConfigMaps before connections
/// before the kinds that use them), as admitted: namespace set, defaults applied.
pub fn from_manifests(loaded: &[Located]) -> Vec<Value> {
    let mut out: Vec<(u8, Value)> = Vec::new();
    for l in loaded {
        let rank = match &l.manifest {
            Manifest::Namespace(_) => 0,
            Manifest::Secret(_) | Manifest::ConfigMap(_) => 1,
            Manifest::Connection(_) => 2,
            Manifest::Project(_) => 3,
            _ => 4,
        };
        let mut value = match &l.manifest {
            Manifest::Secret(_) => fold_string_data(l.object.clone()),
            _ => l.object.clone(),
        };
        // Whatever a manifest says about status, the apiserver keeps its own.
        if l.manifest.is_converge_object()
            && let Some(o) = value.as_object_mut()
        {
            o.remove("status");
        }
        out.push((rank, value));
    }
    out.sort_by_key(|(rank, _)| *rank);
    out.into_iter().map(|(_, v)| v).collect()
}

/// A Secret's `stringData` folded into `data`, as the apiserver does.
fn fold_string_data(mut v: Value) -> Value {
    if let Some(Value::Object(string_data)) = v.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        let data = v["data"].as_object().cloned().unwrap_or_default();
        let mut data = data;
        for (k, text) in string_data {
            let text = text.as_str().unwrap_or_default().to_string();
            data.insert(
                k,
                base64::engine::general_purpose::STANDARD
                    .encode(text)
                    .into(),
            );
        }
        v["data"] = Value::Object(data);
    }
    v
}

/// Points every PlatformConnection at the sandbox of its platform (`endpoints`: platform →
/// the connection endpoint of its sandbox). TLS settings are dropped: sandboxes serve plain
/// HTTP on loopback. Returns "connection: old → new" lines to show.
pub fn point_at_sandboxes(
    objects: &mut [Value],
    endpoints: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut notes = Vec::new();
    for o in objects
        .iter_mut()
        .filter(|o| o["kind"] == "PlatformConnection")
    {
        let Some(platform) = PLATFORMS.iter().find(|p| o["spec"].get(**p).is_some()) else {
            continue;
        };
        let Some(endpoint) = endpoints.get(*platform) else {
            continue;
        };
        let old = o["spec"]["endpoint"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        o["spec"]["endpoint"] = endpoint.clone().into();
        if let Some(spec) = o["spec"].as_object_mut() {
            spec.remove("tls");
            spec.remove("allowInsecureHttp");
        }
        notes.push(format!(
            "{}/{}: {old} → the built-in {platform} sandbox at {endpoint}",
            o["metadata"]["namespace"].as_str().unwrap_or_default(),
            o["metadata"]["name"].as_str().unwrap_or_default(),
        ));
    }
    notes
}

/// The credentials the connections' Secrets hold, per platform, for the sandboxes to accept
/// (besides their defaults). A connection whose Secret is missing or unusable contributes
/// nothing: its reconciler reports the problem as it would in a cluster.
pub fn credentials(objects: &[Value]) -> Vec<(String, Credential)> {
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o["kind"] == "PlatformConnection") {
        let Ok(conn) =
            serde_json::from_value::<converge_api::connection::PlatformConnection>(o.clone())
        else {
            continue;
        };
        let ns = o["metadata"]["namespace"].as_str().unwrap_or_default();
        let secret = objects
            .iter()
            .find(|s| {
                s["kind"] == "Secret"
                    && s["metadata"]["namespace"] == ns
                    && s["metadata"]["name"] == conn.spec.credentials.secret_name.as_str()
            })
            .and_then(|s| serde_json::from_value(s.clone()).ok());
        let Some(platform) = PLATFORMS.iter().find(|p| o["spec"].get(**p).is_some()) else {
            continue;
        };
        let credential = match credentials::from_secret(&conn.spec.credentials, secret.as_ref()) {
            Ok(Auth::Bearer(token)) => Credential::Bearer {
                token: token.expose().to_string(),
            },
            Ok(Auth::Basic { username, password }) => Credential::Basic {
                username,
                password: password.expose().to_string(),
            },
            Err(_) => continue,
        };
        out.push((platform.to_string(), credential));
    }
    out
}

/// The namespaces the objects live in, as Namespace objects.
pub fn namespaces(objects: &[Value]) -> Vec<Value> {
    let mut names: Vec<&str> = objects
        .iter()
        .filter_map(|o| o["metadata"]["namespace"].as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|n| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifests;

    fn examples() -> Vec<Value> {
        let loaded = manifests::load(
            &std::path::PathBuf::from(
                std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"),
            )
            .join("../../examples"),
            "demo",
        )
        .unwrap();
        assert!(loaded.is_ok(), "{:?}", loaded.errors);
        from_manifests(&loaded.objects)
    }

    #[test]
    fn examples_load_in_dependency_order_into_the_default_namespace() {
        let objects = examples();
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        let first_connection = kinds
            .iter()
            .position(|k| *k == "PlatformConnection")
            .unwrap();
        let last_secret = kinds.iter().rposition(|k| *k == "Secret").unwrap();
        let first_project = kinds.iter().position(|k| *k == "Project").unwrap();
        let first_component = kinds.iter().position(|k| *k == "Component").unwrap();
        assert!(last_secret < first_connection && first_connection < first_project);
        assert!(first_project < first_component);
        assert!(objects.iter().all(|o| o["metadata"]["namespace"] == "demo"));
        let secret = objects.iter().find(|o| o["kind"] == "Secret").unwrap();
        assert!(secret.get("stringData").is_none());
        assert!(secret["data"].as_object().is_some_and(|d| !d.is_empty()));
        assert_eq!(namespaces(&objects).len(), 1);
    }

    #[test]
    fn connections_point_at_the_sandboxes_and_their_secrets_are_accepted() {
        let mut objects = examples();
        let endpoints: BTreeMap<String, String> = PLATFORMS
            .iter()
            .map(|p| (p.to_string(), format!("http://127.0.0.1:1/{p}")))
            .collect();
        let notes = point_at_sandboxes(&mut objects, &endpoints);
        assert_eq!(notes.len(), 5);
        for o in objects.iter().filter(|o| o["kind"] == "PlatformConnection") {
            assert!(
                o["spec"]["endpoint"]
                    .as_str()
                    .unwrap()
                    .starts_with("http://127.0.0.1:1/")
            );
        }
        let creds = credentials(&objects);
        let platforms: Vec<&str> = creds.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(platforms.len(), 5, "{platforms:?}");
        assert!(creds.iter().any(|(p, c)| p == "opschain"
            && matches!(c, Credential::Basic { username, .. } if username == "sandbox-user")));
    }
}
