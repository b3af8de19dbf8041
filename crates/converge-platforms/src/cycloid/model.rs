//! What Cycloid answers, as its spec's schemas name the fields. Ids are integers, times Unix
//! seconds (event timestamps: milliseconds). Fields the spec requires are required here, so an
//! answer missing one fails to decode; optional ones are `Option` or default to what Go's
//! `omitempty` leaves out (false, empty). Values the platform may extend (build status, event
//! type and severity) are enums with an `Unknown` catch-all.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Stack form variables: section → group → variable → value.
pub type FormVariables = Map<String, Value>;

/// The organization the client is scoped to (`getOrg`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Organization {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    /// The Concourse team of the organization's pipelines.
    pub ci_team_name: String,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A config repository: the Git repository holding the organization's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ConfigRepository {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    pub url: String,
    /// The organization's default repository.
    #[serde(default)]
    pub default: bool,
    pub branch: Option<String>,
    pub credential_canonical: Option<String>,
    pub created_at: Option<u64>,
    pub updated_at: Option<u64>,
}

/// An entity another one embeds. The spec's schema embeds the whole object, its samples
/// sometimes just the canonical (`"environment": "dev"`); either decodes to this.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(from = "RefRepr")]
pub struct EntityRef {
    pub canonical: String,
    /// Absent when only the canonical was sent.
    pub name: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RefRepr {
    Canonical(String),
    Entity {
        canonical: String,
        #[serde(default)]
        name: Option<String>,
    },
}

impl From<RefRepr> for EntityRef {
    fn from(r: RefRepr) -> Self {
        match r {
            RefRepr::Canonical(canonical) => EntityRef {
                canonical,
                name: None,
            },
            RefRepr::Entity { canonical, name } => EntityRef { canonical, name },
        }
    }
}

/// A user (a project's owner).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: u64,
    /// The canonical `owner` fields take.
    pub username: String,
    pub email: Option<String>,
}

/// A cloud provider a project or component is scoped to.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CloudProvider {
    /// `aws`, `google`, `azurerm`, `flexibleengine`, `openstack`... (a list the platform grows).
    pub canonical: String,
    pub name: String,
}

/// A team a project is linked to (quotas).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TeamRef {
    pub canonical: String,
    pub name: Option<String>,
}

/// A project of the organization.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Project {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub color: String,
    pub icon: String,
    pub config_repository_canonical: Option<String>,
    pub owner: Option<User>,
    pub team: Option<TeamRef>,
    pub cloud_provider: Option<CloudProvider>,
    /// The project's environments, whole (the spec's `Project.environments` are
    /// `Environment`s), so a read of the project is also a read of its environments.
    #[serde(deserialize_with = "null_as_empty")]
    pub environments: Vec<Environment>,
    pub created_at: u64,
    /// What `update_project` must send back: the platform refuses (409) an update based on an
    /// older read. Environment changes move it too.
    pub updated_at: u64,
}

/// An environment of a project.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Environment {
    pub id: u64,
    pub canonical: String,
    /// The spec sends it "only in a project's context" (which every call here is).
    pub name: Option<String>,
    pub color: String,
    pub created_at: u64,
    pub updated_at: u64,
}

/// The stack a component instantiates.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ServiceCatalogRef {
    /// `organization:canonical`, e.g. `cycloidio:stack-docker`.
    #[serde(rename = "ref")]
    pub reference: String,
    pub name: Option<String>,
}

/// A component: one stack use case instantiated in an environment.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Component {
    pub id: u64,
    pub canonical: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub use_case: Option<String>,
    /// Whether form variables were given.
    #[serde(default)]
    pub is_configured: bool,
    pub service_catalog: ServiceCatalogRef,
    pub cloud_provider: Option<CloudProvider>,
    pub project: EntityRef,
    pub environment: EntityRef,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A Concourse pipeline of a component. Its name is unique in the whole organization.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Pipeline {
    pub id: u64,
    pub name: String,
    /// Pipelines start paused.
    pub paused: bool,
    pub public: bool,
    #[serde(default)]
    pub archived: bool,
    pub team_name: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub jobs: Vec<Job>,
    pub project: EntityRef,
    pub environment: EntityRef,
    pub component: EntityRef,
    pub created_at: u64,
    pub updated_at: u64,
}

/// A job of a pipeline, with its latest finished build and the build that comes next.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Job {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub paused: bool,
    /// Builds can only come from the pipeline's triggers (`trigger_build` is refused, 409).
    #[serde(default)]
    pub disable_manual_trigger: bool,
    pub pipeline_id: Option<u64>,
    pub pipeline_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub groups: Vec<String>,
    pub finished_build: Option<Build>,
    pub next_build: Option<Build>,
    pub transition_build: Option<Build>,
}

