//! What a Cycloid component needs, from what Cycloid holds (pure): the component and its
//! variables, its pipelines (configuration, variables, pause state), the job build of the
//! declared revision or trigger, and the event sent when that build completes.

use serde_json::{Map, Value};

use crate::component::reasons;
use converge_api::component::{
    ComponentStatus, CycloidBuild, CycloidCompletionEvent, CycloidComponent, CycloidSeverity,
};
use converge_engine::Phase;
use converge_platforms::cycloid::{
    Build, BuildStatus as CycloidBuildStatus, Component, ComponentPath, Event, EventType,
    FormVariables, NewComponent, NewEvent, NewPipeline, Pipeline, Severity, Tag, UpdateComponent,
    UpdatePipeline,
};

pub fn new_component(spec: &CycloidComponent) -> NewComponent {
    NewComponent {
        canonical: spec.canonical.clone(),
        name: spec.name.clone(),
        description: spec.description.clone(),
        service_catalog_ref: spec.stack_ref.clone(),
        use_case: spec.use_case.clone(),
        cloud_provider_canonical: spec.cloud_provider_canonical.clone(),
        vars: spec.vars.clone(),
    }
}

/// Why a found component cannot be this one (pure): its stack never changes.
pub fn differs(spec: &CycloidComponent, found: &Component) -> Option<Phase> {
    (found.service_catalog.reference != spec.stack_ref).then(|| {
        Phase::stalled(
            reasons::PLATFORM_OBJECT_DIFFERS,
            format!(
                "Cycloid component {:?} instantiates stack {:?}, the spec says {:?}; a \
                 component's stack cannot change: fix stackRef or use another canonical",
                spec.canonical, found.service_catalog.reference, spec.stack_ref
            ),
        )
    })
}

/// What differs between the component found, with its form variables (read only when the
/// spec declares some), and the spec (pure): the update and the changes as a person reads
/// them.
pub fn component_update(
    spec: &CycloidComponent,
    found: &Component,
    config: Option<&FormVariables>,
) -> Option<(UpdateComponent, Vec<String>)> {
    let mut changes = Vec::new();
    if found.name != spec.name {
        changes.push(format!("name {:?} → {:?}", found.name, spec.name));
    }
    if let Some(d) = &spec.description
        && &found.description != d
    {
        changes.push("description".to_string());
    }
    if found.use_case.as_deref() != Some(spec.use_case.as_str()) {
        changes.push(format!(
            "use case {:?} → {:?}",
            found.use_case.as_deref().unwrap_or_default(),
            spec.use_case
        ));
    }
    let vars_differ = spec.vars.as_ref().is_some_and(|want| {
        !config.is_some_and(|have| {
            contains(&Value::Object(have.clone()), &Value::Object(want.clone()))
        })
    });
    if vars_differ {
        changes.push("stack variables".to_string());
    }
    if changes.is_empty() {
        return None;
    }
    let update = UpdateComponent {
        name: spec.name.clone(),
        // The update clears a description it is not sent: keep the platform's when the spec
        // declares none.
        description: spec
            .description
            .clone()
            .or_else(|| (!found.description.is_empty()).then(|| found.description.clone())),
        use_case: spec.use_case.clone(),
        vars: if vars_differ { spec.vars.clone() } else { None },
    };
    Some((update, changes))
}

/// Whether `have` holds everything `want` declares: objects may have more keys, lists must
/// match item by item. Values the platform adds are not differences.
pub fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| h.get(k).is_some_and(|hv| contains(hv, wv))),
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(hv, wv)| contains(hv, wv))
        }
        (Value::Number(h), Value::Number(w)) => h.as_f64() == w.as_f64(),
        _ => have == want,
    }
}

/// A pipeline as the spec declares it, its configuration resolved from a ConfigMap if need be.
#[derive(Clone, Debug, PartialEq)]
pub struct Desired {
    pub name: String,
    pub config: String,
    pub vars: Option<String>,
    pub paused: bool,
}

/// A pipeline as Cycloid holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub pipeline: Pipeline,
    /// The configuration with its variables interpolated.
    pub config: Option<Value>,
    /// The `yaml_vars` last sent.
    pub vars: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PipelineAction {
    /// Create it (it starts paused), then unpause it unless it is declared paused.
    Create {
        body: NewPipeline,
        unpause: bool,
    },
    Update {
        name: String,
        body: UpdatePipeline,
    },
    Pause(String),
    Unpause(String),
    Delete(String),
}

