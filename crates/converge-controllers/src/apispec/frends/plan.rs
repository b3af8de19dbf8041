//! Frends decisions (pure): which specification is ours, whether its document must be written,
//! which passthrough configurations to create, update or delete, whether to publish, and where
//! to deploy.
//!
//! Only the documented specification fields are relied on (id, name, activeVersion,
//! description): a real tenant does not say a specification's base path, what is published or
//! deployed, nor the content of a version. So:
//! - Converge ends the description it writes with a marker naming the object (its uid
//!   included), and finds its specification by that marker when status has no id (a crash
//!   between the create and the status write, a deletion of a create never recorded);
//! - the natural key, the base path, is seen only through the documented refusal of a second
//!   API on a path: a create refused so means someone else's specification serves it;
//! - the document's hash, what was published and what was deployed are recorded in status,
//!   and every version below `activeVersion` is published (publishing is the only way a new
//!   active version appears). A deployment is recorded as requested: Frends answers
//!   "Deployment started" and reports nothing after.

use crate::apispec::document::Document;
use converge_api::apispec::{
    ApiSpecStatus, FrendsDeployment, FrendsDeploymentStatus, FrendsHeaderAction, FrendsPassthrough,
    FrendsPublish,
};
use converge_api::common::conditions::reason;
use converge_api::common::policy::{AdoptionPolicy, Management};
use converge_engine::Phase;
use converge_platforms::frends::{
    ApiSpecification, HeaderAction, NewPassthrough, Passthrough, PassthroughHeader, PassthroughKey,
    PassthroughSettings, TargetUrl,
};

/// The marker Converge ends the descriptions it writes with: the object and its uid, so that
/// no other object (nor a later object of the same name) takes the specification for its own.
pub fn marker(namespace: &str, name: &str, uid: &str) -> String {
    format!("[managed by Converge: ApiSpec {namespace}/{name}, uid {uid}]")
}

/// Whether a specification carries `marker` (at the end of its description, as written).
pub fn carries(spec: &ApiSpecification, marker: &str) -> bool {
    spec.description
        .as_deref()
        .is_some_and(|d| d.trim_end().ends_with(marker))
}

/// The specification this object marked as its own, if any. `Err` is the phase to stop in
/// (several carry the marker: copies made on Frends).
pub fn identify(
    marker: &str,
    listed: Vec<ApiSpecification>,
) -> Result<Option<ApiSpecification>, Phase> {
    let mut ours: Vec<ApiSpecification> =
        listed.into_iter().filter(|s| carries(s, marker)).collect();
    match ours.len() {
        0 => Ok(None),
        1 => Ok(ours.pop()),
        _ => {
            let ids: Vec<String> = ours.iter().map(|s| s.id.to_string()).collect();
            Err(Phase::stalled(
                reason::CONFLICT,
                format!(
                    "Frends has {} API specifications marked as this object's (ids {}); delete \
                     the copies, or set spec.externalId to the one to manage",
                    ids.len(),
                    ids.join(", ")
                ),
            ))
        }
    }
}

/// After Frends refused to create the specification because another API serves the base
/// path: the specification to adopt, or the phase to stop in. Frends does not say which
/// specification serves a path, so with `adoptionPolicy: Adopt` the one named like the
/// document is taken (writing the document to it then proves the path: Frends refuses a
/// document that would change a specification's base path); otherwise `externalId` must name
/// it.
pub fn path_taken(
    management: &Management,
    title: &str,
    base_path: &str,
    listed: Vec<ApiSpecification>,
    refusal: &str,
) -> Result<ApiSpecification, Phase> {
    let mut named: Vec<ApiSpecification> = listed.into_iter().filter(|s| s.name == title).collect();
    let ids: Vec<String> = named.iter().map(|s| s.id.to_string()).collect();
    let adopt = management.adoption_policy == Some(AdoptionPolicy::Adopt);
    if adopt && named.len() == 1 {
        return Ok(named.remove(0));
    }
    let hint = match (ids.len(), adopt) {
        (0, _) => format!(
            "no specification is named {title:?}, so Converge cannot tell which one it is: set \
             spec.externalId to its id to manage it"
        ),
        (1, false) => format!(
            "the specification named {title:?} is id {}: to manage it set spec.adoptionPolicy: \
             Adopt or spec.externalId: {:?}",
            ids[0], ids[0]
        ),
        _ => format!(
            "{} specifications are named {title:?} (ids {}): set spec.externalId to the one to \
             manage",
            ids.len(),
            ids.join(", ")
        ),
    };
    Err(Phase::stalled(
        reason::CONFLICT,
        format!(
            "Frends already serves an API on base path {base_path:?} that Converge did not \
             create (Frends answered: {refusal}); {hint}; otherwise choose another base path"
        ),
    ))
}

