//! API7 Cloud: the definition imported as an application of the connection's cluster, found by
//! its name (`info.title`) before any import, with the declared labels and publish state.

pub mod plan;

use plan::AppWrite;

use super::crd::{Api7Import, ApiSpec};
use super::document::Document;
use super::event;
use crate::clients::PlatformClient;
use crate::clients::api7::{Api7Client, Application};
use crate::common::conditions::reason;
use crate::engine::ownership::{self, Ownership};
use crate::engine::{Cx, Failure, Phase};

fn client(cx: &Cx<ApiSpec>) -> Result<Api7Client, Failure> {
    match &cx.client {
        PlatformClient::Api7(c) => Ok(c.clone()),
        _ => Err(Failure::stalled(
            reason::INVALID_SPEC,
            "spec.api7 needs an api7 PlatformConnection",
        )),
    }
}

async fn get(client: &Api7Client, id: &str) -> Result<Option<Application>, Failure> {
    match client.get_application(id).await {
        Ok(a) => Ok(Some(a)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The application called `title` if it may be this object's; stops on someone else's.
async fn by_name(
    client: &Api7Client,
    obj: &ApiSpec,
    cx: &Cx<ApiSpec>,
    title: &str,
) -> Result<Option<Application>, Failure> {
    let Some(app) = client.find_application_by_name(title).await? else {
        return Ok(None);
    };
    match ownership::of(
        &obj.spec.management,
        cx.status.api_id.as_deref(),
        cx.status.common.pending_create.as_deref(),
        title,
        &app.id,
    ) {
        Ownership::Conflict => Err(Failure::stalled(
            reason::CONFLICT,
            ownership::conflict_message("API7 Cloud", "application", title, &app.id),
        )),
        _ => Ok(Some(app)),
    }
}

async fn find(
    client: &Api7Client,
    obj: &ApiSpec,
    doc: &Document,
    cx: &mut Cx<ApiSpec>,
) -> Result<Option<Application>, Failure> {
    if let Some(id) = cx.status.api_id.clone() {
        if let Some(app) = get(client, &id).await? {
            return Ok(Some(app));
        }
        cx.warn(
            event::RECREATING,
            format!("API7 application {id} is gone; importing the definition again"),
        );
        cx.status.api_id = None;
        cx.status.definition_hash = None;
    }
    if let Some(external) = obj.spec.management.external_id.as_deref() {
        return match get(client, external).await? {
            Some(app) => Ok(Some(app)),
            None => Err(Failure::stalled(
                reason::INVALID_SPEC,
                format!(
                    "API7 Cloud has no application {external} in this cluster (spec.externalId)"
                ),
            )),
        };
    }
    by_name(client, obj, cx, &doc.title).await
}

/// Whether `app` is taken over now rather than found as Converge's own.
fn adopted(obj: &ApiSpec, cx: &Cx<ApiSpec>, app: &Application) -> bool {
    let m = &obj.spec.management;
    let ours = cx.status.api_id.as_deref() == Some(app.id.as_str())
        || cx.status.common.pending_create.is_some();
    !ours
        && (m.external_id.is_some()
            || m.adoption_policy == Some(crate::common::policy::AdoptionPolicy::Adopt))
}

pub async fn converge(
    obj: &ApiSpec,
    want: &Api7Import,
    doc: &Document,
    cx: &mut Cx<ApiSpec>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    let found = find(&client, obj, doc, cx).await?;
    if let Some(app) = found.as_ref().filter(|a| adopted(obj, cx, a)) {
        // An adopted application is taken as imported from this definition: re-importing it
        // would replace it with a new id. Later changes of the definition re-import it.
        cx.status.api_id = Some(app.id.clone());
        cx.status.definition_hash = Some(doc.hash.clone());
    }
    let write = plan::app_write(found.as_ref(), cx.status.definition_hash.as_deref(), doc);
    if !cx.may_write() {
        let mut changes = match &write {
            AppWrite::Import => vec![format!(
                "import the definition as application {:?}",
                doc.title
            )],
            AppWrite::Reimport { old } => {
                vec![format!(
                    "re-import the changed definition (replacing application {old})"
                )]
            }
            AppWrite::Nothing => vec![],
        };
        if let Some(app) = found.as_ref().filter(|_| write == AppWrite::Nothing) {
            changes.extend(
                plan::settings_patch(want, app)
                    .iter()
                    .flat_map(plan::describe),
            );
        }
        return Ok(cx.held(changes));
    }

    let app = match (found, write) {
        (Some(app), AppWrite::Nothing) => app,
        (found, write) => {
            if let (Some(app), AppWrite::Reimport { old }) = (&found, &write) {
                // A new title must not belong to someone else before the old one goes.
                if app.spec.name != doc.title {
                    by_name(&client, obj, cx, &doc.title).await?;
                }
                cx.before_create(&doc.title).await?;
                match client.delete_application(old, true).await {
                    Err(e) if e.is_not_found() => {}
                    other => other?,
                }
                cx.status.api_id = None;
                cx.did(
                    event::REIMPORTED,
                    format!("deleted application {old} to import the changed definition"),
                );
            }
            // Nothing of ours exists now: a controller restarted after the import finds the
            // application by name, as its own, with this content.
            cx.status.definition_hash = Some(doc.hash.clone());
            cx.before_create(&doc.title).await?;
            let app = client.import_openapi(&doc.text).await?;
            cx.status.api_id = Some(app.id.clone());
            cx.status.definition_hash = Some(doc.hash.clone());
            cx.did(
                event::CREATED,
                format!(
                    "imported the definition as application {} ({:?})",
                    app.id, doc.title
                ),
            );
            cx.created().await?;
            app
        }
    };
    cx.status.api_id = Some(app.id.clone());

    let app = match plan::settings_patch(want, &app) {
        Some(patch) => {
            let what = plan::describe(&patch).join(", ");
            let app = client.patch_application(&app.id, &patch).await?;
            cx.did(event::UPDATED, format!("application {}: {what}", app.id));
            app
        }
        None => app,
    };
    let published = if app.spec.active == crate::clients::api7::Active::Published {
        "published"
    } else {
        "unpublished"
    };
    Ok(Phase::converged(format!(
        "API7 application {} ({:?}), {published}",
        app.id, app.spec.name
    )))
}

/// Deletes the application and its APIs. Already gone is done.
pub async fn delete(cx: &mut Cx<ApiSpec>) -> Result<(), Failure> {
    let client = client(cx)?;
    let id = match (&cx.status.api_id, &cx.status.common.pending_create) {
        (Some(id), _) => id.clone(),
        // An import whose id was never recorded: the application, if made, bears its title.
        (None, Some(title)) => match client.find_application_by_name(title).await? {
            Some(app) => app.id,
            None => return Ok(()),
        },
        (None, None) => return Ok(()),
    };
    match client.delete_application(&id, true).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => Ok(other?),
    }
}