impl PipelineAction {
    pub fn describe(&self) -> String {
        match self {
            PipelineAction::Create { body, .. } => {
                format!("create pipeline {:?}", body.pipeline_name)
            }
            PipelineAction::Update { name, .. } => format!("update pipeline {name:?}"),
            PipelineAction::Pause(name) => format!("pause pipeline {name:?}"),
            PipelineAction::Unpause(name) => format!("unpause pipeline {name:?}"),
            PipelineAction::Delete(name) => format!("delete pipeline {name:?}"),
        }
    }

    /// What was done, for the Event (`at`: the component).
    pub fn done(&self, at: &ComponentPath) -> String {
        match self {
            PipelineAction::Create { body, .. } => {
                format!(
                    "created pipeline {:?} of component {at}",
                    body.pipeline_name
                )
            }
            PipelineAction::Update { name, .. } => {
                format!(
                    "updated pipeline {name:?} of component {at} to the declared config and vars"
                )
            }
            PipelineAction::Pause(name) => format!("paused pipeline {name:?} of component {at}"),
            PipelineAction::Unpause(name) => {
                format!("unpaused pipeline {name:?} of component {at}")
            }
            PipelineAction::Delete(name) => {
                format!("deleted pipeline {name:?} of component {at}")
            }
        }
    }
}

/// The writes that make the component's pipelines match the spec. `observed` has one entry
/// per declared pipeline (None: it does not exist); `recorded` are the names status lists,
/// so a pipeline removed from the spec is deleted.
pub fn pipelines(
    desired: &[Desired],
    observed: &[Option<Observed>],
    recorded: &[String],
) -> Vec<PipelineAction> {
    let mut actions = Vec::new();
    for (want, have) in desired.iter().zip(observed) {
        let Some(have) = have else {
            actions.push(PipelineAction::Create {
                body: NewPipeline {
                    pipeline_name: want.name.clone(),
                    passed_config: want.config.clone(),
                    yaml_vars: want.vars.clone(),
                    check_credentials: None,
                },
                unpause: !want.paused,
            });
            continue;
        };
        if !config_matches(want, have) {
            actions.push(PipelineAction::Update {
                name: want.name.clone(),
                body: UpdatePipeline {
                    passed_config: want.config.clone(),
                    yaml_vars: want.vars.clone(),
                    check_credentials: None,
                },
            });
        }
        match (want.paused, have.pipeline.paused) {
            (true, false) => actions.push(PipelineAction::Pause(want.name.clone())),
            (false, true) => actions.push(PipelineAction::Unpause(want.name.clone())),
            _ => {}
        }
    }
    for name in recorded {
        if !desired.iter().any(|d| &d.name == name) {
            actions.push(PipelineAction::Delete(name.clone()));
        }
    }
    actions
}

fn yaml(text: &str) -> Option<Value> {
    match text.trim() {
        "" => Some(Value::Object(Map::new())),
        t => match serde_yaml_ng::from_str::<Value>(t).ok()? {
            Value::Null => Some(Value::Object(Map::new())),
            v => Some(v),
        },
    }
}

/// Whether the platform's pipeline runs the declared configuration with the declared
/// variables. A configuration that does not parse never matches (the update then reports the
/// platform's validation message).
fn config_matches(want: &Desired, have: &Observed) -> bool {
    if let Some(vars) = &want.vars {
        let sent = have.vars.as_deref().unwrap_or_default();
        if yaml(vars).is_none() || yaml(vars) != yaml(sent) {
            return false;
        }
    }
    let vars = want
        .vars
        .as_deref()
        .and_then(yaml)
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let (Some(config), Some(observed)) = (yaml(&want.config), have.config.as_ref()) else {
        return false;
    };
    contains(observed, &interpolate(config, &vars))
}

/// `((name))` placeholders replaced by the pipeline variables, as Concourse does when it
/// loads a configuration: a whole-string placeholder takes the variable's value (of any type),
/// one inside text its text. Unknown names (credential references) are left as they are.
pub fn interpolate(value: Value, vars: &Map<String, Value>) -> Value {
    match value {
        Value::String(s) => {
            if let Some(name) = s
                .trim()
                .strip_prefix("((")
                .and_then(|r| r.strip_suffix("))"))
                .filter(|n| !n.contains("(("))
                && let Some(v) = vars.get(name.trim())
            {
                return v.clone();
            }
            Value::String(replace(&s, vars))
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| interpolate(v, vars)).collect())
        }
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, interpolate(v, vars)))
                .collect(),
        ),
        other => other,
    }
}

