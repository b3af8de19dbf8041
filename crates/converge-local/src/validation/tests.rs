use serde_json::json;

use super::*;

fn project(spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project", "metadata": {"name": "p"}, "spec": spec})
}

#[test]
fn unknown_fields_are_each_named_as_strict_decoding_does() {
    let e = admit(
        project(json!({"connectionRef": {"name": "c"}, "deletionpolicy": "Orphan",
            "cycloid": {"canonical": "x", "name": "X", "configRepositoryCanonical": "cfg", "enviroments": []}})),
        None,
        FieldValidation::Strict,
    )
    .unwrap_err();
    assert_eq!(e.reason, Reason::BadRequest);
    assert_eq!(
        e.to_string(),
        "Project in version \"v1alpha1\" cannot be handled as a Project: strict decoding error: unknown field \"spec.cycloid.enviroments\", unknown field \"spec.deletionpolicy\""
    );
}
