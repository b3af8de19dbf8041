//! Where a request points: its cluster, and for `/apps/{app_id}/...` its application.
//!
//! The Go SDK sends `X-API7-Cloud-Gateway-Cluster-ID` on every cluster-scoped call and refuses
//! to make an `/apps/{app_id}/...` call without it: those paths do not name the cluster, the
//! header does. So the sandbox requires the header there (400 without it, 404 when the
//! application is not in that cluster). Under `/clusters/{cluster_id}/...` the path names the
//! cluster and the header is optional, but when sent it must name the same cluster (400).
//! Writes into a cluster that is still being created, or whose creation failed, are refused
//! (400) until it is normal.

use axum::http::HeaderMap;

use super::envelope::ApiError;
use super::model::{Clock, Id, State, cluster_status};
use super::validate::path_id;

/// The header that names the gateway cluster.
pub const CLUSTER_HEADER: &str = "X-API7-Cloud-Gateway-Cluster-ID";

fn header_cluster(headers: &HeaderMap) -> Result<Option<Id>, ApiError> {
    let Some(value) = headers.get(CLUSTER_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| Id::parse(v.trim()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{CLUSTER_HEADER} in header should match '^[1-9][0-9]*$'"
            ))
        })
}

/// The cluster of a `/clusters/{cluster_id}/...` path: a valid id, consistent with the header,
/// existing.
pub fn cluster(state: &State, headers: &HeaderMap, raw: &str) -> Result<Id, ApiError> {
    let id = path_id("cluster_id", raw)?;
    if let Some(h) = header_cluster(headers)?
        && h != id
    {
        return Err(ApiError::invalid(format!(
            "{CLUSTER_HEADER} header names cluster {h} but the path names cluster {id}"
        )));
    }
    if !state.clusters.contains_key(&id) {
        return Err(ApiError::not_found("cluster", id));
    }
    Ok(id)
}

/// Refuses writes into a cluster that is not (yet) normal.
pub fn writable(state: &State, cluster: Id, clock: &Clock) -> Result<(), ApiError> {
    let status = state
        .clusters
        .get(&cluster)
        .map(|c| c.status(clock))
        .ok_or_else(|| ApiError::not_found("cluster", cluster))?;
    if status != cluster_status::NORMAL {
        return Err(ApiError::invalid(format!(
            "cluster {cluster} is not ready: its status is {status} ({})",
            cluster_status::name(status)
        )));
    }
    Ok(())
}

/// The cluster (from the header) and application of an `/apps/{app_id}/...` path.
pub fn app(state: &State, headers: &HeaderMap, raw_app: &str) -> Result<(Id, Id), ApiError> {
    let app = path_id("app_id", raw_app)?;
    let cluster = header_cluster(headers)?.ok_or_else(|| {
        ApiError::invalid(format!(
            "{CLUSTER_HEADER} header is required: it names the cluster of the application"
        ))
    })?;
    if !state.clusters.contains_key(&cluster) {
        return Err(ApiError::not_found("cluster", cluster));
    }
    match state.applications.get(&app) {
        Some(a) if a.cluster_id == cluster => Ok((cluster, app)),
        _ => Err(ApiError::not_found("application", app)),
    }
}
