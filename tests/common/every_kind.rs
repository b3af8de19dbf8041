//! One object of every kind on every platform, for tests that need a namespace full of them.

#![allow(dead_code)]

use serde_json::{Value, json};

pub const PIPELINE: &str = "jobs:\n  - name: deploy\n    plan:\n      - task: deploy\n        config:\n          platform: linux\n          run: {path: /bin/true}\n";
pub fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": kind,
           "metadata": {"name": name}, "spec": spec})
}

pub fn openapi(title: &str, server: &str) -> String {
    format!(
        "openapi: 3.0.1\ninfo:\n  title: {title}\n  version: 1.0.0\nservers:\n  - url: {server}\npaths:\n  /items:\n    get:\n      responses:\n        \"200\":\n          description: ok\n"
    )
}

/// One object of every kind on every platform that has it; every platform name contains
/// `marker` (except the Choreo project: Choreo cannot delete projects, see the README).
pub fn everything(marker: &str, policy: &str) -> Vec<Value> {
    let m = marker;
    let with = |mut spec: Value, conn: &str| {
        spec["connectionRef"] = json!({"name": conn});
        spec["deletionPolicy"] = json!(policy);
        spec
    };
    vec![
        // Cycloid: project → component (with a pipeline) → workflow building its job.
        object(
            "Project",
            "cy-proj",
            with(
                json!({"cycloid": {"canonical": format!("{m}-cy"),
            "name": m, "configRepositoryCanonical": "acme-config",
            "environments": [{"canonical": "staging"}]}}),
                "cycloid",
            ),
        ),
        object(
            "Component",
            "cy-api",
            with(
                json!({"projectRef": {"name": "cy-proj"},
            "cycloid": {"canonical": format!("{m}-cy-api"), "name": "API", "environment": "staging",
                "stackRef": "cycloidio:stack-docker", "useCase": "default",
                "pipelines": [{"name": format!("{m}-cy-api-deploy"), "config": PIPELINE, "paused": false}]}}),
                "cycloid",
            ),
        ),
        object(
            "Workflow",
            "cy-build",
            with(
                json!({"projectRef": {"name": "cy-proj"},
            "cycloid": {"componentRef": {"name": "cy-api"}, "pipeline": format!("{m}-cy-api-deploy"),
                "job": "deploy"}}),
                "cycloid",
            ),
        ),
        // OpsChain: project → workflow.
        object(
            "Project",
            "oc-proj",
            with(
                json!({"opschain": {"code": format!("{m}_oc"),
            "name": m, "projectType": "Enterprise",
            "environments": [{"code": "dev", "name": "Dev"}]}}),
                "opschain",
            ),
        ),
        object(
            "Workflow",
            "oc-release",
            with(
                json!({"projectRef": {"name": "oc-proj"},
            "opschain": {"code": format!("{m}_release"), "name": format!("{m} release"),
                "steps": [{"type": "change", "name": "deploy", "action": "deploy",
                    "target": format!("/projects/{m}_oc/environments/dev")}]}}),
                "opschain",
            ),
        ),
        // Choreo: project (left in place by design) → component.
        object(
            "Project",
            "ch-proj",
            with(
                json!({"choreo": {"name": format!("left-{}", m.len())}}),
                "choreo",
            ),
        ),
        object(
            "Component",
            "ch-orders",
            with(
                json!({"projectRef": {"name": "ch-proj"},
            "choreo": {"name": format!("{m}-orders"), "type": "Service",
                "repoUrl": "https://github.com/acme/orders", "branch": "main"}}),
                "choreo",
            ),
        ),
        // Frends and API7: API specs and a gateway application.
        object(
            "ApiSpec",
            "fr-spec",
            with(
                json!({"definition": {"inline": openapi(&format!("{m} pets"), &format!("/api/{m}/v1"))},
            "frends": {"basePath": format!("/api/{m}/v1")}}),
                "frends",
            ),
        ),
        object(
            "ApiSpec",
            "a7-spec",
            with(
                json!({"definition": {"inline": openapi(&format!("{m}-inventory"), "http://inv.internal:8080")},
            "api7": {}}),
                "api7",
            ),
        ),
        object(
            "GatewayApplication",
            "a7-app",
            with(
                json!({"name": format!("{m}-app"),
            "hosts": [format!("{m}.acme.test")], "pathPrefix": format!("/{m}"),
            "upstreams": [{"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]}],
            "defaultUpstreamVersion": "v1"}),
                "api7",
            ),
        ),
    ]
}
