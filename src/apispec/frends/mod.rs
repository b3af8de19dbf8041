//! Frends: create the specification from the document, keep its active version's document and
//! passthrough configurations as declared, publish new content once, deploy to agent groups.

pub mod plan;

use plan::{PassthroughChange, SpecWrite};

use super::crd::{ApiSpec, FrendsApi};
use super::document::{Document, path_key};
use super::event;
use super::reason;
use crate::clients::ClientError;
use crate::clients::PlatformClient;
use crate::clients::frends::{ApiSpecification, FrendsClient, Passthrough};
use crate::engine::{Cx, Failure, Phase};

fn client(cx: &Cx<ApiSpec>) -> Result<FrendsClient, Failure> {
    match &cx.client {
        PlatformClient::Frends(c) => Ok(c.clone()),
        _ => Err(Failure::stalled(
            crate::common::conditions::reason::INVALID_SPEC,
            "spec.frends needs a frends PlatformConnection",
        )),
    }
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
    let found = find(&client, obj, doc, cx).await?;
    let write = plan::spec_write(found.as_ref(), cx.status.definition_hash.as_deref(), doc);
    if !cx.may_write() {
        return held(&client, f, doc, found.as_ref(), &write, cx).await;
    }

    let spec = match (found, write) {
        (None, _) => {
            // Recorded with the create: a controller restarted after the call finds the
            // specification by name, as its own, with this content.
            cx.status.definition_hash = Some(doc.hash.clone());
            cx.status.published_hash = None;
            cx.status.pending_publish = None;
            cx.status.deployments.clear();
            cx.before_create(&doc.title).await?;
            let created = client.create_specification(&doc.text).await?;
            cx.status.api_id = Some(created.id.to_string());
            cx.status.active_version = Some(created.active_version);
            cx.did(
                event::CREATED,
                format!(
                    "created Frends API specification {} ({:?})",
                    created.id, doc.title
                ),
            );
            cx.created().await?;
            created
        }
        (Some(s), SpecWrite::Update(why)) => {
            client.update_specification(s.id, &doc.text).await?;
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
        .map_err(|m| Failure::stalled(crate::common::conditions::reason::INVALID_SPEC, m))?;
    for d in &deploys.deploy {
        client
            .deploy_version(spec.id, d.version, d.agent_group_id)
            .await?;
        cx.did(
            event::DEPLOYED,
            format!(
                "began deploying version {} to agent group {}",
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
    cx.status.deployments = deploys.after;
    Ok(Phase::converged(summary(&spec, active, &cx.status)))
}

fn summary(spec: &ApiSpecification, active: i32, status: &super::crd::ApiSpecStatus) -> String {
    let published = status
        .published_version
        .map_or("none".to_string(), |v| v.to_string());
    let deployed = if status.deployments.is_empty() {
        String::new()
    } else {
        let groups: Vec<String> = status
            .deployments
            .iter()
            .map(|d| format!("v{} to group {}", d.version, d.agent_group_id))
            .collect();
        format!(", deployed {}", groups.join(", "))
    };
    format!(
        "Frends API specification {} ({:?}): active version {active}, published {published}{deployed}",
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

/// The specification this object manages, if it exists; stops on a conflict.
async fn find(
    client: &FrendsClient,
    obj: &ApiSpec,
    doc: &Document,
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
                crate::common::conditions::reason::INVALID_SPEC,
                format!("externalId {external:?} is not a Frends specification id (a number)"),
            ));
        };
        return match client.find_specification(id).await? {
            Some(s) => Ok(Some(s)),
            None => Err(Failure::stalled(
                crate::common::conditions::reason::INVALID_SPEC,
                format!("Frends has no API specification {id} (spec.externalId)"),
            )),
        };
    }
    let listed = client.list_specifications().await?;
    plan::identify(&obj.spec.management, &cx.status, &doc.title, listed)
        .map(|found| found.map(|(s, _)| s))
        .map_err(Failure::Stop)
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
            "create the Frends API specification {:?}",
            doc.title
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
                    "deploy version {} to agent group {}",
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
        // A create whose id was never recorded: the specification, if made, bears its name.
        None => {
            let Some(title) = cx.status.common.pending_create.clone() else {
                return Ok(());
            };
            let named: Vec<i64> = client
                .list_specifications()
                .await?
                .into_iter()
                .filter(|s| s.name == title)
                .map(|s| s.id)
                .collect();
            match named[..] {
                [id] => id,
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
