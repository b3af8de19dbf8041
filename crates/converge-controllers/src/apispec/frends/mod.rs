//! Frends: create the specification from the document (its description marked as this
//! object's), keep its active version's document and passthrough configurations as declared,
//! publish new content once, request deployments to agent groups. Only documented fields are
//! read back; what Frends does not report is recorded in status (see `plan`).

pub mod plan;

use plan::{PassthroughChange, SpecWrite};

use super::document::{Document, Marked, marked, path_key};
use super::event;
use super::reason;
use converge_api::apispec::{ApiSpec, FrendsApi};
use converge_engine::{Cx, Failure, Phase};
use converge_platforms::ClientError;
use converge_platforms::PlatformClient;
use converge_platforms::frends::{ApiSpecification, FrendsClient, Passthrough, is_path_in_use};

fn client(cx: &Cx<ApiSpec>) -> Result<FrendsClient, Failure> {
    match &cx.client {
        PlatformClient::Frends(c) => Ok(c.clone()),
        _ => Err(Failure::stalled(
            converge_api::common::conditions::reason::INVALID_SPEC,
            "spec.frends needs a frends PlatformConnection",
        )),
    }
}

/// The marker this object's descriptions end with (see `plan::marker`).
fn marker_of(obj: &ApiSpec) -> String {
    plan::marker(
        obj.metadata.namespace.as_deref().unwrap_or_default(),
        obj.metadata.name.as_deref().unwrap_or_default(),
        obj.metadata.uid.as_deref().unwrap_or_default(),
    )
}

pub async fn converge(
    obj: &ApiSpec,
    f: &FrendsApi,
    doc: &Document,
    cx: &mut Cx<ApiSpec>,
) -> Result<Phase, Failure> {
    let client = client(cx)?;
    match &doc.base_path {
        Some(b) if path_key(b) == path_key(&f.base_path) => {}
        declared => {
            let declared = match declared {
                Some(b) => format!("declares the base path {b:?}"),
                None => "declares no base path (no servers[0].url or basePath)".to_string(),
            };
            return Err(Failure::stalled(
                reason::INVALID_DEFINITION,
                format!(
                    "the definition {declared} but frends.basePath is {:?}; Frends never changes \
                     a specification's base path, so make them match",
                    f.base_path
                ),
            ));
        }
    }
    let marker = marker_of(obj);
    let written =
        marked(doc, &marker).map_err(|e| Failure::stalled(reason::INVALID_DEFINITION, e))?;
    let found = find(&client, obj, &marker, cx).await?;
    let write = plan::spec_write(
        found.as_ref(),
        cx.status.definition_hash.as_deref(),
        doc,
        &written.description,
    );
    if !cx.may_write() {
        return held(&client, f, doc, found.as_ref(), &write, cx).await;
    }

    let spec = match (found, write) {
        (None, _) => create(&client, obj, f, doc, &written, &marker, cx).await?,
        (Some(s), SpecWrite::Update(why)) => {
            client.update_specification(s.id, &written.text).await?;
            cx.did(
                event::UPDATED,
                format!(
                    "wrote the definition to active version {} ({why})",
                    s.active_version
                ),
            );
            cx.status.definition_hash = Some(doc.hash.clone());
            client.get_specification(s.id).await?
        }
        (Some(s), _) => s,
    };
    cx.status.api_id = Some(spec.id.to_string());

    let actual = passthroughs(&client, f, &spec).await?;
    for change in plan::passthrough_changes(&f.passthrough, &actual) {
        let what = change.describe();
        match change {
            PassthroughChange::Create(p) => {
                client
                    .create_passthrough(spec.id, spec.active_version, &p)
                    .await?;
            }
            PassthroughChange::Update { id, settings, .. } => {
                client
                    .update_passthrough(spec.id, spec.active_version, id, &settings)
                    .await?;
            }
            PassthroughChange::Delete { id, .. } => {
                match client
                    .delete_passthrough(spec.id, spec.active_version, id)
                    .await
                {
                    Err(e) if e.is_not_found() => {}
                    other => other?,
                }
            }
        }
        cx.did(
            event::PASSTHROUGH,
            format!("{what} on version {}", spec.active_version),
        );
    }

    let content = plan::content_hash(doc, &f.passthrough);
    let step = plan::publish_step(
        f.publish.as_ref(),
        &content,
        &cx.status,
        spec.active_version,
    );
    if step.happened {
        cx.status.published_hash = cx.status.pending_publish.take();
    }
    let mut active = spec.active_version;
    if step.publish {
        let description = f.publish.as_ref().map(|p| p.change_description.as_str());
        cx.status.active_version = Some(active);
        cx.status.pending_publish = Some(content.clone());
        cx.save().await?;
        client.publish_specification(spec.id, description).await?;
        cx.did(event::PUBLISHED, format!("published version {active}"));
        active = client.get_specification(spec.id).await?.active_version;
        cx.status.published_hash = Some(content);
        cx.status.pending_publish = None;
    }
    cx.status.active_version = Some(active);
    let published = plan::published_version(active);
    cx.status.published_version = published;

    let deploys = plan::deploy_plan(&f.deployments, published, &cx.status.deployments)
        .map_err(|m| Failure::stalled(converge_api::common::conditions::reason::INVALID_SPEC, m))?;
    let mut after = deploys.after;
    for d in &deploys.deploy {
        client
            .deploy_version(spec.id, d.version, d.agent_group_id)
            .await?;
        let at = jiff::Timestamp::now().to_string();
        for a in after
            .iter_mut()
            .filter(|a| a.agent_group_id == d.agent_group_id && a.version == d.version)
        {
            a.requested_at = Some(at.clone());
        }
        cx.did(
            event::DEPLOYMENT_REQUESTED,
            format!(
                "requested the deployment of version {} to agent group {} (Frends answered \
                 \"Deployment started\" and reports no progress)",
                d.version, d.agent_group_id
            ),
        );
    }
    for group in &deploys.remove {
        match client.remove_from_agent_group(spec.id, *group).await {
            Err(e) if e.is_not_found() => {}
            other => other?,
        }
        cx.did(
            event::UNDEPLOYED,
            format!("removed the specification from agent group {group}"),
        );
    }
    cx.status.deployments = after;
    Ok(Phase::converged(summary(&spec, active, &cx.status)))
}