/// What to write for the specification itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecWrite {
    Create,
    /// Replace the active version's document; the string says why.
    Update(String),
    Nothing,
}

/// Whether the document must be created or written again. The platform does not return a
/// version's document, so a change is seen as a new hash, or as a name or description that no
/// longer matches what Converge wrote (`description`: the marked one): someone wrote another
/// document.
pub fn spec_write(
    existing: Option<&ApiSpecification>,
    written_hash: Option<&str>,
    doc: &Document,
    description: &str,
) -> SpecWrite {
    let Some(s) = existing else {
        return SpecWrite::Create;
    };
    if written_hash != Some(doc.hash.as_str()) {
        return SpecWrite::Update("the definition changed".into());
    }
    if s.name != doc.title || s.description.as_deref() != Some(description) {
        return SpecWrite::Update(format!(
            "the active version's document was replaced on Frends (it is named {:?})",
            s.name
        ));
    }
    SpecWrite::Nothing
}

/// A passthrough change on the active version.
#[derive(Clone, Debug, PartialEq)]
pub enum PassthroughChange {
    Create(NewPassthrough),
    Update {
        id: i64,
        key: PassthroughKey,
        settings: PassthroughSettings,
    },
    Delete {
        id: i64,
        key: PassthroughKey,
    },
}

impl PassthroughChange {
    pub fn describe(&self) -> String {
        match self {
            PassthroughChange::Create(p) => format!("create passthrough {}", key_text(&p.key())),
            PassthroughChange::Update { key, .. } => {
                format!("update passthrough {}", key_text(key))
            }
            PassthroughChange::Delete { key, .. } => {
                format!("delete passthrough {}", key_text(key))
            }
        }
    }
}

pub fn key_text(key: &PassthroughKey) -> String {
    match key {
        PassthroughKey::Default => "(default)".into(),
        PassthroughKey::Operation { path, method } => format!("{method} {path}"),
    }
}

/// The passthrough configuration the manifest declares, as Frends takes it.
pub fn wanted(p: &FrendsPassthrough) -> NewPassthrough {
    let is_default = p.is_default == Some(true);
    NewPassthrough {
        settings: PassthroughSettings {
            cors_enabled: p.cors_enabled.unwrap_or(false),
            target_url: TargetUrl {
                server: p.target_url.server.clone(),
                base_path: p.target_url.base_path.clone(),
                operation_path: p.target_url.operation_path.clone(),
                query: p.target_url.query.clone(),
            },
            headers: p
                .headers
                .iter()
                .map(|h| PassthroughHeader {
                    action: match h.action {
                        FrendsHeaderAction::Add => HeaderAction::Add,
                        FrendsHeaderAction::Replace => HeaderAction::Replace,
                        FrendsHeaderAction::Remove => HeaderAction::Remove,
                    },
                    name: h.name.clone(),
                    value: h.value.clone(),
                })
                .collect(),
            allowed_origins: p.allowed_origins.clone(),
        },
        path: (!is_default).then(|| p.path.clone()).flatten(),
        method: (!is_default)
            .then(|| p.method.map(|m| serde_json::to_value(m).ok()))
            .flatten()
            .flatten()
            .and_then(|v| v.as_str().map(str::to_string)),
        is_default,
    }
}

/// The changes that make the active version's passthrough configurations the declared ones.
/// A manifest that declares none leaves them alone; one that declares some owns the whole list.
/// Path, method and the default flag never change on Frends, so a configuration whose key is
/// no longer declared is deleted and the declared one created.
pub fn passthrough_changes(
    declared: &[FrendsPassthrough],
    actual: &[Passthrough],
) -> Vec<PassthroughChange> {
    if declared.is_empty() {
        return Vec::new();
    }
    let wanted: Vec<NewPassthrough> = declared.iter().map(wanted).collect();
    let mut changes = Vec::new();
    for p in actual {
        if !wanted.iter().any(|w| w.key().matches(p)) {
            changes.push(PassthroughChange::Delete {
                id: p.id,
                key: key_of(p),
            });
        }
    }
    for w in wanted {
        let key = w.key();
        match actual.iter().find(|p| key.matches(p)) {
            None => changes.push(PassthroughChange::Create(w)),
            Some(p) if p.settings != w.settings => changes.push(PassthroughChange::Update {
                id: p.id,
                key,
                settings: w.settings,
            }),
            Some(_) => {}
        }
    }
    changes
}

