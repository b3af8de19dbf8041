//! A GatewayApplication on API7 Cloud: find the application (recorded id, externalId, or name)
//! → decide (pure: `plan`, over `application`, `apis`, `canary`) → write what differs, in an
//! order the platform accepts → status.
//!
//! A canary check that is due (`canary::due`) is measured before deciding (`metrics`), so the
//! decision stays pure; the failpoint `canary-measured` holds a controller right after a
//! measurement, for the crash tests.
//!
//! Write order: a release no longer declared is ended first (it may hold an upstream version
//! the application update drops); then a canary decision that must survive a crash is
//! recorded in status (`canary::Plan::save_first`); then the application (which may add the
//! canary's version or promote it); then the APIs; then the canary step.

use crate::api7_application;
use crate::gateway::reason;
use analysis::Measured;
use apis::ApiAction;
use application::spec_default_version;
use canary::Write;
use converge_api::common::conditions::reason as common_reason;
use converge_api::gateway::{
    ApiStatus, GatewayApplication, GatewayApplicationSpec, GatewayApplicationStatus,
};
use plan::Observed;
pub mod analysis;
pub mod apis;
pub mod application;
pub mod canary;
pub mod metrics;
pub mod plan;

use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformObject};
use converge_engine::{Cx, Failure, Phase, drift};
use converge_platforms::PlatformClient;
use converge_platforms::api7::{Api7Client, Application, CanaryRelease, CanaryState, ListFilter};

/// Delete the application; its APIs and canary releases go with it.
pub async fn delete(cx: &mut Cx<GatewayApplication>) -> Result<(), Failure> {
    let api7 = client(cx)?;
    external::delete(&api7_application::Deletion { client: &api7 }, cx).await
}

fn client(cx: &Cx<GatewayApplication>) -> Result<Api7Client, Failure> {
    match &cx.client {
        PlatformClient::Api7(c) => Ok(c.clone()),
        other @ (PlatformClient::Choreo(_)
        | PlatformClient::Cycloid(_)
        | PlatformClient::Frends(_)
        | PlatformClient::OpsChain(_)) => Err(Failure::stalled(
            common_reason::INVALID_SPEC,
            format!(
                "a GatewayApplication needs an api7 PlatformConnection, not {}",
                other.platform()
            ),
        )),
    }
}

fn gone_is_fine(result: Result<(), converge_platforms::ClientError>) -> Result<(), Failure> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => Ok(other?),
    }
}

/// The API7 application a GatewayApplication declares: found by its recorded or external id,
/// else by name. Its fields are written by `plan`, with the canary and the APIs, in the order
/// the module doc gives, so only the protocol's first three steps are the engine's.
struct ApplicationObject<'a> {
    spec: &'a GatewayApplicationSpec,
    api7: &'a Api7Client,
}

impl PlatformObject<GatewayApplication> for ApplicationObject<'_> {
    type Observed = Application;
    type Update = ();
    const PLATFORM: Platform = Platform::Api7;
    const WHAT: &'static str = "application";

    fn key(&self) -> &str {
        &self.spec.name
    }
    fn id(found: &Application) -> String {
        found.id.clone()
    }
    fn record(status: &mut GatewayApplicationStatus, id: String) {
        status.application_id = Some(id);
    }
    fn before_create(&self, status: &mut GatewayApplicationStatus) {
        status.apis.clear();
    }
    async fn observe(&self, by_id: Option<&str>) -> Result<Option<Application>, Failure> {
        api7_application::find(self.api7, by_id, &self.spec.name).await
    }
    async fn create(&self) -> Result<Application, Failure> {
        let body = application::create_body(self.spec, spec_default_version(self.spec));
        Ok(self.api7.create_application(&body).await?)
    }
}

