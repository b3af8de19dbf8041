//! Canary releases of an application: `/apps/{app_id}/canary_releases`, in the cluster the
//! header names. A release is driven by `PUT`s of the whole release: `state` in_progress
//! starts (or resumes) it, paused holds it, finished ends it for good; each step of a percent
//! release is a `PUT` with a new `percent`.

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::envelope::null_default;
use super::{
    Api7Client, CanaryState, CanaryType, ClientError, EntityStatus, ListFilter, RouteExpression,
    check_id,
};

/// What a client sets on a canary release: the body of a create and of a `PUT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryReleaseSpec {
    /// Unique in the application (409 otherwise): the release's natural key. 1..64 characters.
    pub name: String,
    /// A new release is paused or in_progress, never finished.
    pub state: CanaryState,
    #[serde(rename = "type")]
    pub kind: CanaryType,
    /// The upstream version that receives canary traffic: one of the application's versions,
    /// not its default one, and held by no other open release (409).
    pub canary_upstream_version: String,
    /// 1..100: the share of requests sent to the canary version (type percent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u8>,
    /// Which requests go to the canary version (type rule).
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub expressions: Vec<RouteExpression>,
}

/// A canary release as the platform answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CanaryRelease {
    pub id: String,
    pub app_id: String,
    /// Whether the last change has reached the gateways.
    pub status: EntityStatus,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    #[serde(flatten)]
    pub spec: CanaryReleaseSpec,
}

impl Api7Client {
    fn canaries_path(app_id: &str) -> Result<String, ClientError> {
        check_id("application id", app_id)?;
        Ok(format!("/apps/{app_id}/canary_releases"))
    }

    fn canary_path(app_id: &str, canary_id: &str) -> Result<String, ClientError> {
        check_id("canary release id", canary_id)?;
        Ok(format!("{}/{canary_id}", Self::canaries_path(app_id)?))
    }

    /// Every canary release of an application (finished ones included) matching `filter`,
    /// all pages walked.
    pub async fn list_canary_releases(
        &self,
        app_id: &str,
        filter: &ListFilter,
    ) -> Result<Vec<CanaryRelease>, ClientError> {
        self.list_all("listCanaryRelease", &Self::canaries_path(app_id)?, filter)
            .await
    }

    /// The canary release of an application named exactly `name`, or None.
    pub async fn find_canary_release_by_name(
        &self,
        app_id: &str,
        name: &str,
    ) -> Result<Option<CanaryRelease>, ClientError> {
        let found = self
            .list_canary_releases(app_id, &ListFilter::search(name))
            .await?;
        Ok(found.into_iter().find(|c| c.spec.name == name))
    }

    /// One canary release. 404 when it (or its application) is not there.
    pub async fn get_canary_release(
        &self,
        app_id: &str,
        canary_id: &str,
    ) -> Result<CanaryRelease, ClientError> {
        let path = Self::canary_path(app_id, canary_id)?;
        let call = Self::call(Method::GET, "getCanaryRelease", &path);
        self.payload(self.in_cluster(call)).await
    }

    /// Creates a canary release. Not retried: after an error whose effect is unknown, look
    /// it up with [`Api7Client::find_canary_release_by_name`]. 409 when the name is taken or
    /// another open release holds the version; 400 when the version is the default one or
    /// not one of the application's, or when created finished.
    pub async fn create_canary_release(
        &self,
        app_id: &str,
        spec: &CanaryReleaseSpec,
    ) -> Result<CanaryRelease, ClientError> {
        let path = Self::canaries_path(app_id)?;
        let call = Self::call(Method::POST, "createCanaryRelease", &path).json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Replaces the whole release: starts, pauses, steps (`percent`) or finishes it. A
    /// finished release refuses any change (400), but the same `PUT` again succeeds, so a
    /// repeated "finish" is harmless. The docs show this answer without a payload, so the
    /// release is read back when the platform sends none.
    pub async fn update_canary_release(
        &self,
        app_id: &str,
        canary_id: &str,
        spec: &CanaryReleaseSpec,
    ) -> Result<CanaryRelease, ClientError> {
        let path = Self::canary_path(app_id, canary_id)?;
        let call = Self::call(Method::PUT, "updateCanaryRelease", &path).json(spec);
        match self.maybe_payload(self.in_cluster(call)).await? {
            Some(release) => Ok(release),
            None => self.get_canary_release(app_id, canary_id).await,
        }
    }

    /// Deletes a canary release. 404 when already gone.
    pub async fn delete_canary_release(
        &self,
        app_id: &str,
        canary_id: &str,
    ) -> Result<(), ClientError> {
        let path = Self::canary_path(app_id, canary_id)?;
        let call = Self::call(Method::DELETE, "deleteCanaryRelease", &path);
        self.no_payload(self.in_cluster(call)).await
    }
}