fn key_of(p: &Passthrough) -> PassthroughKey {
    match (p.is_default, &p.path, &p.method) {
        (false, Some(path), Some(method)) => PassthroughKey::Operation {
            path: path.clone(),
            method: method.clone(),
        },
        _ => PassthroughKey::Default,
    }
}

/// The hash of what a publish locks: the document and the declared passthrough settings.
pub fn content_hash(doc: &Document, declared: &[FrendsPassthrough]) -> String {
    let passthrough = serde_json::to_string(declared).unwrap_or_default();
    crate::apispec::document::hash_of(&[&doc.hash, &passthrough])
}

/// What to do about publishing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishStep {
    /// A publish call whose answer was lost did happen: record `pending_publish` as published.
    pub happened: bool,
    /// Publish the active version now.
    pub publish: bool,
}

/// Publishing is not idempotent, so it is decided from what status recorded: the content hash
/// last published, and a publish in flight (`pending_publish`, saved with the active version
/// before the call). `activeVersion` moving past the recorded one proves that call happened.
pub fn publish_step(
    publish: Option<&FrendsPublish>,
    content_hash: &str,
    status: &ApiSpecStatus,
    platform_active: i32,
) -> PublishStep {
    let happened = status.pending_publish.is_some()
        && status.active_version.is_some_and(|a| platform_active > a);
    let published = if happened {
        status.pending_publish.as_deref()
    } else {
        status.published_hash.as_deref()
    };
    PublishStep {
        happened,
        publish: publish.is_some() && published != Some(content_hash),
    }
}

/// The newest published version: every version below the active one was published.
pub fn published_version(active: i32) -> Option<i32> {
    (active > 1).then_some(active - 1)
}

/// Deployments to request and agent groups to leave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeployPlan {
    /// To request now (without `requestedAt` yet).
    pub deploy: Vec<FrendsDeploymentStatus>,
    /// Agent groups Converge deployed to that the manifest no longer names.
    pub remove: Vec<i64>,
    /// What status should say once done: earlier requests as recorded, then the new ones.
    pub after: Vec<FrendsDeploymentStatus>,
}

