//! Frends decisions (pure): which specification is ours, whether its document must be written,
//! which passthrough configurations to create, update or delete, whether to publish, and where
//! to deploy.
//!
//! Only the documented specification fields are relied on (id, name, activeVersion,
//! description): a real tenant does not say what is published or deployed, nor the content of a
//! version. So the document's hash, what was published and what was deployed are recorded in
//! status, and every version below `activeVersion` is published (publishing is the only way a
//! new active version appears).

use crate::apispec::crd::{
    ApiSpecStatus, FrendsDeployment, FrendsDeploymentStatus, FrendsHeaderAction, FrendsPassthrough,
    FrendsPublish,
};
use crate::apispec::document::Document;
use crate::clients::frends::{
    ApiSpecification, HeaderAction, NewPassthrough, Passthrough, PassthroughHeader, PassthroughKey,
    PassthroughSettings, TargetUrl,
};
use crate::common::conditions::reason;
use crate::common::policy::Management;
use crate::engine::Phase;
use crate::engine::ownership::{self, Ownership};

/// The specification among those named like the document that this object manages, if any.
/// `Err` is the phase to stop in (someone else's, or several to choose from).
pub fn identify(
    management: &Management,
    status: &ApiSpecStatus,
    title: &str,
    listed: Vec<ApiSpecification>,
) -> Result<Option<(ApiSpecification, Ownership)>, Phase> {
    let mut named: Vec<ApiSpecification> = listed.into_iter().filter(|s| s.name == title).collect();
    let recorded = status.api_id.as_deref();
    let pending = status.common.pending_create.as_deref();
    match named.len() {
        0 => Ok(None),
        1 => {
            let s = named.remove(0);
            let id = s.id.to_string();
            match ownership::of(management, recorded, pending, title, &id) {
                Ownership::Conflict => Err(Phase::stalled(
                    reason::CONFLICT,
                    ownership::conflict_message("Frends", "API specification", title, &id),
                )),
                o => Ok(Some((s, o))),
            }
        }
        _ => {
            let chosen = management.external_id.as_deref().or(recorded);
            match named
                .iter()
                .position(|s| Some(s.id.to_string().as_str()) == chosen)
            {
                Some(i) => {
                    let o = if recorded == chosen {
                        Ownership::Ours
                    } else {
                        Ownership::Adopted
                    };
                    Ok(Some((named.remove(i), o)))
                }
                None => {
                    let ids: Vec<String> = named.iter().map(|s| s.id.to_string()).collect();
                    Err(Phase::stalled(
                        reason::CONFLICT,
                        format!(
                            "Frends has {} API specifications named {title:?} (ids {}); set \
                             spec.externalId to the one to manage, or change info.title",
                            ids.len(),
                            ids.join(", ")
                        ),
                    ))
                }
            }
        }
    }
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
/// longer matches the document's `info` (someone wrote another document).
pub fn spec_write(
    existing: Option<&ApiSpecification>,
    written_hash: Option<&str>,
    doc: &Document,
) -> SpecWrite {
    let Some(s) = existing else {
        return SpecWrite::Create;
    };
    if written_hash != Some(doc.hash.as_str()) {
        return SpecWrite::Update("the definition changed".into());
    }
    if s.name != doc.title || s.description != doc.description {
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

/// Deployments to make and agent groups to leave.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeployPlan {
    pub deploy: Vec<FrendsDeploymentStatus>,
    /// Agent groups Converge deployed to that the manifest no longer names.
    pub remove: Vec<i64>,
    /// What status should say once done.
    pub after: Vec<FrendsDeploymentStatus>,
}

/// Deploying is safe to repeat but the platform does not report deployments, so what Converge
/// deployed is recorded and each declared (group, version) is deployed once. `Err` says why a
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
        let want = FrendsDeploymentStatus {
            agent_group_id: d.agent_group_id,
            version,
        };
        if !done.contains(&want) {
            plan.deploy.push(want.clone());
        }
        plan.after.push(want);
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
    use crate::apispec::crd::{FrendsTargetUrl, HttpMethod};
    use crate::apispec::document::parse;
    use crate::common::policy::AdoptionPolicy;

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
            base_path: None,
            published_version: None,
            deployments: vec![],
        }
    }

    fn status(id: Option<&str>, pending: Option<&str>) -> ApiSpecStatus {
        let mut s = ApiSpecStatus {
            api_id: id.map(str::to_string),
            ..Default::default()
        };
        s.common.pending_create = pending.map(str::to_string);
        s
    }

    #[test]
    fn nothing_named_so_means_create() {
        let found = identify(
            &Management::default(),
            &status(None, None),
            "Pets",
            vec![spec(1, "Other", 1)],
        );
        assert_eq!(found, Ok(None));
    }

    #[test]
    fn a_specification_named_like_ours_is_ours_adopted_or_a_conflict() {
        let none = Management::default();
        let (_, o) = identify(
            &none,
            &status(None, Some("Pets")),
            "Pets",
            vec![spec(4, "Pets", 1)],
        )
        .unwrap()
        .unwrap();
        assert_eq!(o, Ownership::Ours, "a create in flight under this name");
        let adopt = Management {
            adoption_policy: Some(AdoptionPolicy::Adopt),
            ..Default::default()
        };
        let (s, o) = identify(
            &adopt,
            &status(None, None),
            "Pets",
            vec![spec(4, "Pets", 1)],
        )
        .unwrap()
        .unwrap();
        assert_eq!((s.id, o), (4, Ownership::Adopted));
        match identify(&none, &status(None, None), "Pets", vec![spec(4, "Pets", 1)]) {
            Err(Phase::Stalled { reason: r, message }) => {
                assert_eq!(r, reason::CONFLICT);
                assert!(message.contains("adoptionPolicy: Adopt"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn several_with_the_name_need_an_external_id() {
        let two = || vec![spec(4, "Pets", 1), spec(5, "Pets", 1)];
        assert!(matches!(
            identify(&Management::default(), &status(None, None), "Pets", two()),
            Err(Phase::Stalled { .. })
        ));
        let pick = Management {
            external_id: Some("5".into()),
            ..Default::default()
        };
        let (s, o) = identify(&pick, &status(None, None), "Pets", two())
            .unwrap()
            .unwrap();
        assert_eq!((s.id, o), (5, Ownership::Adopted));
        let (s, o) = identify(
            &Management::default(),
            &status(Some("4"), None),
            "Pets",
            two(),
        )
        .unwrap()
        .unwrap();
        assert_eq!((s.id, o), (4, Ownership::Ours));
    }

    #[test]
    fn the_document_is_written_when_new_changed_or_replaced_on_the_platform() {
        let d = doc("Pets", None);
        assert_eq!(spec_write(None, None, &d), SpecWrite::Create);
        let s = spec(1, "Pets", 1);
        assert_eq!(spec_write(Some(&s), Some(&d.hash), &d), SpecWrite::Nothing);
        assert!(matches!(
            spec_write(Some(&s), Some("old"), &d),
            SpecWrite::Update(_)
        ));
        assert!(
            matches!(spec_write(Some(&s), None, &d), SpecWrite::Update(_)),
            "an adopted specification's content is unknown"
        );
        let renamed = spec(1, "Cats", 1);
        assert!(
            matches!(spec_write(Some(&renamed), Some(&d.hash), &d), SpecWrite::Update(m) if m.contains("Cats"))
        );
        let described = doc("Pets", Some("All pets"));
        assert!(matches!(
            spec_write(Some(&s), Some(&described.hash), &described),
            SpecWrite::Update(_)
        ));
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
        let mut s = status(Some("1"), None);
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
        let mut s = status(Some("1"), None);
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
        }
    }

    #[test]
    fn deploys_what_is_declared_once_and_leaves_dropped_groups() {
        let plan = deploy_plan(&[dep(2, None), dep(3, Some(1))], Some(2), &[]).unwrap();
        assert_eq!(plan.deploy, vec![done(2, 2), done(3, 1)]);
        let plan = deploy_plan(&[dep(2, None)], Some(2), &[done(2, 2), done(3, 1)]).unwrap();
        assert!(plan.deploy.is_empty());
        assert_eq!(plan.remove, vec![3]);
        assert_eq!(plan.after, vec![done(2, 2)]);
        let plan = deploy_plan(&[dep(2, None)], Some(3), &[done(2, 2)]).unwrap();
        assert_eq!(plan.deploy, vec![done(2, 3)], "a newer published version");
        let e = deploy_plan(&[dep(2, None)], None, &[]).unwrap_err();
        assert!(e.contains("frends.publish"), "{e}");
    }
}
