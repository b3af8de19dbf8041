// kube's printcolumn(...) arguments repeat `type_ = ...` by design, which clippy mistakes for
// duplicated attributes.
#![allow(clippy::duplicated_attributes)]

use converge_core::Platform;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;
use crate::common::refs::LocalRef;
use crate::common::schema::{
    CYCLOID_CANONICAL, CYCLOID_ENV_CANONICAL, CYCLOID_PROJECT_CANONICAL, OPSCHAIN_CODE,
};
use crate::kind::{Kind, Watched};

/// A project, and its environments, on one platform.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "converge.dev",
    version = "v1alpha1",
    kind = "Project",
    namespaced,
    status = "ProjectStatus",
    shortname = "cvproj",
    category = "converge",
    doc = "A project and its environments on WSO2 Choreo, Cycloid or OpsChain. `kubectl get projects.converge.dev` (or `cvproj`) avoids OpenShift's Project.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        description = "Why Ready is what it is: Converged, Progressing, WaitingForReference, PlatformRetrying, Suspended, or a Stalled reason",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason"
    ),
    printcolumn(
        name = "Platform ID",
        type_ = "string",
        json_path = ".status.projectId"
    ),
    printcolumn(
        name = "Environments",
        type_ = "integer",
        json_path = ".status.environmentCount"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("[has(self.choreo), has(self.cycloid), has(self.opschain)].filter(x, x).size() == 1").message("spec must set exactly one platform block: choreo, cycloid or opschain"))]
#[x_kube(validation = Rule::new("[has(self.choreo), has(self.cycloid), has(self.opschain)] == [has(oldSelf.choreo), has(oldSelf.cycloid), has(oldSelf.opschain)]").message("the platform of a Project cannot change; create a new Project instead"))]
#[serde(rename_all = "camelCase")]
pub struct ProjectSpec {
    /// The PlatformConnection to use; its platform must match the platform block set here.
    pub connection_ref: LocalRef,
    #[serde(flatten)]
    pub management: Management,
    /// A WSO2 Choreo project. Choreo has no update or delete operation for projects: its fields
    /// cannot change, and deletion leaves the project on Choreo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choreo: Option<ChoreoProject>,
    /// A Cycloid project in the connection's organization, with its environments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cycloid: Option<CycloidProject>,
    /// An OpsChain project, with its environments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opschain: Option<OpsChainProject>,
}

/// A Choreo project. Its name is its natural key in the organization.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("Choreo has no update operation for projects: name and description cannot change; create a new Project instead"))]
pub struct ChoreoProject {
    /// Project name in Choreo, unique in the organization.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
}

/// A Cycloid project. Its canonical is its natural key and can never change.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycloidProject {
    /// Project canonical: lowercase letters, digits, '-' and '_', starting and ending with a
    /// letter or digit. Immutable.
    #[schemars(length(min = 1, max = 100), regex(pattern = CYCLOID_PROJECT_CANONICAL))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("cycloid.canonical is immutable: Cycloid never renames a project canonical"))]
    pub canonical: String,
    /// Display name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// Canonical of the config repository that stores the project's configuration.
    #[schemars(length(min = 3, max = 100), regex(pattern = CYCLOID_CANONICAL))]
    pub config_repository_canonical: String,
    /// User canonical of the owner; defaults to the credential's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub owner: Option<String>,
    /// Team canonical; only needed when the organization uses quotas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 100), regex(pattern = CYCLOID_CANONICAL))]
    pub team_canonical: Option<String>,
    /// Display color.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub color: Option<String>,
    /// Display icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub icon: Option<String>,
    /// Environments of the project. Removing one from this list deletes it from Cycloid
    /// (unless deletionPolicy is Orphan).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["canonical"]))]
    pub environments: Vec<CycloidEnvironment>,
}

/// A Cycloid environment of a project.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CycloidEnvironment {
    /// Environment canonical, unique in the project.
    #[schemars(length(min = 1, max = 100), regex(pattern = CYCLOID_ENV_CANONICAL))]
    pub canonical: String,
    /// Display name; defaults to the canonical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    pub name: Option<String>,
    /// Display color.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub color: Option<String>,
}

/// An OpsChain project. Its code is its natural key and can never change.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpsChainProject {
    /// Project code, used in every OpsChain URL. Immutable.
    #[schemars(length(min = 1, max = 50), regex(pattern = OPSCHAIN_CODE))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("opschain.code is immutable: OpsChain addresses a project by its code"))]
    pub code: String,
    /// Display name.
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
    /// The project type, as the OpsChain instance defines them (for example Standard or
    /// Enterprise). Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("opschain.projectType is immutable"))]
    pub project_type: Option<String>,
    /// Environments of the project, addressed by code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["code"]))]
    pub environments: Vec<OpsChainEnvironment>,
}

/// An OpsChain environment of a project.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpsChainEnvironment {
    /// Environment code, unique in the project.
    #[schemars(length(min = 1, max = 50), regex(pattern = OPSCHAIN_CODE))]
    pub code: String,
    /// Display name; defaults to the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub name: Option<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub description: Option<String>,
}

/// What the platform holds for this project.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatus {
    #[serde(flatten)]
    pub common: CommonStatus,
    /// The platform's id of the project (Choreo id, Cycloid canonical, OpsChain id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// Environments as the platform knows them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<EnvironmentStatus>,
    /// How many environments are converged (a printer column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_count: Option<i32>,
}

/// One environment's platform identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStatus {
    /// The canonical or code declared in the spec.
    pub name: String,
    /// The platform's id of the environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Set on an environment the spec no longer declares that Converge keeps on the platform
    /// for now: why (a declared Component still lives in it). It is deleted once nothing
    /// declared does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
}

impl Kind for Project {
    const KIND: &'static str = "Project";
    const REFERRED_AS: Option<Watched> = Some(Watched::Project);
    type Status = ProjectStatus;

    fn management(&self) -> &Management {
        &self.spec.management
    }
    fn connection_name(&self) -> &str {
        &self.spec.connection_ref.name
    }
    fn platform(&self) -> Option<Platform> {
        match (&self.spec.choreo, &self.spec.cycloid, &self.spec.opschain) {
            (Some(_), _, _) => Some(Platform::Choreo),
            (_, Some(_), _) => Some(Platform::Cycloid),
            (_, _, Some(_)) => Some(Platform::OpsChain),
            (None, None, None) => None,
        }
    }
    fn status(&self) -> Option<&ProjectStatus> {
        self.status.as_ref()
    }
    fn common(status: &ProjectStatus) -> &CommonStatus {
        &status.common
    }
    fn common_mut(status: &mut ProjectStatus) -> &mut CommonStatus {
        &mut status.common
    }
    fn platform_id(status: &ProjectStatus) -> Option<&str> {
        status.project_id.as_deref()
    }
    fn platform_object(&self, id: &str) -> String {
        match (&self.spec.choreo, &self.spec.cycloid, &self.spec.opschain) {
            (Some(c), _, _) => format!("Choreo project {:?} (id {id})", c.name),
            (_, Some(_), _) => format!("Cycloid project {id:?}"),
            (_, _, Some(o)) => format!("OpsChain project {:?} (id {id})", o.code),
            _ => format!("project {id}"),
        }
    }
    /// A kept environment goes once the Components living in it are gone.
    fn waits_for_dependents(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.environments.iter().any(|e| e.kept.is_some()))
    }
}
