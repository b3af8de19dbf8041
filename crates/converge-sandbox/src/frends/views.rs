//! Response bodies, in the documented shapes only: `DtoApiSpecification` (id, name,
//! activeVersion, description) for every specification and version read, create and import,
//! and `ApiPassthroughViewModel`.
//!
//! What the documented shape cannot tell (the base path, which versions are published, what is
//! deployed where and how far) is never added to the platform's answers: the sandbox shows it
//! on its admin surface instead (`GET /_sandbox/frends/specifications[/{id}[/{apiVersion}]]`,
//! see [`SpecificationView`]), for people and tests, never for a client.

use jiff::Timestamp;
use serde::Serialize;

use super::model::{Passthrough, PassthroughSettings, Specification, Version};
use super::paging::Paging;
use crate::Timing;

/// The `{"data": ...}` envelope of every success body.
#[derive(Serialize, Debug)]
pub struct Data<T> {
    pub data: T,
}

/// The envelope of the paged specification list.
#[derive(Serialize, Debug)]
pub struct PagedData<T> {
    pub data: Vec<T>,
    pub paging: Paging,
}

/// DtoApiSpecification.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SpecificationDto {
    pub id: i64,
    pub name: String,
    pub active_version: i32,
    pub description: Option<String>,
}

impl SpecificationDto {
    /// The specification as its active version describes it.
    pub fn of(spec: &Specification) -> Self {
        SpecificationDto::of_version(spec, active(spec))
    }

    /// A version as `GET /{id}/{apiVersion}` returns it: the documented fields describe that
    /// version's document (`activeVersion` stays the specification's active version).
    pub fn of_version(spec: &Specification, version: &Version) -> Self {
        SpecificationDto {
            id: spec.id,
            name: version.name.clone(),
            active_version: spec.active_version,
            description: version.description.clone(),
        }
    }
}

/// Sandbox inspection (admin surface only): a specification with what the platform does not
/// report.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct SpecificationView {
    #[serde(flatten)]
    pub dto: SpecificationDto,
    /// the base path / server URL fixed at creation.
    pub base_path: String,
    /// the newest published (deployable) version, if any.
    pub published_version: Option<i32>,
    /// what is deployed to each agent group.
    pub deployments: Vec<DeploymentView>,
}

/// one agent group's deployment.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentView {
    pub agent_group_id: i64,
    pub version: i32,
    /// `Deploying`, then `Deployed` or `Failed`.
    pub status: &'static str,
}

impl SpecificationView {
    pub fn of(spec: &Specification, timing: &Timing, now: Timestamp) -> Self {
        SpecificationView {
            dto: SpecificationDto::of(spec),
            base_path: spec.base_path.clone(),
            published_version: spec
                .versions
                .values()
                .rev()
                .find(|v| v.published.is_some())
                .map(|v| v.version),
            deployments: deployments(spec, timing, now, None),
        }
    }
}

/// Sandbox inspection (admin surface only): one version with what the platform does not report.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    #[serde(flatten)]
    pub dto: SpecificationDto,
    /// the version number shown.
    pub version: i32,
    pub base_path: String,
    /// published versions are locked and deployable.
    pub is_published: bool,
    pub change_description: Option<String>,
    /// the agent groups this version is deployed to.
    pub deployments: Vec<DeploymentView>,
    /// the OpenAPI document of this version, as sent.
    pub specification: String,
}

impl VersionView {
    pub fn of(spec: &Specification, version: &Version, timing: &Timing, now: Timestamp) -> Self {
        VersionView {
            dto: SpecificationDto::of_version(spec, version),
            version: version.version,
            base_path: spec.base_path.clone(),
            is_published: version.published.is_some(),
            change_description: version
                .published
                .as_ref()
                .and_then(|p| p.change_description.clone()),
            deployments: deployments(spec, timing, now, Some(version.version)),
            specification: version.document.clone(),
        }
    }
}

fn active(spec: &Specification) -> &Version {
    &spec.versions[&spec.active_version]
}

fn deployments(
    spec: &Specification,
    timing: &Timing,
    now: Timestamp,
    only: Option<i32>,
) -> Vec<DeploymentView> {
    spec.deployments
        .iter()
        .filter(|(_, d)| only.is_none_or(|v| d.version == v))
        .map(|(group, d)| DeploymentView {
            agent_group_id: *group,
            version: d.version,
            status: d.status(timing, now),
        })
        .collect()
}

/// ApiPassthroughViewModel.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PassthroughView {
    pub id: i64,
    pub api_version_id: i64,
    pub modifier: String,
    pub modified: String,
    pub path: Option<String>,
    pub method: Option<String>,
    pub is_default: bool,
    /// corsEnabled, targetUrl, headers, allowedOrigins.
    #[serde(flatten)]
    pub settings: PassthroughSettings,
}

impl PassthroughView {
    pub fn of(p: &Passthrough, api_version_id: i64) -> Self {
        PassthroughView {
            id: p.id,
            api_version_id,
            modifier: p.modifier.clone(),
            modified: timestamp(p.modified),
            path: p.path.clone(),
            method: p.method.clone(),
            is_default: p.is_default,
            settings: p.settings.clone(),
        }
    }
}

/// Timestamps as the docs show them: UTC with milliseconds, `2025-09-07T10:06:05.654Z`.
pub fn timestamp(t: Timestamp) -> String {
    format!("{t:.3}")
}
