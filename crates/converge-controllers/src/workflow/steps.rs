//! The spec's steps as OpsChain takes them, and whether the platform's steps still say the same
//! (pure).
//!
//! The CRD spells steps the Kubernetes way (camelCase, `steps`/`parallel` for stages); OpsChain
//! wants `requires_approval_from`, `children` and `run_as`. Comparison looks only at what the
//! spec writes, so keys the platform adds to a stored step are not fought over.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use converge_api::workflow::{OpsChainStep, StepType};

/// The steps as OpsChain's create and update take them. A nested stage step that does not
/// read as a step is an error a person must fix (its message names where it is).
pub fn to_opschain(steps: &[OpsChainStep]) -> Result<Vec<Value>, String> {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| step(s, &format!("opschain.steps[{i}]")))
        .collect()
}

fn step(s: &OpsChainStep, at: &str) -> Result<Value, String> {
    let mut out = Map::new();
    let kind = match s.type_ {
        StepType::Change => "change",
        StepType::Wait => "wait",
        StepType::Workflow => "workflow",
        StepType::Stage => "stage",
    };
    out.insert("type".into(), json!(kind));
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(v) = value {
            out.insert(key.into(), v);
        }
    };
    put("name", s.name.clone().map(Value::String));
    put("action", s.action.clone().map(Value::String));
    put("target", s.target.clone().map(Value::String));
    put(
        "requires_approval_from",
        s.requires_approval_from.clone().map(Value::String),
    );
    put("version", s.version.map(|v| json!(v)));
    put(
        "property_overrides",
        s.property_overrides.clone().map(Value::Object),
    );
    if s.type_ == StepType::Stage {
        let run_as = if s.parallel == Some(true) {
            "parallel"
        } else {
            "sequential"
        };
        out.insert("run_as".into(), json!(run_as));
        let mut children = Vec::new();
        for (i, child) in s.steps.iter().flatten().enumerate() {
            let here = format!("{at}.steps[{i}]");
            let parsed: OpsChainStep = serde_json::from_value(child.clone())
                .map_err(|e| format!("{here} is not a workflow step: {e}"))?;
            children.push(step(&parsed, &here)?);
        }
        out.insert("children".into(), Value::Array(children));
    }
    Ok(Value::Object(out))
}

/// Whether `observed` says everything `desired` says: same number of steps, and every key the
/// spec writes present with the same value (recursively). Keys only the platform has are
/// ignored.
pub fn same(desired: &[Value], observed: &[Value]) -> bool {
    desired.len() == observed.len() && desired.iter().zip(observed).all(|(d, o)| covers(d, o))
}

fn covers(desired: &Value, observed: &Value) -> bool {
    match (desired, observed) {
        (Value::Object(d), Value::Object(o)) => d
            .iter()
            .all(|(k, v)| o.get(k).is_some_and(|ov| covers(v, ov))),
        (Value::Array(d), Value::Array(o)) => {
            d.len() == o.len() && d.iter().zip(o).all(|(a, b)| covers(a, b))
        }
        (Value::Number(d), Value::Number(o)) => d.as_f64() == o.as_f64(),
        _ => desired == observed,
    }
}

/// SHA-256 (hex) of the steps as sent: what status records as the definition last written.
pub fn hash(steps: &[Value]) -> String {
    let text = serde_json::to_string(steps).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Vec<OpsChainStep> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn steps_are_spelled_the_opschain_way() {
        let steps = parse(json!([
            {"type": "change", "name": "dev", "target": "/projects/web", "action": "deploy",
             "propertyOverrides": {"a": 1}},
            {"type": "wait", "name": "gate", "requiresApprovalFrom": "release-managers"},
            {"type": "stage", "name": "both", "parallel": true, "steps": [
                {"type": "change", "target": "/projects/web", "action": "a"},
                {"type": "workflow", "target": "web/child", "version": 2}
            ]}
        ]));
        assert_eq!(
            to_opschain(&steps).unwrap(),
            vec![
                json!({"type": "change", "name": "dev", "target": "/projects/web",
                       "action": "deploy", "property_overrides": {"a": 1}}),
                json!({"type": "wait", "name": "gate",
                       "requires_approval_from": "release-managers"}),
                json!({"type": "stage", "name": "both", "run_as": "parallel", "children": [
                    {"type": "change", "target": "/projects/web", "action": "a"},
                    {"type": "workflow", "target": "web/child", "version": 2}
                ]}),
            ]
        );
    }

    #[test]
    fn a_stage_is_sequential_unless_parallel() {
        let steps = parse(json!([{"type": "stage", "name": "s", "steps": [{"type": "wait"}]}]));
        assert_eq!(to_opschain(&steps).unwrap()[0]["run_as"], "sequential");
    }

    #[test]
    fn a_nested_step_that_is_not_a_step_is_named() {
        let steps = parse(json!([{"type": "stage", "name": "s", "steps": [{"type": "dance"}]}]));
        let e = to_opschain(&steps).unwrap_err();
        assert!(e.contains("opschain.steps[0].steps[0]"), "{e}");
    }

    #[test]
    fn keys_the_platform_adds_are_not_a_difference() {
        let desired = vec![json!({"type": "wait", "name": "gate"})];
        let observed = vec![json!({"type": "wait", "name": "gate", "notifications": {}})];
        assert!(same(&desired, &observed));
    }

    #[test]
    fn a_changed_or_missing_step_is_a_difference() {
        let desired = vec![json!({"type": "wait", "name": "gate"})];
        assert!(!same(&desired, &[json!({"type": "wait", "name": "other"})]));
        assert!(!same(&desired, &[]));
        assert!(!same(
            &desired,
            &[
                json!({"type": "wait", "name": "gate"}),
                json!({"type": "wait"})
            ]
        ));
        assert!(!same(&desired, &[json!({"type": "wait"})]));
    }

    #[test]
    fn the_hash_follows_the_content() {
        let a = vec![json!({"type": "wait", "name": "gate"})];
        let b = vec![json!({"type": "wait", "name": "other"})];
        assert_eq!(hash(&a), hash(&a.clone()));
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a).len(), 64);
    }
}