pub async fn converge(
    obj: &GatewayApplication,
    cx: &mut Cx<GatewayApplication>,
) -> Result<Phase, Failure> {
    let api7 = client(cx)?;
    let spec = &obj.spec;
    let object = ApplicationObject { spec, api7: &api7 };
    let app = match external::ensure(obj, &object, cx).await? {
        Ensured::Found(app) => app,
        Ensured::Held(mut phase) => {
            if let Phase::Held { changes, .. } = &mut phase {
                changes.extend(plan::create_changes(spec));
            }
            return Ok(phase);
        }
    };

    // Observe the rest.
    let release = match &spec.canary {
        Some(c) => api7.find_canary_release_by_name(&app.id, &c.name).await?,
        None => None,
    };
    let retired = undeclared_release(&api7, obj, &app.id, cx.status.canary.as_ref()).await?;
    let observed_apis = api7.list_apis(&app.id, &ListFilter::default()).await?;
    let observed = Observed {
        app: &app,
        release: release.as_ref(),
        undeclared_release: retired.as_ref(),
        apis: &observed_apis,
    };

    let now = jiff::Timestamp::now();
    let measured = match &spec.canary {
        Some(c) if cx.may_write() => measure(&api7, c, release.as_ref(), &app.id, cx, now).await,
        _ => None,
    };
    let plan = plan::decide(spec, &observed, &cx.status, measured.as_ref(), now);
    cx.status.apis = plan.api_ids.clone();
    if !cx.may_write() {
        cx.status.canary = spec.canary.as_ref().and_then(|c| {
            canary::observed(
                c,
                release.as_ref(),
                cx.status.canary.as_ref(),
                &app.spec.default_upstream_version,
            )
        });
        return Ok(cx.held(plan.changes()));
    }

    // Write.
    if let Some(w) = &plan.retire {
        write_canary(&api7, cx, &app.id, w, reason::CANARY_ABORTED).await?;
    }
    if let Some(c) = plan.canary.as_ref().filter(|c| c.save_first) {
        // A decision that takes several writes (or replaces a release) is recorded before the
        // first of them, so a crash in between completes it (see `canary`).
        cx.status.canary = Some(c.status.clone());
        cx.save().await?;
    }
    if !plan.app_changes.is_empty() {
        api7.patch_application(&app.id, &plan.patch).await?;
        let what = plan.app_changes.join("; ");
        cx.did(
            reason::UPDATED,
            format!("updated API7 application {:?}: {what}", spec.name),
        );
    }
    for action in &plan.api_actions {
        apply_api(&api7, cx, &app.id, action).await?;
    }
    if spec.canary.is_none() {
        cx.status.canary = None;
    }
    let Some(mut step) = plan.canary else {
        return Ok(converged(spec, &app.id, None));
    };
    for note in std::mem::take(&mut step.notes) {
        if note.warning {
            cx.warn(note.reason, note.message);
        } else {
            cx.note(note.reason, note.message);
        }
    }
    if let Some(w) = &step.write {
        let why = canary_reason(w, step.promote);
        if let Some(id) = write_canary(&api7, cx, &app.id, w, why).await? {
            step.status.id = Some(id);
        }
    }
    cx.status.canary = Some(step.status);
    let recheck = step
        .recheck
        .map(|r| r.min(drift::interval(&spec.management)));
    if let Some(why) = step.stalled {
        if let Some(r) = recheck {
            cx.wake_within(r);
        }
        return Ok(Phase::stalled(why, step.message));
    }
    Ok(match recheck {
        Some(recheck) => Phase::progressing(step.message, recheck),
        None => converged(spec, &app.id, Some(&step.message)),
    })
}

/// Measures the canary check due now, if one is.
async fn measure(
    api7: &Api7Client,
    canary: &converge_api::gateway::Canary,
    release: Option<&CanaryRelease>,
    app_id: &str,
    cx: &Cx<GatewayApplication>,
    now: jiff::Timestamp,
) -> Option<Measured> {
    let analysis = canary.analysis.as_ref()?;
    let window = canary::due(canary, release, cx.status.canary.as_ref(), now)?;
    let target = metrics::Target {
        api7,
        app_id,
        apis: &cx.status.apis,
    };
    let measured = metrics::measure(&target, analysis, &window).await;
    // The window the crash tests aim at: a check made, nothing recorded or decided yet.
    fail::fail_point!("canary-measured");
    Some(measured)
}

