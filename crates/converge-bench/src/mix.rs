//! The objects a benchmark creates (pure): a realistic mix of kinds and platforms, in units of
//! ten where every reference points at an object created earlier in the same unit.

use serde_json::{Value, json};

/// How many objects of each kind a unit of ten holds, for the report.
pub const UNIT: usize = 10;

/// The `i`th object of the mix (0-based), as a manifest.
pub fn object(i: usize) -> Value {
    let u = i / UNIT;
    let (kind, name, spec) = match i % UNIT {
        0 => (
            "Project",
            format!("oc-{u}"),
            json!({"connectionRef": {"name": "opschain"},
                   "opschain": {"code": format!("bench_oc_{u}"), "name": format!("Bench {u}"),
                                "projectType": "Enterprise",
                                "environments": [{"code": "dev"}, {"code": "prod"}]}}),
        ),
        1 => (
            "Workflow",
            format!("wf-{u}"),
            json!({"connectionRef": {"name": "opschain"}, "projectRef": {"name": format!("oc-{u}")},
                   "opschain": {"code": format!("release_{u}"), "name": format!("Release {u}"),
                                "publish": true,
                                "steps": [{"type": "change", "name": "deploy",
                                           "target": format!("/projects/bench_oc_{u}/environments/dev"),
                                           "action": "deploy"}]}}),
        ),
        2 => (
            "Project",
            format!("cy-{u}"),
            json!({"connectionRef": {"name": "cycloid"},
                   "cycloid": {"canonical": format!("bench-cy-{u}"), "name": format!("Bench {u}"),
                               "configRepositoryCanonical": "acme-config",
                               "environments": [{"canonical": "staging"}, {"canonical": "prod"}]}}),
        ),
        3 => (
            "Project",
            format!("ch-{u}"),
            json!({"connectionRef": {"name": "choreo"},
                   "choreo": {"name": format!("bench-{u}")}}),
        ),
        4 => (
            "Component",
            format!("chc-{u}"),
            json!({"connectionRef": {"name": "choreo"}, "projectRef": {"name": format!("ch-{u}")},
                   "choreo": {"name": format!("svc-{u}"), "type": "Service",
                              "repoUrl": "https://github.com/acme/orders-service", "branch": "main",
                              "revision": {"branch": "main", "commit": "4f2c9e1"},
                              "deployments": [{"environment": "Development"}]}}),
        ),
        5 => (
            "ApiSpec",
            format!("fr-{u}"),
            json!({"connectionRef": {"name": "frends"},
                   "definition": {"inline": openapi(&format!("Bench Orders {u}"), &format!("/api/bench-{u}/v1"))},
                   "frends": {"basePath": format!("/api/bench-{u}/v1"),
                              "publish": {"changeDescription": "bench"}}}),
        ),
        6 => (
            "ApiSpec",
            format!("a7-{u}"),
            json!({"connectionRef": {"name": "api7"},
                   "definition": {"inline": openapi(&format!("bench-import-{u}"), &format!("https://import-{u}.bench.test"))},
                   "api7": {}}),
        ),
        7 | 8 => {
            let name = format!("gw-{u}-{}", i % UNIT);
            (
                "GatewayApplication",
                name.clone(),
                json!({"connectionRef": {"name": "api7"}, "name": name,
                       "hosts": [format!("{name}.bench.test")], "pathPrefix": format!("/{name}"),
                       "upstreams": [{"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]}],
                       "defaultUpstreamVersion": "v1",
                       "apis": [{"name": "list", "methods": ["GET"], "paths": [{"path": "/items"}]}]}),
            )
        }
        _ => (
            "Project",
            format!("cy2-{u}"),
            json!({"connectionRef": {"name": "cycloid"},
                   "cycloid": {"canonical": format!("bench-cy2-{u}"), "name": format!("Bench two {u}"),
                               "configRepositoryCanonical": "acme-config"}}),
        ),
    };
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": kind,
           "metadata": {"name": name, "labels": {"converge.dev/bench": "true"}}, "spec": spec})
}

fn openapi(title: &str, base: &str) -> String {
    format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\nservers:\n  - url: {base}\n\
         paths:\n  /items:\n    get:\n      responses:\n        \"200\":\n          description: ok\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_point_backwards_within_a_unit() {
        let objects: Vec<Value> = (0..30).map(object).collect();
        for (i, o) in objects.iter().enumerate() {
            if let Some(r) = o["spec"]["projectRef"]["name"].as_str() {
                assert!(
                    objects[..i]
                        .iter()
                        .any(|p| p["kind"] == "Project" && p["metadata"]["name"] == r),
                    "object {i} refers to {r} before it exists"
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_every_kind_is_in_the_mix() {
        let objects: Vec<Value> = (0..100).map(object).collect();
        let mut names: Vec<_> = objects
            .iter()
            .map(|o| format!("{}/{}", o["kind"], o["metadata"]["name"]))
            .collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 100);
        for kind in [
            "Project",
            "Component",
            "ApiSpec",
            "GatewayApplication",
            "Workflow",
        ] {
            assert!(objects.iter().any(|o| o["kind"] == kind), "{kind}");
        }
    }

    #[test]
    fn every_object_passes_the_crds_schema_types_and_cel_rules() {
        for i in 0..UNIT {
            let o = object(i);
            let yaml = serde_yaml_ng::to_string(&o).unwrap();
            let parsed =
                converge_local::manifests::parse(&yaml, std::path::Path::new("bench"), "bench");
            assert!(
                parsed.is_ok() && parsed.objects.len() == 1,
                "object {i} ({}): {:?}",
                o["kind"],
                parsed.errors
            );
        }
    }
}
