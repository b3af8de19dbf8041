//! WSO2 Choreo: an existing managed API, observed. Choreo's APIs are read-only, so nothing is
//! ever written, whatever the management policy, and deletion leaves the API alone.

pub mod plan;

use converge_api::apispec::{ApiSpec, ChoreoApi};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::PlatformClient;

use plan::*;

pub async fn converge(want: &ChoreoApi, cx: &mut Cx<ApiSpec>) -> Result<Phase, Failure> {
    let PlatformClient::Choreo(client) = &cx.client else {
        return Err(Failure::stalled(
            converge_api::common::conditions::reason::INVALID_SPEC,
            "spec.choreo needs a choreo PlatformConnection",
        ));
    };
    let found = match (&want.api_id, &want.name) {
        (Some(id), _) => match client.get_api(id).await {
            Ok(api) => vec![api],
            Err(e) if e.is_not_found() => vec![],
            Err(e) => return Err(e.into()),
        },
        (None, Some(name)) => client.find_apis(name, want.version.as_deref()).await?,
        (None, None) => vec![],
    };
    let api = pick(want, found).map_err(Failure::Stop)?;
    let status = &mut cx.status;
    status.api_id = Some(api.id.clone());
    status.lifecycle_status = Some(api.status.to_string());
    status.visibility = api.visibility.as_ref().map(ToString::to_string);
    let message = format!(
        "Choreo API {:?} {} ({}): {}, visibility {}",
        api.name,
        api.version,
        api.id,
        api.status,
        status.visibility.as_deref().unwrap_or("unknown")
    );
    if cx.may_write() {
        Ok(Phase::converged(message))
    } else {
        Ok(cx.held(Vec::new()))
    }
}
