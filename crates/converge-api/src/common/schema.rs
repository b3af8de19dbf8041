//! Patterns and limits copied from the platform contracts (`shared/platform-apis/docs`), so the
//! apiserver refuses what the platform would refuse before anything reaches the platform.
//! The apiserver evaluates `pattern` with Go's RE2: no look-arounds here.

/// Cycloid organization, config repository, team and cloud provider canonicals (3..100).
pub const CYCLOID_CANONICAL: &str = r"^[a-z0-9]+[a-z0-9\-_]+[a-z0-9]+$";
/// Cycloid project canonical (1..100) and use case.
pub const CYCLOID_PROJECT_CANONICAL: &str = r"^[a-z0-9]+(([a-z0-9\-_]+)?[a-z0-9]+)?$";
/// Cycloid environment and component canonicals (1..100).
pub const CYCLOID_ENV_CANONICAL: &str = r"^[\da-zA-Z]+(?:[\da-zA-Z\-._]+[\da-zA-Z]|[\da-zA-Z])$";
/// Cycloid pipeline names (3..100).
pub const CYCLOID_PIPELINE_NAME: &str = r"^[a-z0-9]+[a-z0-9\-._]+[a-z0-9]+$";
/// API7 Cloud ids travel as decimal strings: they overflow a JSON number's safe range.
pub const API7_ID: &str = r"^[1-9][0-9]*$";
/// API7 Cloud label values (1..32 each, at most 32 labels).
pub const API7_LABEL: &str = r"^[0-9a-zA-Z-_]+$";
/// OpsChain codes appear in URL paths: lowercase letters, digits and `_` (the platform's own rule).
pub const OPSCHAIN_CODE: &str = r"^[a-z0-9_]+$";
/// A Go-style duration as Kubernetes users write them: 30s, 5m, 1h30m. At most six digits a
/// part and `DURATION_MAX_LENGTH` characters keep every match below Go's (and CEL's) 290-year
/// limit, so the `duration(self)` rule that bounds a field's value never fails to evaluate.
pub const DURATION: &str = r"^([0-9]{1,6}(\.[0-9]{1,3})?(ms|s|m|h))+$";
/// The longest duration string a manifest may hold.
pub const DURATION_MAX_LENGTH: u32 = 20;
/// A five-field cron expression (minute hour day-of-month month day-of-week), or a @macro.
pub const CRON: &str =
    r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$";

/// One API7 Cloud label: 1..32 characters of letters, digits, '-' and '_'.
#[derive(
    serde::Serialize,
    serde::Deserialize,
    Clone,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Api7Label(
    #[schemars(length(min = 1, max = 32), regex(pattern = API7_LABEL))] pub String,
);

/// A JSON object whose keys the platform defines (plugins, form variables, property
/// overrides): kept as given, since a structural schema cannot describe it.
pub fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// A list of such objects.
pub fn free_form_object_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// The schema of a duration field of at most a week (`field` names it in the refusal): the
/// [`DURATION`] pattern and length, and a CEL rule the apiserver evaluates with Go's durations.
/// Used as `#[schemars(transform = week_duration("spec.field"))]`.
pub fn week_duration(field: &'static str) -> impl Fn(&mut schemars::Schema) {
    move |schema| {
        schema.insert("minLength".into(), 1.into());
        schema.insert("maxLength".into(), DURATION_MAX_LENGTH.into());
        schema.insert("pattern".into(), DURATION.into());
        schema.insert(
            "x-kubernetes-validations".into(),
            serde_json::json!([{
                "rule": "duration(self) <= duration('168h')",
                "message": format!("{field} must be at most 168h (a week)"),
            }]),
        );
    }
}