/// A build of a job.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Build {
    /// Concourse's build id, unique across jobs (what `get_build` and `abort_build` take).
    pub id: u64,
    /// The job's build number ("3"), or "3.1" for the first rerun of build 3.
    pub name: String,
    pub status: BuildStatus,
    pub api_url: String,
    pub team_name: String,
    pub job_name: Option<String>,
    pub pipeline_id: Option<u64>,
    pub pipeline_name: Option<String>,
    /// Unix seconds, once started.
    pub start_time: Option<u64>,
    /// Unix seconds, once finished.
    pub end_time: Option<u64>,
}

/// Concourse build states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    Pending,
    Started,
    Succeeded,
    Failed,
    Errored,
    Aborted,
    /// A state this client does not know; treat it as still running.
    #[serde(other)]
    Unknown,
}

impl BuildStatus {
    /// Succeeded, failed, errored and aborted builds never change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            BuildStatus::Succeeded
                | BuildStatus::Failed
                | BuildStatus::Errored
                | BuildStatus::Aborted
        )
    }
}

/// What `getPipelineVariables` answers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PipelineVariables {
    /// The `yaml_vars` last sent (empty when none).
    #[serde(default)]
    pub yaml_vars: String,
}

/// An event of the organization's activity feed.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub title: String,
    pub message: String,
    pub severity: Severity,
    #[serde(deserialize_with = "null_as_empty")]
    pub tags: Vec<Tag>,
    /// Unix milliseconds (the spec's sample sends it as a string of digits; both decode).
    #[serde(deserialize_with = "u64_or_digits")]
    pub timestamp: u64,
    pub icon: Option<String>,
    pub color: Option<String>,
}

/// Where an event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    Cycloid,
    #[serde(rename = "AWS")]
    Aws,
    Monitoring,
    Custom,
    /// A type this client does not know (never sent: the platform refuses it).
    #[serde(other)]
    Unknown,
}

/// How serious an event is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Err,
    Crit,
    /// A severity this client does not know (never sent: the platform refuses it).
    #[serde(other)]
    Unknown,
}

impl EventType {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EventType::Cycloid => "Cycloid",
            EventType::Aws => "AWS",
            EventType::Monitoring => "Monitoring",
            EventType::Custom => "Custom",
            EventType::Unknown => "Unknown",
        }
    }
}

impl Severity {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Err => "err",
            Severity::Crit => "crit",
            Severity::Unknown => "unknown",
        }
    }
}

/// A key and value of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

impl Tag {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }
}

/// Go services send `null` for an empty slice; it means no items (a missing field is still
/// missing).
pub(super) fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

fn u64_or_digits<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(u64),
        Digits(String),
    }
    match Repr::deserialize(deserializer)? {
        Repr::Number(n) => Ok(n),
        Repr::Digits(s) => s
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not a timestamp"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_decode_from_objects_and_canonicals() {
        let r: EntityRef = serde_json::from_value(json!("dev")).unwrap();
        assert_eq!(
            r,
            EntityRef {
                canonical: "dev".into(),
                name: None
            }
        );
        let r: EntityRef =
            serde_json::from_value(json!({"canonical": "dev", "name": "Dev", "id": 3})).unwrap();
        assert_eq!(r.name.as_deref(), Some("Dev"));
    }

    #[test]
    fn new_values_do_not_break_decoding() {
        let s: BuildStatus = serde_json::from_value(json!("interrupted")).unwrap();
        assert_eq!(s, BuildStatus::Unknown);
        assert!(!s.is_final());
        assert!(BuildStatus::Aborted.is_final());
        let e: Event = serde_json::from_value(json!({
            "id": 1, "type": "Billing", "title": "t", "message": "m", "severity": "notice",
            "tags": [], "timestamp": "0123456789000", "extra": true
        }))
        .unwrap();
        assert_eq!(e.kind, EventType::Unknown);
        assert_eq!(e.severity, Severity::Unknown);
        assert_eq!(e.timestamp, 123_456_789_000);
    }

    #[test]
    fn a_missing_required_field_fails_but_null_lists_are_empty() {
        let missing_status = json!({"id": 1, "name": "1", "api_url": "/b/1", "team_name": "t"});
        assert!(serde_json::from_value::<Build>(missing_status).is_err());
        let mut project = json!({
            "id": 1, "canonical": "p", "name": "P", "color": "", "icon": "",
            "environments": null, "created_at": 1, "updated_at": 2
        });
        let decoded: Project = serde_json::from_value(project.clone()).unwrap();
        assert!(decoded.environments.is_empty());
        project.as_object_mut().unwrap().remove("environments");
        assert!(serde_json::from_value::<Project>(project).is_err());
    }
}