fn replace(text: &str, vars: &Map<String, Value>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("((") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("))") else {
            out.push_str(&rest[start..]);
            return out;
        };
        match vars.get(after[..end].trim()) {
            Some(Value::String(s)) => out.push_str(s),
            Some(other) => out.push_str(&other.to_string()),
            None => out.push_str(&rest[start..start + end + 4]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// The build a spec asks for, as status records it: revision and trigger.
pub fn build_key(build: &CycloidBuild) -> String {
    format!(
        "{}|{}",
        build.revision.as_deref().unwrap_or_default(),
        build.trigger.as_deref().unwrap_or_default()
    )
}

/// What to do about the job build.
#[derive(Clone, Debug, PartialEq)]
pub enum BuildStep {
    /// No build declared.
    Nothing,
    /// The recorded build is the declared revision's and trigger's: watch it.
    Watch(u64),
    /// A build of this revision and trigger was being requested when the controller stopped:
    /// the newest build of the job after `after` (the previous one) is it, if there is one.
    Recover { after: Option<u64> },
    /// Start a build.
    Trigger,
}

pub fn build(spec: Option<&CycloidBuild>, status: &ComponentStatus) -> BuildStep {
    let Some(spec) = spec else {
        return BuildStep::Nothing;
    };
    let recorded = status.build.as_ref();
    let recorded_id = recorded.and_then(|b| b.id.parse::<u64>().ok());
    if let Some(b) = recorded
        && b.revision == spec.revision
        && b.trigger == spec.trigger
        && let Some(id) = recorded_id
    {
        return BuildStep::Watch(id);
    }
    if status.pending_build.as_deref() == Some(build_key(spec).as_str()) {
        return BuildStep::Recover { after: recorded_id };
    }
    BuildStep::Trigger
}

/// The build a crashed trigger started: the newest of the job newer than `after`.
pub fn recovered(builds: &[Build], after: Option<u64>) -> Option<&Build> {
    builds
        .iter()
        .filter(|b| after.is_none_or(|a| b.id > a))
        .max_by_key(|b| b.id)
}

/// Where a job build stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Running,
    /// Pending because its pipeline is paused (as declared): it runs once unpaused.
    HeldByPause,
    Succeeded,
    Failed,
}

pub fn outcome(status: CycloidBuildStatus, pipeline_paused: bool) -> Outcome {
    match status {
        CycloidBuildStatus::Succeeded => Outcome::Succeeded,
        CycloidBuildStatus::Failed | CycloidBuildStatus::Errored | CycloidBuildStatus::Aborted => {
            Outcome::Failed
        }
        CycloidBuildStatus::Pending if pipeline_paused => Outcome::HeldByPause,
        _ => Outcome::Running,
    }
}

pub fn status_name(status: CycloidBuildStatus) -> &'static str {
    match status {
        CycloidBuildStatus::Pending => "pending",
        CycloidBuildStatus::Started => "started",
        CycloidBuildStatus::Succeeded => "succeeded",
        CycloidBuildStatus::Failed => "failed",
        CycloidBuildStatus::Errored => "errored",
        CycloidBuildStatus::Aborted => "aborted",
        CycloidBuildStatus::Unknown => "unknown",
    }
}

/// The tag that ties an event to the build it reports.
pub const BUILD_TAG: &str = "build_id";

/// Tag values may not hold commas (nor much punctuation): anything else becomes '-'.
fn tag_value(v: &str) -> String {
    v.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-+=.:/@ ".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The event announcing that `build` of `job` completed.
pub fn completion_event(
    spec: &CycloidCompletionEvent,
    at: &ComponentPath,
    pipeline: &str,
    job: &str,
    build: &Build,
) -> NewEvent {
    let succeeded = build.status == CycloidBuildStatus::Succeeded;
    let severity = if succeeded {
        match spec.severity.unwrap_or_default() {
            CycloidSeverity::Info => Severity::Info,
            CycloidSeverity::Warn => Severity::Warn,
            CycloidSeverity::Err => Severity::Err,
            CycloidSeverity::Crit => Severity::Crit,
        }
    } else {
        Severity::Err
    };
    let status = status_name(build.status);
    let mut tags = vec![
        Tag::new("project", tag_value(&at.project)),
        Tag::new("environment", tag_value(&at.environment)),
        Tag::new("component", tag_value(&at.component)),
        Tag::new("pipeline", tag_value(pipeline)),
        Tag::new("job", tag_value(job)),
        Tag::new(BUILD_TAG, build.id.to_string()),
    ];
    tags.extend(
        spec.tags
            .iter()
            .filter(|(k, _)| !k.is_empty())
            .map(|(k, v)| Tag::new(k.clone(), tag_value(v))),
    );
    NewEvent {
        kind: EventType::Custom,
        title: format!("{} {job} build {} {status}", at.component, build.name),
        message: format!(
            "Build {} of job {job} in pipeline {pipeline} ({at}) {status}.",
            build.name
        ),
        severity,
        tags,
        icon: None,
        color: None,
    }
}

/// The completion event already sent for build `build_id` of this component, if any: how a
/// controller that crashed after sending it avoids a second one.
pub fn sent_event<'a>(events: &'a [Event], at: &ComponentPath, build_id: u64) -> Option<&'a Event> {
    let id = build_id.to_string();
    let component = tag_value(&at.component);
    let has =
        |e: &Event, key: &str, value: &str| e.tags.iter().any(|t| t.key == key && t.value == value);
    events
        .iter()
        .find(|e| has(e, BUILD_TAG, &id) && has(e, "component", &component))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use converge_api::component::BuildStatus;
    use converge_platforms::cycloid::{EntityRef, ServiceCatalogRef};

    fn spec() -> CycloidComponent {
        serde_json::from_value(json!({
            "canonical": "billing-api", "name": "Billing API", "environment": "staging",
            "stackRef": "cycloidio:stack-docker", "useCase": "default",
            "vars": {"app": {"image": {"tag": "1.4.2"}}}
        }))
        .unwrap()
    }

    fn found() -> Component {
        Component {
            id: 4,
            canonical: "billing-api".into(),
            name: "Billing API".into(),
            description: String::new(),
            use_case: Some("default".into()),
            is_configured: true,
            service_catalog: ServiceCatalogRef {
                reference: "cycloidio:stack-docker".into(),
                name: None,
            },
            cloud_provider: None,
            project: EntityRef {
                canonical: "billing".into(),
                name: None,
            },
            environment: EntityRef {
                canonical: "staging".into(),
                name: None,
            },
            created_at: 1,
            updated_at: 1,
        }
    }

    fn vars(v: Value) -> FormVariables {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_missing_component_is_created_from_its_stack_with_its_vars() {
        let c = new_component(&spec());
        assert_eq!(c.canonical, "billing-api");
        assert_eq!(c.service_catalog_ref, "cycloidio:stack-docker");
        assert!(c.vars.is_some());
    }

    #[test]
    fn a_matching_component_needs_nothing_even_with_platform_defaults() {
        let config = vars(json!({"app": {"image": {"tag": "1.4.2", "pull": "always"}}, "x": {}}));
        assert_eq!(component_update(&spec(), &found(), Some(&config)), None);
        assert_eq!(differs(&spec(), &found()), None);
    }

    #[test]
    fn changed_name_or_vars_update_the_component_and_keep_its_description() {
        let mut f = found();
        f.name = "Old".into();
        f.description = "kept".into();
        let config = vars(json!({"app": {"image": {"tag": "1.4.1"}}}));
        let (u, changes) = component_update(&spec(), &f, Some(&config)).expect("an update");
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(u.name, "Billing API");
        assert_eq!(u.description.as_deref(), Some("kept"));
        assert_eq!(u.vars, spec().vars);
    }

    #[test]
    fn a_name_change_alone_does_not_resend_vars() {
        let mut f = found();
        f.name = "Old".into();
        let config = vars(json!({"app": {"image": {"tag": "1.4.2"}}}));
        let (u, _) = component_update(&spec(), &f, Some(&config)).expect("an update");
        assert_eq!(u.vars, None);
    }

    #[test]
    fn another_stack_stalls() {
        let mut f = found();
        f.service_catalog.reference = "cycloidio:stack-magento".into();
        assert!(matches!(
            differs(&spec(), &f),
            Some(Phase::Stalled { reason: r, .. }) if r == reasons::PLATFORM_OBJECT_DIFFERS
        ));
    }

    fn desired(name: &str, paused: bool) -> Desired {
        Desired {
            name: name.into(),
            config: "jobs:\n  - name: deploy\n    plan:\n      - task: ((task))\n".into(),
            vars: Some("task: deploy\n".into()),
            paused,
        }
    }

    fn pipeline(name: &str, paused: bool) -> Pipeline {
        serde_json::from_value(json!({
            "id": 1, "name": name, "paused": paused, "public": false, "team_name": "acme",
            "jobs": [], "project": "billing", "environment": "staging",
            "component": "billing-api", "created_at": 1, "updated_at": 1
        }))
        .unwrap()
    }

    fn observed(name: &str, paused: bool, task: &str, vars: &str) -> Observed {
        Observed {
            pipeline: pipeline(name, paused),
            config: Some(json!({"jobs": [{"name": "deploy", "plan": [{"task": task}]}]})),
            vars: Some(vars.into()),
        }
    }

    #[test]
    fn a_missing_pipeline_is_created_and_unpaused_unless_declared_paused() {
        let actions = pipelines(
            &[desired("p-one", false), desired("p-two", true)],
            &[None, None],
            &[],
        );
        assert!(
            matches!(&actions[0], PipelineAction::Create { unpause: true, body } if body.pipeline_name == "p-one")
        );
        assert!(matches!(
            &actions[1],
            PipelineAction::Create { unpause: false, .. }
        ));
    }

    #[test]
    fn a_matching_pipeline_needs_nothing() {
        let have = observed("p-one", false, "deploy", "task: deploy");
        assert_eq!(
            pipelines(&[desired("p-one", false)], &[Some(have)], &["p-one".into()]),
            vec![]
        );
    }

    #[test]
    fn changed_config_or_vars_update_the_pipeline() {
        let drifted = observed("p-one", false, "other", "task: deploy");
        assert!(matches!(
            pipelines(&[desired("p-one", false)], &[Some(drifted)], &[]).as_slice(),
            [PipelineAction::Update { .. }]
        ));
        let vars_changed = observed("p-one", false, "deploy", "task: other");
        assert!(matches!(
            pipelines(&[desired("p-one", false)], &[Some(vars_changed)], &[]).as_slice(),
            [PipelineAction::Update { .. }]
        ));
    }

    #[test]
    fn the_pause_state_follows_the_spec() {
        let paused = observed("p-one", true, "deploy", "task: deploy");
        assert_eq!(
            pipelines(&[desired("p-one", false)], &[Some(paused)], &[]),
            vec![PipelineAction::Unpause("p-one".into())]
        );
        let running = observed("p-one", false, "deploy", "task: deploy");
        assert_eq!(
            pipelines(&[desired("p-one", true)], &[Some(running)], &[]),
            vec![PipelineAction::Pause("p-one".into())]
        );
    }

    #[test]
    fn a_pipeline_removed_from_the_spec_is_deleted() {
        assert_eq!(
            pipelines(&[], &[], &["old-one".into()]),
            vec![PipelineAction::Delete("old-one".into())]
        );
    }

    #[test]
    fn interpolation_matches_concourse() {
        let vars = vars(json!({"n": 3, "img": "nginx"}));
        assert_eq!(
            interpolate(
                json!({"a": "((n))", "b": "image: ((img)):((tag))", "c": ["(( img ))"]}),
                &vars
            ),
            json!({"a": 3, "b": "image: nginx:((tag))", "c": ["nginx"]})
        );
    }

    #[test]
    fn contains_ignores_what_the_platform_adds_but_not_list_changes() {
        assert!(contains(
            &json!({"a": 1, "b": [1, {"x": 1, "y": 2}]}),
            &json!({"b": [1, {"x": 1}]})
        ));
        assert!(!contains(&json!({"b": [1, 2]}), &json!({"b": [1]})));
        assert!(contains(&json!({"n": 1.0}), &json!({"n": 1})));
    }

    fn spec_build(revision: Option<&str>, trigger: Option<&str>) -> CycloidBuild {
        CycloidBuild {
            pipeline: "p-one".into(),
            job: "deploy".into(),
            revision: revision.map(str::to_string),
            trigger: trigger.map(str::to_string),
        }
    }

    fn with_build(id: &str, revision: Option<&str>, trigger: Option<&str>) -> ComponentStatus {
        ComponentStatus {
            build: Some(Box::new(BuildStatus {
                id: id.into(),
                status: "succeeded".into(),
                revision: revision.map(str::to_string),
                trigger: trigger.map(str::to_string),
                event_id: None,
            })),
            ..Default::default()
        }
    }

    #[test]
    fn builds_follow_the_declared_revision_and_trigger() {
        assert_eq!(build(None, &ComponentStatus::default()), BuildStep::Nothing);
        let b = spec_build(Some("1.4.2"), None);
        assert_eq!(
            build(Some(&b), &ComponentStatus::default()),
            BuildStep::Trigger
        );
        assert_eq!(
            build(Some(&b), &with_build("7", Some("1.4.2"), None)),
            BuildStep::Watch(7)
        );
        assert_eq!(
            build(Some(&b), &with_build("7", Some("1.4.1"), None)),
            BuildStep::Trigger
        );
        let retrigger = spec_build(Some("1.4.2"), Some("again"));
        assert_eq!(
            build(Some(&retrigger), &with_build("7", Some("1.4.2"), None)),
            BuildStep::Trigger
        );
    }

    #[test]
    fn a_build_requested_before_a_crash_is_looked_for_not_triggered_again() {
        let b = spec_build(Some("1.4.3"), None);
        let mut status = with_build("7", Some("1.4.2"), None);
        status.pending_build = Some(build_key(&b));
        assert_eq!(
            build(Some(&b), &status),
            BuildStep::Recover { after: Some(7) }
        );
        let build_of = |id: u64| -> Build {
            serde_json::from_value(
                json!({"id": id, "name": id.to_string(), "status": "pending",
                "api_url": "/", "team_name": "acme"}),
            )
            .unwrap()
        };
        let builds = [build_of(9), build_of(7), build_of(5)];
        assert_eq!(recovered(&builds, Some(7)).map(|b| b.id), Some(9));
        assert_eq!(recovered(&builds[1..], Some(7)), None);
        assert_eq!(recovered(&builds, None).map(|b| b.id), Some(9));
    }

    #[test]
    fn build_outcomes() {
        assert_eq!(
            outcome(CycloidBuildStatus::Pending, true),
            Outcome::HeldByPause
        );
        assert_eq!(
            outcome(CycloidBuildStatus::Pending, false),
            Outcome::Running
        );
        assert_eq!(outcome(CycloidBuildStatus::Started, true), Outcome::Running);
        assert_eq!(
            outcome(CycloidBuildStatus::Succeeded, false),
            Outcome::Succeeded
        );
        assert_eq!(outcome(CycloidBuildStatus::Errored, false), Outcome::Failed);
    }

    #[test]
    fn completion_events_are_tagged_with_the_build_and_found_again() {
        let at = ComponentPath::new("billing", "staging", "billing-api");
        let build: Build =
            serde_json::from_value(json!({"id": 12, "name": "3", "status": "failed",
            "api_url": "/", "team_name": "acme"}))
            .unwrap();
        let spec = CycloidCompletionEvent {
            severity: Some(CycloidSeverity::Warn),
            tags: BTreeMap::from([("team".to_string(), "pay,ments".to_string())]),
        };
        let event = completion_event(&spec, &at, "p-one", "deploy", &build);
        assert_eq!(event.severity, Severity::Err, "a failed build is an error");
        assert!(event.tags.contains(&Tag::new("team", "pay-ments")));
        assert!(event.tags.contains(&Tag::new(BUILD_TAG, "12")));
        let sent = Event {
            id: 5,
            kind: EventType::Custom,
            title: event.title.clone(),
            message: event.message.clone(),
            severity: event.severity,
            tags: event.tags.clone(),
            timestamp: 1,
            icon: None,
            color: None,
        };
        assert_eq!(
            sent_event(std::slice::from_ref(&sent), &at, 12).map(|e| e.id),
            Some(5)
        );
        assert_eq!(sent_event(&[sent], &at, 13), None);
        let ok: Build =
            serde_json::from_value(json!({"id": 12, "name": "3", "status": "succeeded",
            "api_url": "/", "team_name": "acme"}))
            .unwrap();
        assert_eq!(
            completion_event(&spec, &at, "p", "deploy", &ok).severity,
            Severity::Warn
        );
    }
}