/// Creates the specification (marked), or, when Frends refuses because another API serves the
/// base path, adopts it if the manifest says so.
async fn create(
    client: &FrendsClient,
    obj: &ApiSpec,
    f: &FrendsApi,
    doc: &Document,
    written: &Marked,
    marker: &str,
    cx: &mut Cx<ApiSpec>,
) -> Result<ApiSpecification, Failure> {
    // Recorded with the create: a controller restarted after the call finds the specification
    // by its marker, with this content.
    cx.status.definition_hash = Some(doc.hash.clone());
    cx.status.published_hash = None;
    cx.status.pending_publish = None;
    cx.status.deployments.clear();
    cx.before_create(marker).await?;
    match client.create_specification(&written.text).await {
        Ok(created) => {
            cx.status.api_id = Some(created.id.to_string());
            cx.status.active_version = Some(created.active_version);
            cx.did(
                event::CREATED,
                format!(
                    "created Frends API specification {} ({:?}) on base path {:?}",
                    created.id, doc.title, f.base_path
                ),
            );
            cx.created().await?;
            Ok(created)
        }
        Err(e) if is_path_in_use(&e) => {
            // Nothing was created; what serves the path is someone else's.
            cx.status.common.pending_create = None;
            cx.status.definition_hash = None;
            let listed = client.list_specifications().await?;
            let found = plan::path_taken(
                &obj.spec.management,
                &doc.title,
                &f.base_path,
                listed,
                e.message(),
            )
            .map_err(Failure::Stop)?;
            match client.update_specification(found.id, &written.text).await {
                Ok(()) => {}
                // Frends refuses a document that would change a specification's base path:
                // the one named so serves another.
                Err(refused) if matches!(refused.status(), Some(400..=499)) => {
                    return Err(Failure::stalled(
                        converge_api::common::conditions::reason::CONFLICT,
                        format!(
                            "Frends already serves an API on base path {:?}; the specification \
                             named {:?} (id {}) is not it (Frends refused the definition: {}). \
                             Set spec.externalId to the id of the one on {:?}, or choose another \
                             base path",
                            f.base_path,
                            doc.title,
                            found.id,
                            refused.message(),
                            f.base_path
                        ),
                    ));
                }
                Err(other) => return Err(other.into()),
            }
            cx.status.api_id = Some(found.id.to_string());
            cx.status.definition_hash = Some(doc.hash.clone());
            cx.did(
                event::ADOPTED,
                format!(
                    "adopted Frends API specification {} ({:?}), which serves base path {:?}, \
                     and wrote the definition to it",
                    found.id, doc.title, f.base_path
                ),
            );
            Ok(client.get_specification(found.id).await?)
        }
        Err(e) => Err(e.into()),
    }
}

fn summary(
    spec: &ApiSpecification,
    active: i32,
    status: &converge_api::apispec::ApiSpecStatus,
) -> String {
    let published = status
        .published_version
        .map_or("none".to_string(), |v| v.to_string());
    let requested = if status.deployments.is_empty() {
        String::new()
    } else {
        let groups: Vec<String> = status
            .deployments
            .iter()
            .map(|d| format!("v{} to agent group {}", d.version, d.agent_group_id))
            .collect();
        format!(
            ", deployment requested: {} (Frends reports no deployment progress)",
            groups.join(", ")
        )
    };
    format!(
        "Frends API specification {} ({:?}): active version {active}, published {published}{requested}",
        spec.id, spec.name
    )
}

