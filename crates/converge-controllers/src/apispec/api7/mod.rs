//! API7 Cloud: the definition as an application of the connection's cluster with one API per
//! operation, written with the documented application and API operations (see `plan`), found
//! by its name (`info.title`) before any create, with the declared labels and publish state.

pub mod plan;

use super::document::Document;
use super::event;
use super::reason::INVALID_DEFINITION;
use crate::api7_application;
use converge_api::apispec::{Api7Import, ApiSpec, ApiSpecStatus};
use converge_api::common::conditions::reason;
use converge_core::Platform;
use converge_engine::external::{self, Ensured, PlatformObject};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::PlatformClient;
use converge_platforms::api7::{
    Active, Api7Client, Application, ApplicationPatch, ApplicationSpec, ListFilter,
};

fn client(cx: &Cx<ApiSpec>) -> Result<Api7Client, Failure> {
    match &cx.client {
        PlatformClient::Api7(c) => Ok(c.clone()),
        _ => Err(Failure::stalled(
            reason::INVALID_SPEC,
            "spec.api7 needs an api7 PlatformConnection",
        )),
    }
}

/// The API7 application a definition is imported as: found by its recorded or external id,
/// else by its name (the definition's `info.title`).
struct ApplicationObject<'a> {
    app: &'a ApplicationSpec,
    client: &'a Api7Client,
}

impl PlatformObject<ApiSpec> for ApplicationObject<'_> {
    type Observed = Application;
    type Update = ApplicationPatch;
    const PLATFORM: Platform = Platform::Api7;
    const WHAT: &'static str = "application";

    fn key(&self) -> &str {
        &self.app.name
    }
    fn id(found: &Application) -> String {
        found.id.clone()
    }
    fn record(status: &mut ApiSpecStatus, id: String) {
        status.api_id = Some(id);
    }
    fn before_create(&self, status: &mut ApiSpecStatus) {
        status.definition_hash = None;
    }
    async fn observe(&self, by_id: Option<&str>) -> Result<Option<Application>, Failure> {
        api7_application::find(self.client, by_id, self.key()).await
    }
    async fn create(&self) -> Result<Application, Failure> {
        Ok(self.client.create_application(self.app).await?)
    }
    fn plan(&self, found: &Application) -> Option<(ApplicationPatch, Vec<String>)> {
        plan::app_patch(self.app, found).map(|(patch, what)| (patch, vec![what]))
    }
    async fn update(
        &self,
        found: &Application,
        patch: &ApplicationPatch,
    ) -> Result<Option<Application>, Failure> {
        if patch.name.is_some()
            && let Some(other) = self.client.find_application_by_name(self.key()).await?
        {
            // A new title must not belong to someone else.
            return Err(Failure::stalled(
                reason::CONFLICT,
                format!(
                    "the definition renames the application to {:?}, which API7 application {} \
                     already has; choose another info.title",
                    self.key(),
                    other.id
                ),
            ));
        }
        Ok(Some(self.client.patch_application(&found.id, patch).await?))
    }
}

pub async fn converge(
    obj: &ApiSpec,
    want: &Api7Import,
    doc: &Document,
    cx: &mut Cx<ApiSpec>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    let derived = plan::derive(doc, want).map_err(|m| Failure::stalled(INVALID_DEFINITION, m))?;
    let object = ApplicationObject {
        app: &derived.app,
        client: &client,
    };
    let found = match external::ensure(obj, &object, cx).await? {
        Ensured::Found(found) => found,
        Ensured::Held(mut phase) => {
            // The APIs it would be created with.
            if let Phase::Held { changes, .. } = &mut phase {
                changes.extend(
                    plan::api_changes(&derived.apis, &[])
                        .iter()
                        .map(plan::ApiChange::describe),
                );
            }
            return Ok(phase);
        }
    };
    let mut held = Vec::new();
    let app = external::update(&object, &found, cx, &mut held)
        .await?
        .unwrap_or(found);
    let have_apis = client.list_apis(&app.id, &ListFilter::default()).await?;
    let changes = plan::api_changes(&derived.apis, &have_apis);
    if !cx.may_write() {
        held.extend(changes.iter().map(plan::ApiChange::describe));
        return Ok(cx.held(held));
    }
    let named = format!("API7 application {:?}", app.spec.name);
    for change in changes {
        let what = change.done(&named);
        match change {
            plan::ApiChange::Create(spec) => {
                client.create_api(&app.id, &spec).await?;
            }
            plan::ApiChange::Replace { id, spec } => {
                client.update_api(&app.id, &id, &spec).await?;
            }
            plan::ApiChange::Delete { id, .. } => match client.delete_api(&app.id, &id).await {
                Err(e) if e.is_not_found() => {}
                other => other?,
            },
        }
        cx.did(event::API_CHANGED, what);
    }
    cx.status.definition_hash = Some(doc.hash.clone());
    let published = if app.spec.active == Active::Published {
        "published"
    } else {
        "unpublished"
    };
    Ok(Phase::converged(format!(
        "{named} (id {}), {published}, {} API(s) from the definition",
        app.id,
        derived.apis.len()
    )))
}

/// Deletes the application and its APIs. Already gone is done.
pub async fn delete(cx: &mut Cx<ApiSpec>) -> Result<(), Failure> {
    let client = client(cx)?;
    external::delete(&api7_application::Deletion { client: &client }, cx).await
}
