//! Frends: create the specification from the document (its description marked as this
//! object's), keep its active version's document and passthrough configurations as declared,
//! publish new content once, request deployments to agent groups. Only documented fields are
//! read back; what Frends does not report is recorded in status (see `plan`).

pub mod plan;

use plan::{PassthroughChange, SpecWrite};

use super::document::{Document, Marked, marked, path_key};
use super::event;
use super::reason;
use converge_api::apispec::{ApiSpec, ApiSpecStatus, FrendsApi};
use converge_api::common::conditions::reason as common;
use converge_core::Platform;
use converge_engine::external::{self, Ensured, Made, PlatformDelete, PlatformObject};
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
    let object = SpecificationObject {
        client: &client,
        obj,
        f,
        doc,
        written: &written,
        marker: &marker,
    };
    let found = match external::ensure(obj, &object, cx).await? {
        Ensured::Found(found) => found,
        Ensured::Held(phase) => return Ok(phase),
    };
    let write = plan::spec_write(
        Some(&found),
        cx.status.definition_hash.as_deref(),
        doc,
        &written.description,
    );
    if !cx.may_write() {
        return held(&client, f, doc, &found, &write, cx).await;
    }

    let spec = match write {
        SpecWrite::Update(why) => {
            let s = found;
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
        SpecWrite::Create | SpecWrite::Nothing => found,
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

/// The Frends API specification an ApiSpec declares: found by its recorded or external id,
/// else by the marker its description carries (which alone proves it this object's). The key,
/// and so the pending-create marker, is that marker.
struct SpecificationObject<'a> {
    client: &'a FrendsClient,
    obj: &'a ApiSpec,
    f: &'a FrendsApi,
    doc: &'a Document,
    written: &'a Marked,
    marker: &'a str,
}

impl PlatformObject<ApiSpec> for SpecificationObject<'_> {
    type Observed = ApiSpecification;
    type Update = ();
    const PLATFORM: Platform = Platform::Frends;
    const WHAT: &'static str = "API specification";

    fn key(&self) -> &str {
        self.marker
    }
    fn name(&self) -> String {
        // The base path is what Frends tells specifications apart by.
        format!("{:?} on base path {:?}", self.doc.title, self.f.base_path)
    }
    fn id(found: &ApiSpecification) -> String {
        found.id.to_string()
    }
    fn record(status: &mut ApiSpecStatus, id: String) {
        status.api_id = Some(id);
    }
    fn before_create(&self, status: &mut ApiSpecStatus) {
        // Recorded with the create: a controller restarted after the call finds the
        // specification by its marker, with this content.
        status.definition_hash = Some(self.doc.hash.clone());
        status.published_hash = None;
        status.pending_publish = None;
        status.deployments.clear();
    }
    fn marked_ours(&self, found: &ApiSpecification) -> bool {
        plan::carries(found, self.marker)
    }
    async fn observe(&self, by_id: Option<&str>) -> Result<Option<ApiSpecification>, Failure> {
        if let Some(id) = by_id {
            let Ok(id) = id.parse::<i64>() else {
                return Err(Failure::stalled(
                    common::INVALID_SPEC,
                    format!("externalId {id:?} is not a Frends specification id (a number)"),
                ));
            };
            if let Some(s) = self.client.find_specification(id).await? {
                return Ok(Some(s));
            }
        }
        let listed = self.client.list_specifications().await?;
        plan::identify(self.marker, listed).map_err(Failure::Stop)
    }
    async fn create(&self) -> Result<ApiSpecification, Failure> {
        Ok(self.client.create_specification(&self.written.text).await?)
    }
    /// When Frends refuses because another API serves the base path, the specification to
    /// adopt is the one the spec names (see `plan::path_taken`), once Frends takes the
    /// definition for it.
    async fn create_or_adopt(&self) -> Result<Made<ApiSpecification>, Failure> {
        let e = match self.client.create_specification(&self.written.text).await {
            Ok(created) => return Ok(Made::Created(created)),
            Err(e) if is_path_in_use(&e) => e,
            Err(e) => return Err(e.into()),
        };
        let (doc, f) = (self.doc, self.f);
        let listed = self.client.list_specifications().await?;
        let found = plan::path_taken(
            &self.obj.spec.management,
            &doc.title,
            &f.base_path,
            listed,
            e.message(),
        )
        .map_err(Failure::Stop)?;
        match self
            .client
            .update_specification(found.id, &self.written.text)
            .await
        {
            Ok(()) => {}
            // Frends refuses a document that would change a specification's base path: the
            // one named so serves another.
            Err(refused) if matches!(refused.status(), Some(400..=499)) => {
                return Err(Failure::stalled(
                    common::CONFLICT,
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
        Ok(Made::Adopted(
            self.client.get_specification(found.id).await?,
        ))
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

/// Under suspend or ObserveOnly: what would be written.
async fn held(
    client: &FrendsClient,
    f: &FrendsApi,
    doc: &Document,
    spec: &ApiSpecification,
    write: &SpecWrite,
    cx: &mut Cx<ApiSpec>,
) -> Result<Phase, Failure> {
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

/// The Frends API specification to delete: by the recorded id, else by the marker a create
/// in flight wrote into its description.
struct Deletion<'a> {
    client: &'a FrendsClient,
    /// The agent groups Converge deployed to.
    groups: Vec<i64>,
}

impl PlatformDelete<ApiSpec> for Deletion<'_> {
    fn recorded(&self, status: &ApiSpecStatus) -> Option<String> {
        status.api_id.clone().filter(|id| id.parse::<i64>().is_ok())
    }
    async fn made_by(&self, marker: &str) -> Result<Option<String>, Failure> {
        let listed = self.client.list_specifications().await?;
        // Several marked as this object's is for a person to sort out on Frends.
        Ok(plan::identify(marker, listed)
            .ok()
            .flatten()
            .map(|s| s.id.to_string()))
    }
    async fn delete(&self, id: &str) -> Result<(), ClientError> {
        // `recorded` and `made_by` give numbers only.
        let Ok(id) = id.parse::<i64>() else {
            return Ok(());
        };
        self.client.delete_specification(id, &self.groups).await
    }
}

/// Deletes the specification: from the agent groups Converge deployed to, then from the
/// default group, which deletes it for good. Already gone is done.
pub async fn delete(cx: &mut Cx<ApiSpec>) -> Result<(), Failure> {
    let client = client(cx)?;
    let groups = cx
        .status
        .deployments
        .iter()
        .map(|d| d.agent_group_id)
        .collect();
    let deletion = Deletion {
        client: &client,
        groups,
    };
    external::delete(&deletion, cx).await
}