/// Deploying is safe to repeat but the platform does not report deployments, so what Converge
/// requested is recorded and each declared (group, version) is requested once. `Err` says why a
/// declared deployment cannot be made.
pub fn deploy_plan(
    declared: &[FrendsDeployment],
    published: Option<i32>,
    done: &[FrendsDeploymentStatus],
) -> Result<DeployPlan, String> {
    let mut plan = DeployPlan::default();
    for d in declared {
        let Some(version) = d.version.or(published) else {
            return Err(format!(
                "agent group {} should get the latest published version, but no version is \
                 published yet: set frends.publish, or name a published version",
                d.agent_group_id
            ));
        };
        match done
            .iter()
            .find(|r| r.agent_group_id == d.agent_group_id && r.version == version)
        {
            Some(requested) => plan.after.push(requested.clone()),
            None => {
                let want = FrendsDeploymentStatus {
                    agent_group_id: d.agent_group_id,
                    version,
                    requested_at: None,
                };
                plan.deploy.push(want.clone());
                plan.after.push(want);
            }
        }
    }
    plan.remove = done
        .iter()
        .map(|d| d.agent_group_id)
        .filter(|g| !declared.iter().any(|d| d.agent_group_id == *g))
        .collect();
    plan.remove.sort_unstable();
    plan.remove.dedup();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apispec::document::parse;
    use converge_api::apispec::{FrendsTargetUrl, HttpMethod};

    fn doc(title: &str, description: Option<&str>) -> Document {
        let d = description
            .map(|d| format!(", description: {d}"))
            .unwrap_or_default();
        parse(&format!(
            "openapi: 3.0.1\ninfo: {{title: {title}, version: '1'{d}}}\nservers: [{{url: /api/x}}]\npaths: {{}}"
        ))
        .unwrap()
    }

    fn spec(id: i64, name: &str, active: i32) -> ApiSpecification {
        ApiSpecification {
            id,
            name: name.into(),
            active_version: active,
            description: None,
        }
    }

    fn described(id: i64, name: &str, description: &str) -> ApiSpecification {
        ApiSpecification {
            description: Some(description.into()),
            ..spec(id, name, 1)
        }
    }

    fn status(id: Option<&str>) -> ApiSpecStatus {
        ApiSpecStatus {
            api_id: id.map(str::to_string),
            ..Default::default()
        }
    }

    const MARK: &str = "[managed by Converge: ApiSpec shop/pets, uid u-1]";

    #[test]
    fn only_the_specification_carrying_this_objects_marker_is_ours() {
        assert_eq!(marker("shop", "pets", "u-1"), MARK);
        assert_eq!(
            identify(MARK, vec![spec(1, "Pets", 1)]),
            Ok(None),
            "a name proves nothing"
        );
        let ours = described(4, "Pets", &format!("All pets\n\n{MARK}"));
        let other = described(
            5,
            "Pets",
            "[managed by Converge: ApiSpec shop/pets, uid u-2]",
        );
        assert_eq!(
            identify(MARK, vec![other.clone(), ours.clone()]),
            Ok(Some(ours.clone()))
        );
        match identify(MARK, vec![ours.clone(), described(6, "Copy", MARK)]) {
            Err(Phase::Stalled { reason: r, message }) => {
                assert_eq!(r, reason::CONFLICT);
                assert!(message.contains("4, 6"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_taken_base_path_is_adopted_only_when_asked_and_only_by_name() {
        let none = Management::default();
        let adopt = Management {
            adoption_policy: Some(AdoptionPolicy::Adopt),
            ..Default::default()
        };
        let listed = || vec![spec(4, "Pets", 1), spec(5, "Other", 1)];
        let refusal = "A path is already used in an existing API: /api/pets";
        assert_eq!(
            path_taken(&adopt, "Pets", "/api/pets", listed(), refusal).map(|s| s.id),
            Ok(4)
        );
        match path_taken(&none, "Pets", "/api/pets", listed(), refusal) {
            Err(Phase::Stalled { reason: r, message }) => {
                assert_eq!(r, reason::CONFLICT);
                assert!(message.contains("adoptionPolicy: Adopt"), "{message}");
                assert!(message.contains("externalId: \"4\""), "{message}");
                assert!(message.contains(refusal), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let two = vec![spec(4, "Pets", 1), spec(7, "Pets", 1)];
        assert!(matches!(
            path_taken(&adopt, "Pets", "/api/pets", two, refusal),
            Err(Phase::Stalled { message, .. }) if message.contains("4, 7")
        ));
        assert!(matches!(
            path_taken(&adopt, "Cats", "/api/pets", listed(), refusal),
            Err(Phase::Stalled { message, .. }) if message.contains("externalId")
        ));
    }

    #[test]
    fn the_document_is_written_when_new_changed_or_replaced_on_the_platform() {
        let d = doc("Pets", None);
        let written = || described(1, "Pets", MARK);
        assert_eq!(spec_write(None, None, &d, MARK), SpecWrite::Create);
        assert_eq!(
            spec_write(Some(&written()), Some(&d.hash), &d, MARK),
            SpecWrite::Nothing
        );
        assert!(matches!(
            spec_write(Some(&written()), Some("old"), &d, MARK),
            SpecWrite::Update(_)
        ));
        assert!(
            matches!(
                spec_write(Some(&written()), None, &d, MARK),
                SpecWrite::Update(_)
            ),
            "an adopted specification's content is unknown"
        );
        let renamed = described(1, "Cats", MARK);
        assert!(
            matches!(spec_write(Some(&renamed), Some(&d.hash), &d, MARK), SpecWrite::Update(m) if m.contains("Cats"))
        );
        assert!(
            matches!(
                spec_write(Some(&spec(1, "Pets", 1)), Some(&d.hash), &d, MARK),
                SpecWrite::Update(_)
            ),
            "the marked description was replaced"
        );
    }

    fn declared(default: bool, server: &str) -> FrendsPassthrough {
        FrendsPassthrough {
            is_default: default.then_some(true),
            path: (!default).then(|| "/pets".to_string()),
            method: (!default).then_some(HttpMethod::Get),
            cors_enabled: None,
            allowed_origins: vec![],
            target_url: FrendsTargetUrl {
                server: server.into(),
                base_path: None,
                operation_path: None,
                query: None,
            },
            headers: vec![],
        }
    }

    fn actual(id: i64, p: &FrendsPassthrough) -> Passthrough {
        let w = wanted(p);
        Passthrough {
            id,
            api_version_id: 9,
            modifier: None,
            modified: None,
            path: w.path.clone(),
            method: w.method.clone(),
            is_default: w.is_default,
            settings: w.settings,
        }
    }

    #[test]
    fn passthroughs_are_created_updated_deleted_or_left_alone() {
        let d = declared(true, "https://a.test");
        let op = declared(false, "https://b.test");
        assert_eq!(wanted(&op).method.as_deref(), Some("GET"));
        assert!(
            passthrough_changes(&[], &[actual(1, &d)]).is_empty(),
            "not declared: not managed"
        );
        assert!(passthrough_changes(std::slice::from_ref(&d), &[actual(1, &d)]).is_empty());
        let c = passthrough_changes(&[d.clone(), op.clone()], &[actual(1, &d)]);
        assert!(
            matches!(&c[..], [PassthroughChange::Create(p)] if p.path.as_deref() == Some("/pets"))
        );
        let moved = declared(true, "https://c.test");
        let c = passthrough_changes(&[moved], &[actual(1, &d)]);
        assert!(matches!(&c[..], [PassthroughChange::Update { id: 1, .. }]));
        let c = passthrough_changes(std::slice::from_ref(&d), &[actual(1, &d), actual(2, &op)]);
        assert!(matches!(&c[..], [PassthroughChange::Delete { id: 2, .. }]));
        assert_eq!(c[0].describe(), "delete passthrough GET /pets");
    }

    fn publish() -> FrendsPublish {
        FrendsPublish {
            change_description: "x".into(),
        }
    }

    #[test]
    fn publishes_new_content_once() {
        let mut s = status(Some("1"));
        s.active_version = Some(1);
        assert_eq!(
            publish_step(Some(&publish()), "h1", &s, 1),
            PublishStep {
                happened: false,
                publish: true
            }
        );
        assert!(!publish_step(None, "h1", &s, 1).publish, "no publish block");
        s.published_hash = Some("h1".into());
        s.active_version = Some(2);
        assert!(
            !publish_step(Some(&publish()), "h1", &s, 2).publish,
            "already published"
        );
        assert!(
            publish_step(Some(&publish()), "h2", &s, 2).publish,
            "new content"
        );
    }

    #[test]
    fn a_publish_lost_in_a_crash_is_not_repeated() {
        let mut s = status(Some("1"));
        s.active_version = Some(3);
        s.pending_publish = Some("h1".into());
        assert_eq!(
            publish_step(Some(&publish()), "h1", &s, 4),
            PublishStep {
                happened: true,
                publish: false
            },
            "activeVersion moved on: the call went through"
        );
        assert_eq!(
            publish_step(Some(&publish()), "h1", &s, 3),
            PublishStep {
                happened: false,
                publish: true
            },
            "it did not: publish"
        );
        assert!(
            publish_step(Some(&publish()), "h2", &s, 4).publish,
            "content changed since"
        );
    }

    #[test]
    fn every_version_below_the_active_one_is_published() {
        assert_eq!(published_version(1), None);
        assert_eq!(published_version(4), Some(3));
    }

    fn dep(group: i64, version: Option<i32>) -> FrendsDeployment {
        FrendsDeployment {
            agent_group_id: group,
            version,
        }
    }

    fn done(group: i64, version: i32) -> FrendsDeploymentStatus {
        FrendsDeploymentStatus {
            agent_group_id: group,
            version,
            requested_at: None,
        }
    }

    #[test]
    fn deploys_what_is_declared_once_and_leaves_dropped_groups() {
        let plan = deploy_plan(&[dep(2, None), dep(3, Some(1))], Some(2), &[]).unwrap();
        assert_eq!(plan.deploy, vec![done(2, 2), done(3, 1)]);
        let requested = FrendsDeploymentStatus {
            requested_at: Some("2026-01-01T00:00:00Z".into()),
            ..done(2, 2)
        };
        let plan = deploy_plan(&[dep(2, None)], Some(2), &[requested.clone(), done(3, 1)]).unwrap();
        assert!(plan.deploy.is_empty());
        assert_eq!(plan.remove, vec![3]);
        assert_eq!(
            plan.after,
            vec![requested],
            "an earlier request stays as recorded"
        );
        let plan = deploy_plan(&[dep(2, None)], Some(3), &[done(2, 2)]).unwrap();
        assert_eq!(plan.deploy, vec![done(2, 3)], "a newer published version");
        let e = deploy_plan(&[dep(2, None)], None, &[]).unwrap_err();
        assert!(e.contains("frends.publish"), "{e}");
    }
}