fn converged(
    spec: &converge_api::gateway::GatewayApplicationSpec,
    id: &str,
    canary: Option<&str>,
) -> Phase {
    let mut message = format!(
        "application {} (id {id}) matches the spec with {} API(s)",
        spec.name,
        spec.apis.len()
    );
    if let Some(c) = canary {
        message.push_str("; ");
        message.push_str(c);
    }
    Phase::converged(message)
}

/// A release status recorded that the spec no longer declares under that name, if still there.
async fn undeclared_release(
    api7: &Api7Client,
    obj: &GatewayApplication,
    app_id: &str,
    recorded: Option<&converge_api::gateway::CanaryStatus>,
) -> Result<Option<CanaryRelease>, Failure> {
    let Some(rec) = recorded else {
        return Ok(None);
    };
    let declared = obj.spec.canary.as_ref().map(|c| c.name.as_str());
    let (Some(id), false) = (rec.id.as_deref(), rec.name.as_deref() == declared) else {
        return Ok(None);
    };
    match api7.get_canary_release(app_id, id).await {
        Ok(r) => Ok(Some(r)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The Event reason of a canary write.
fn canary_reason(write: &Write, promote: bool) -> &'static str {
    match write {
        Write::Create { .. } | Write::Replace { .. } => reason::CANARY_STARTED,
        Write::Update { body, .. } if body.state == CanaryState::Finished && promote => {
            reason::CANARY_PROMOTED
        }
        Write::Update { body, .. } if body.state == CanaryState::Finished => reason::CANARY_ABORTED,
        Write::Update { .. } => reason::CANARY_ADVANCED,
    }
}

/// Does one canary write; returns the id of a created release.
async fn write_canary(
    api7: &Api7Client,
    cx: &mut Cx<GatewayApplication>,
    app_id: &str,
    write: &Write,
    why: &'static str,
) -> Result<Option<String>, Failure> {
    match write {
        Write::Create { body, .. } => {
            // Releases are looked up by name before this, so a create lost in a crash is
            // found again rather than repeated.
            let r = api7.create_canary_release(app_id, body).await?;
            cx.did(why, format!("{} (id {})", write.describe(), r.id));
            Ok(Some(r.id))
        }
        Write::Replace { old, body, .. } => {
            // Status already says this run has no release yet (saved first), so after a crash
            // here the finished release is still known for the earlier run's.
            gone_is_fine(api7.delete_canary_release(app_id, old).await)?;
            let r = api7.create_canary_release(app_id, body).await?;
            cx.did(why, format!("{} (id {})", write.describe(), r.id));
            Ok(Some(r.id))
        }
        Write::Update { id, body, what } => {
            api7.update_canary_release(app_id, id, body).await?;
            cx.did(why, what.clone());
            Ok(None)
        }
    }
}

async fn apply_api(
    api7: &Api7Client,
    cx: &mut Cx<GatewayApplication>,
    app_id: &str,
    action: &ApiAction,
) -> Result<(), Failure> {
    match action {
        ApiAction::Create { name, body } => {
            let api = api7.create_api(app_id, body).await?;
            cx.status.apis.push(ApiStatus {
                name: name.clone(),
                id: api.id.clone(),
            });
            cx.did(
                reason::API_CREATED,
                format!("created API {name} (id {})", api.id),
            );
            // Recorded at once: only recorded APIs are ever deleted as ours.
            cx.save().await?;
        }
        ApiAction::Update { id, body, .. } => {
            api7.update_api(app_id, id, body).await?;
            cx.did(reason::API_UPDATED, action.describe());
        }
        ApiAction::Delete { id, .. } => {
            gone_is_fine(api7.delete_api(app_id, id).await)?;
            cx.status.apis.retain(|a| a.id != *id);
            cx.did(reason::API_DELETED, action.describe());
        }
    }
    Ok(())
}