/// The active version's passthrough configurations, read only when the manifest declares
/// some: one that declares none leaves them alone (`plan::passthrough_changes`), so a drift
/// check of it has nothing to compare.
async fn passthroughs(
    client: &FrendsClient,
    f: &FrendsApi,
    spec: &ApiSpecification,
) -> Result<Vec<Passthrough>, ClientError> {
    if f.passthrough.is_empty() {
        return Ok(Vec::new());
    }
    client.list_passthroughs(spec.id, spec.active_version).await
}

/// The specification this object manages, if it exists: the recorded id, the declared
/// `externalId`, else the one carrying this object's marker. Stops on a conflict.
async fn find(
    client: &FrendsClient,
    obj: &ApiSpec,
    marker: &str,
    cx: &mut Cx<ApiSpec>,
) -> Result<Option<ApiSpecification>, Failure> {
    if let Some(id) = cx
        .status
        .api_id
        .as_deref()
        .and_then(|i| i.parse::<i64>().ok())
    {
        if let Some(s) = client.find_specification(id).await? {
            return Ok(Some(s));
        }
        cx.warn(
            event::RECREATING,
            format!("Frends API specification {id} is gone; creating it again"),
        );
        cx.status.api_id = None;
        cx.status.definition_hash = None;
        cx.status.deployments.clear();
    }
    if let Some(external) = obj.spec.management.external_id.as_deref() {
        let Ok(id) = external.parse::<i64>() else {
            return Err(Failure::stalled(
                converge_api::common::conditions::reason::INVALID_SPEC,
                format!("externalId {external:?} is not a Frends specification id (a number)"),
            ));
        };
        return match client.find_specification(id).await? {
            Some(s) => Ok(Some(s)),
            None => Err(Failure::stalled(
                converge_api::common::conditions::reason::INVALID_SPEC,
                format!("Frends has no API specification {id} (spec.externalId)"),
            )),
        };
    }
    let listed = client.list_specifications().await?;
    plan::identify(marker, listed).map_err(Failure::Stop)
}

/// Under suspend or ObserveOnly: what would be written.
async fn held(
    client: &FrendsClient,
    f: &FrendsApi,
    doc: &Document,
    found: Option<&ApiSpecification>,
    write: &SpecWrite,
    cx: &mut Cx<ApiSpec>,
) -> Result<Phase, Failure> {
    let Some(spec) = found else {
        return Ok(cx.held(vec![format!(
            "create the Frends API specification {:?} on base path {:?}",
            doc.title, f.base_path
        )]));
    };
    let mut changes = Vec::new();
    if let SpecWrite::Update(why) = write {
        changes.push(format!("write the definition ({why})"));
    }
    let actual = passthroughs(client, f, spec).await?;
    changes.extend(
        plan::passthrough_changes(&f.passthrough, &actual)
            .iter()
            .map(PassthroughChange::describe),
    );
    let content = plan::content_hash(doc, &f.passthrough);
    if plan::publish_step(
        f.publish.as_ref(),
        &content,
        &cx.status,
        spec.active_version,
    )
    .publish
    {
        changes.push(format!("publish version {}", spec.active_version));
    }
    let published = plan::published_version(spec.active_version);
    match plan::deploy_plan(&f.deployments, published, &cx.status.deployments) {
        Ok(p) => {
            changes.extend(p.deploy.iter().map(|d| {
                format!(
                    "request the deployment of version {} to agent group {}",
                    d.version, d.agent_group_id
                )
            }));
            changes.extend(
                p.remove
                    .iter()
                    .map(|g| format!("remove from agent group {g}")),
            );
        }
        Err(m) => changes.push(m),
    }
    if cx.status.api_id.as_deref() == Some(spec.id.to_string().as_str()) {
        cx.status.active_version = Some(spec.active_version);
        cx.status.published_version = published;
    }
    Ok(cx.held(changes))
}

/// Deletes the specification: from the agent groups Converge deployed to, then from the
/// default group, which deletes it for good. Already gone is done.
pub async fn delete(cx: &mut Cx<ApiSpec>) -> Result<(), Failure> {
    let client = client(cx)?;
    let id = match cx
        .status
        .api_id
        .as_deref()
        .and_then(|i| i.parse::<i64>().ok())
    {
        Some(id) => id,
        // A create whose id was never recorded: the specification, if made, carries the
        // marker.
        None => {
            let Some(marker) = cx.status.common.pending_create.clone() else {
                return Ok(());
            };
            match plan::identify(&marker, client.list_specifications().await?) {
                Ok(Some(s)) => s.id,
                _ => return Ok(()),
            }
        }
    };
    let groups: Vec<i64> = cx
        .status
        .deployments
        .iter()
        .map(|d| d.agent_group_id)
        .collect();
    client.delete_specification(id, &groups).await?;
    Ok(())
}
