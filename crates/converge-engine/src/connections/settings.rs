//! The client settings a PlatformConnection's spec gives: the one place the CRD's shape meets
//! the platforms crate, which knows nothing of Kubernetes.

use std::time::Duration;

use converge_api::connection::{PlatformConnectionSpec, RequestBudget};
use converge_platforms::{Scope, Settings};

pub fn from_spec(spec: &PlatformConnectionSpec, ca_bundle: Option<Vec<u8>>) -> Settings {
    let budget = spec.request_budget.clone().unwrap_or(RequestBudget {
        requests_per_second: None,
        burst: None,
    });
    // The schema bounds these to positive values; clamp anyway for objects from before it.
    let rate = budget.requests_per_second.unwrap_or(10).max(1) as u32;
    let scope = if let Some(c) = &spec.choreo {
        Scope::Choreo {
            organization_id: c.organization_id.clone(),
        }
    } else if let Some(c) = &spec.cycloid {
        Scope::Cycloid {
            organization: c.organization.clone(),
        }
    } else if let Some(f) = &spec.frends {
        Scope::Frends {
            default_agent_group_id: f.default_agent_group_id,
        }
    } else if let Some(a) = &spec.api7 {
        Scope::Api7 {
            organization_id: a.organization_id.clone(),
            cluster_id: a.cluster_id.clone(),
            metrics_path: a.metrics_path.clone(),
        }
    } else if spec.opschain.is_some() {
        Scope::OpsChain
    } else {
        Scope::None
    };
    Settings {
        connection: String::new(),
        endpoint: spec.endpoint.clone(),
        timeout: Duration::from_secs(spec.timeout_seconds.unwrap_or(30).max(1) as u64),
        requests_per_second: rate,
        burst: budget
            .burst
            .map(|b| b.max(1) as u32)
            .unwrap_or(rate.saturating_mul(2)),
        ca_bundle,
        scope,
        read_only: false,
    }
}

/// The platform's name as status and metrics show it.
pub fn platform_of(spec: &PlatformConnectionSpec) -> &'static str {
    spec.platform().map_or("none", |p| p.id())
}
