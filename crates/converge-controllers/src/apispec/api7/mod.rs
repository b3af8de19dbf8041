//! API7 Cloud: the definition as an application of the connection's cluster with one API per
//! operation, written with the documented application and API operations (see `plan`), found
//! by its name (`info.title`) before any create, with the declared labels and publish state.

pub mod plan;

use super::document::Document;
use super::event;
use super::reason::INVALID_DEFINITION;
use converge_api::apispec::{Api7Import, ApiSpec};
use converge_api::common::conditions::reason;
use converge_engine::ownership::{self, Ownership};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::PlatformClient;
use converge_platforms::api7::{Active, Api7Client, Application, ListFilter};

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
            format!("API7 application {id} is gone; creating it again"),
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
            || m.adoption_policy == Some(converge_api::common::policy::AdoptionPolicy::Adopt))
}

pub async fn converge(
    obj: &ApiSpec,
    want: &Api7Import,
    doc: &Document,
    cx: &mut Cx<ApiSpec>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    let derived = plan::derive(doc, want).map_err(|m| Failure::stalled(INVALID_DEFINITION, m))?;
    let found = find(&client, obj, doc, cx).await?;
    if let Some(app) = found.as_ref().filter(|a| adopted(obj, cx, a)) {
        cx.status.api_id = Some(app.id.clone());
        cx.did(
            event::ADOPTED,
            format!("adopted API7 application {} ({:?})", app.id, app.spec.name),
        );
    }
    let have_apis = match &found {
        Some(app) => client.list_apis(&app.id, &ListFilter::default()).await?,
        None => Vec::new(),
    };
    let renamed = found
        .as_ref()
        .is_some_and(|a| a.spec.name != derived.app.name);
    if !cx.may_write() {
        let Some(app) = &found else {
            return Ok(cx.held(vec![format!(
                "create application {:?} with {} API(s)",
                derived.app.name,
                derived.apis.len()
            )]));
        };
        let mut changes: Vec<String> = plan::app_patch(&derived.app, app)
            .map(|(_, what)| format!("update application {}: {what}", app.id))
            .into_iter()
            .collect();
        changes.extend(
            plan::api_changes(&derived.apis, &have_apis)
                .iter()
                .map(plan::ApiChange::describe),
        );
        return Ok(cx.held(changes));
    }
    if renamed {
        // A new title must not belong to someone else.
        if let Some(other) = client.find_application_by_name(&derived.app.name).await? {
            return Err(Failure::stalled(
                reason::CONFLICT,
                format!(
                    "the definition renames the application to {:?}, which API7 application {} \
                     already has; choose another info.title",
                    derived.app.name, other.id
                ),
            ));
        }
    }

    let app = match found {
        Some(app) => match plan::app_patch(&derived.app, &app) {
            Some((patch, what)) => {
                let app = client.patch_application(&app.id, &patch).await?;
                cx.did(event::UPDATED, format!("application {}: {what}", app.id));
                app
            }
            None => app,
        },
        None => {
            // A controller restarted after the create finds the application by name, as its
            // own (see `find`).
            cx.before_create(&derived.app.name).await?;
            let app = client.create_application(&derived.app).await?;
            cx.status.api_id = Some(app.id.clone());
            cx.did(
                event::CREATED,
                format!(
                    "created API7 application {} ({:?}) for the definition, path prefix {:?}",
                    app.id, app.spec.name, app.spec.path_prefix
                ),
            );
            cx.created().await?;
            app
        }
    };
    cx.status.api_id = Some(app.id.clone());

    for change in plan::api_changes(&derived.apis, &have_apis) {
        let what = change.describe();
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
        cx.did(
            event::API_CHANGED,
            format!("application {}: {what}", app.id),
        );
    }
    cx.status.definition_hash = Some(doc.hash.clone());
    let published = if app.spec.active == Active::Published {
        "published"
    } else {
        "unpublished"
    };
    Ok(Phase::converged(format!(
        "API7 application {} ({:?}), {published}, {} API(s) from the definition",
        app.id,
        app.spec.name,
        derived.apis.len()
    )))
}

/// Deletes the application and its APIs. Already gone is done.
pub async fn delete(cx: &mut Cx<ApiSpec>) -> Result<(), Failure> {
    let client = client(cx)?;
    let id = match (&cx.status.api_id, &cx.status.common.pending_create) {
        (Some(id), _) => id.clone(),
        // A create whose id was never recorded: the application, if made, bears its title.
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
