//! What a Choreo component needs, from what Choreo holds (pure): the component itself, the
//! build of the declared revision, and the rollout of that build environment by environment.

use crate::component::reasons;
use converge_api::common::conditions::reason;
use converge_api::component::{
    ChoreoComponent, ChoreoComponentType, ChoreoDeployment, ChoreoRevision, ComponentStatus,
    DeploymentStatus,
};
use converge_engine::Phase;
use converge_platforms::choreo::{
    Build, BuildCreate, BuildStatus as ChoreoBuildStatus, Component, ComponentCreate,
    ComponentType, Deployment, DeploymentStatus as ChoreoDeploymentStatus, Environment,
};

pub fn component_type(t: ChoreoComponentType) -> ComponentType {
    match t {
        ChoreoComponentType::Service => ComponentType::Service,
        ChoreoComponentType::RestApiProxy => ComponentType::RestApiProxy,
        ChoreoComponentType::GraphQlApiProxy => ComponentType::GraphQlApiProxy,
        ChoreoComponentType::WebApplication => ComponentType::WebApplication,
        ChoreoComponentType::ScheduledJob => ComponentType::ScheduledJob,
        ChoreoComponentType::ManualTrigger => ComponentType::ManualTrigger,
        ChoreoComponentType::EventHandler => ComponentType::EventHandler,
        ChoreoComponentType::Webhook => ComponentType::Webhook,
    }
}

/// The create request for the declared component.
pub fn create_body(spec: &ChoreoComponent) -> ComponentCreate {
    ComponentCreate {
        name: spec.name.clone(),
        type_: component_type(spec.type_),
        description: spec.description.clone(),
        repo_url: spec.repo_url.clone(),
        branch: spec.branch.clone(),
        buildpack_id: spec.buildpack_id.clone(),
        sub_path: spec.sub_path.clone(),
    }
}

/// Why a found component cannot be this one (pure): Choreo cannot update a component, so one
/// whose declared source differs stops here for a person.
pub fn differs(spec: &ChoreoComponent, found: &Component) -> Option<Phase> {
    let differences = differences(spec, found);
    (!differences.is_empty()).then(|| {
        Phase::stalled(
            reasons::PLATFORM_OBJECT_DIFFERS,
            format!(
                "Choreo component {:?} (id {}) differs from the spec: {}. Choreo cannot update a \
                 component: change the spec to match, or delete the component on Choreo so \
                 Converge creates it again",
                spec.name,
                found.id,
                differences.join("; ")
            ),
        )
    })
}

/// The declared source settings the platform's component does not have.
fn differences(spec: &ChoreoComponent, found: &Component) -> Vec<String> {
    let mut out = Vec::new();
    if found.name != spec.name {
        // Found by spec.externalId: Choreo cannot rename it.
        out.push(format!(
            "name is {:?}, the spec says {:?}",
            found.name, spec.name
        ));
    }
    let want_type = component_type(spec.type_);
    if found.type_ != want_type {
        out.push(format!(
            "type is {}, the spec says {want_type}",
            found.type_
        ));
    }
    if found.repo_url != spec.repo_url {
        out.push(format!(
            "repoUrl is {:?}, the spec says {:?}",
            found.repo_url, spec.repo_url
        ));
    }
    if let Some(branch) = &spec.branch
        && found.branch.as_ref() != Some(branch)
    {
        out.push(format!(
            "branch is {:?}, the spec says {branch:?}",
            found.branch.as_deref().unwrap_or_default()
        ));
    }
    out
}

/// How a revision reads in status and messages: `branch@commit`, `branch` or `commit`.
pub fn revision_key(revision: &ChoreoRevision) -> String {
    match (&revision.branch, &revision.commit) {
        (Some(b), Some(c)) => format!("{b}@{c}"),
        (Some(b), None) => b.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => String::new(),
    }
}

/// What to do about the build of the declared revision.
#[derive(Clone, Debug, PartialEq)]
pub enum BuildStep {
    /// No revision declared: nothing is built or deployed.
    Nothing,
    Trigger {
        key: String,
        body: BuildCreate,
    },
    /// This build is the declared revision's.
    Watch(Build),
}

/// The build of the declared revision among the component's builds, or the trigger to start
/// one. A build is recognised by the id status records; failing that, by its commit when the
/// revision names one; failing that, when status shows a build of this revision was being
/// requested (a crash after the trigger), by the newest build of its branch that is not the
/// previous revision's.
pub fn build(
    revision: Option<&ChoreoRevision>,
    status: &ComponentStatus,
    builds: &[Build],
) -> BuildStep {
    let Some(revision) = revision else {
        return BuildStep::Nothing;
    };
    let key = revision_key(revision);
    let recorded = status.build.as_ref();
    if let Some(b) = recorded.filter(|b| b.revision.as_deref() == Some(key.as_str()))
        && let Some(found) = builds.iter().find(|x| x.id == b.id)
    {
        return BuildStep::Watch(found.clone());
    }
    let on_branch = |b: &&Build| {
        revision
            .branch
            .as_ref()
            .is_none_or(|branch| b.branch.as_ref() == Some(branch))
    };
    let candidate = if let Some(commit) = &revision.commit {
        newest(
            builds
                .iter()
                .filter(|b| b.is_of_commit(commit))
                .filter(on_branch),
        )
    } else if status.pending_build.as_deref() == Some(key.as_str()) {
        let previous = recorded.map(|b| b.id.as_str());
        newest(
            builds
                .iter()
                .filter(on_branch)
                .filter(|b| Some(b.id.as_str()) != previous),
        )
    } else {
        None
    };
    match candidate {
        Some(b) => BuildStep::Watch(b.clone()),
        None => BuildStep::Trigger {
            key,
            body: BuildCreate {
                branch: revision.branch.clone(),
                commit_hash: revision.commit.clone(),
            },
        },
    }
}

/// The item created last; on equal or unknown times the first listed (Choreo lists newest
/// first).
fn newest<'a, T: Created + 'a>(items: impl Iterator<Item = &'a T>) -> Option<&'a T> {
    items.fold(None, |best, item| match best {
        Some(b) if b.created() >= item.created() => Some(b),
        _ => Some(item),
    })
}

trait Created {
    fn created(&self) -> Option<jiff::Timestamp>;
}

impl Created for Build {
    fn created(&self) -> Option<jiff::Timestamp> {
        self.created_at
    }
}

impl Created for Deployment {
    fn created(&self) -> Option<jiff::Timestamp> {
        self.created_at
    }
}

/// Where a build stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Succeeded,
    Failed,
}

/// The build status records for the declared revision when it succeeded: a finished build
/// never changes, so a drift check needs only the deployments. None when no revision is
/// declared, status records another revision or the build has not succeeded.
pub fn settled_build(
    revision: Option<&ChoreoRevision>,
    status: &ComponentStatus,
) -> Option<String> {
    let key = revision_key(revision?);
    status
        .build
        .as_ref()
        .filter(|b| b.revision.as_deref() == Some(key.as_str()))
        .filter(|b| b.status == ChoreoBuildStatus::Success.to_string())
        .map(|b| b.id.clone())
}

pub fn outcome(build: &Build) -> Outcome {
    match build.status {
        ChoreoBuildStatus::Success => Outcome::Succeeded,
        ChoreoBuildStatus::Failed | ChoreoBuildStatus::Cancelled => Outcome::Failed,
        _ => Outcome::Running,
    }
}

/// The next step of the rollout.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// The build is live in every declared environment.
    Done,
    /// Deploy the build to this environment (the first one, in declared order, where it is not
    /// live).
    Deploy {
        environment: String,
        environment_id: String,
    },
    /// A deployment is under way; look again shortly.
    Wait(String),
    /// Nothing will change without a person.
    Stalled {
        reason: &'static str,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rollout {
    /// What each declared environment runs now.
    pub statuses: Vec<DeploymentStatus>,
    pub next: Next,
}

/// Rolls `build_id` out to the declared environments in order: an environment is done when
/// the newest deployment to it is this build's and Active; the next one starts only then. A
/// newer deployment of another build (someone deployed by hand) is drift, and the build is
/// deployed again.
pub fn rollout(
    declared: &[ChoreoDeployment],
    environments: &[Environment],
    deployments: &[Deployment],
    build_id: &str,
) -> Rollout {
    let mut statuses = Vec::new();
    let mut next = None;
    for want in declared {
        let Some(env) = Environment::resolve(environments, &want.environment) else {
            let known: Vec<&str> = environments.iter().map(|e| e.name.as_str()).collect();
            statuses.push(DeploymentStatus {
                environment: want.environment.clone(),
                ..Default::default()
            });
            next.get_or_insert(Next::Stalled {
                reason: reason::INVALID_SPEC,
                message: format!(
                    "deployments: the Choreo organization has no environment {:?}; it has {}",
                    want.environment,
                    known.join(", ")
                ),
            });
            continue;
        };
        let current = newest(deployments.iter().filter(|d| d.environment_id == env.id));
        statuses.push(DeploymentStatus {
            environment: want.environment.clone(),
            environment_id: Some(env.id.clone()),
            id: current.map(|d| d.id.clone()),
            build_id: current.map(|d| d.build_id.clone()),
            status: current.map(|d| d.status.to_string()),
        });
        if next.is_some() {
            continue;
        }
        let ours = current.filter(|d| d.build_id == build_id);
        match ours.map(|d| &d.status) {
            Some(ChoreoDeploymentStatus::Active) => {}
            Some(ChoreoDeploymentStatus::Failed) => {
                next = Some(Next::Stalled {
                    reason: reasons::DEPLOYMENT_FAILED,
                    message: format!(
                        "the deployment of build {build_id} to {} failed; declare a new \
                         revision to build and deploy again",
                        want.environment
                    ),
                });
            }
            Some(ChoreoDeploymentStatus::Inactive) | None => {
                next = Some(Next::Deploy {
                    environment: want.environment.clone(),
                    environment_id: env.id.clone(),
                });
            }
            Some(other) => {
                next = Some(Next::Wait(format!(
                    "deploying build {build_id} to {}: {other}",
                    want.environment
                )));
            }
        }
    }
    Rollout {
        statuses,
        next: next.unwrap_or(Next::Done),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_api::component::BuildStatus;
    use converge_platforms::choreo::ComponentStatus as ChoreoComponentStatus;

    fn spec() -> ChoreoComponent {
        ChoreoComponent {
            name: "orders".into(),
            type_: ChoreoComponentType::Service,
            description: None,
            repo_url: "https://github.com/acme/orders".into(),
            branch: Some("main".into()),
            sub_path: None,
            buildpack_id: None,
            revision: None,
            deployments: vec![],
        }
    }

    fn found(id: &str) -> Component {
        Component {
            id: id.into(),
            name: "orders".into(),
            type_: ComponentType::Service,
            description: None,
            repo_url: "https://github.com/acme/orders".into(),
            branch: Some("main".into()),
            buildpack_id: None,
            project_id: None,
            org_id: None,
            status: Some(ChoreoComponentStatus::Inactive),
            created_at: None,
        }
    }

    fn t(s: i64) -> Option<jiff::Timestamp> {
        Some(jiff::Timestamp::from_second(s).unwrap())
    }

    fn b(id: &str, commit: &str, branch: &str, at: i64, status: ChoreoBuildStatus) -> Build {
        Build {
            id: id.into(),
            status,
            commit_hash: commit.into(),
            branch: Some(branch.into()),
            component_id: None,
            created_at: t(at),
            completed_at: None,
        }
    }

    fn rev(branch: Option<&str>, commit: Option<&str>) -> ChoreoRevision {
        ChoreoRevision {
            branch: branch.map(str::to_string),
            commit: commit.map(str::to_string),
        }
    }

    fn recorded(id: &str, revision: &str) -> ComponentStatus {
        ComponentStatus {
            build: Some(Box::new(BuildStatus {
                id: id.into(),
                status: "Success".into(),
                revision: Some(revision.into()),
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_succeeded_build_of_the_declared_revision_is_settled() {
        let r = rev(Some("main"), Some("4f2c9e1"));
        let key = revision_key(&r);
        assert_eq!(
            settled_build(Some(&r), &recorded("b1", &key)),
            Some("b1".to_string())
        );
        // Another revision, no revision, a build still running or failed: look at the builds.
        assert_eq!(
            settled_build(Some(&r), &recorded("b1", "main@0000000")),
            None
        );
        assert_eq!(settled_build(None, &recorded("b1", &key)), None);
        for status in ["InProgress", "Failed", "Pending"] {
            let mut s = recorded("b1", &key);
            s.build.as_mut().unwrap().status = status.into();
            assert_eq!(settled_build(Some(&r), &s), None, "{status}");
        }
        assert_eq!(settled_build(Some(&r), &ComponentStatus::default()), None);
    }

    #[test]
    fn a_missing_component_is_created_with_the_declared_source() {
        let mut s = spec();
        s.sub_path = Some("svc".into());
        let body = create_body(&s);
        assert_eq!(body.name, "orders");
        assert_eq!(body.sub_path.as_deref(), Some("svc"));
        assert_eq!(body.type_, ComponentType::Service);
    }

    #[test]
    fn a_component_with_another_source_stalls_because_choreo_cannot_update_it() {
        let mut other = found("c1");
        other.repo_url = "https://github.com/acme/other".into();
        other.branch = Some("dev".into());
        match differs(&spec(), &other) {
            Some(Phase::Stalled { reason: r, message }) => {
                assert_eq!(r, reasons::PLATFORM_OBJECT_DIFFERS);
                assert!(message.contains("repoUrl") && message.contains("branch"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(differs(&spec(), &found("c1")), None);
        // An undeclared branch is the platform's default, not a difference.
        let mut s = spec();
        s.branch = None;
        let mut dev = found("c1");
        dev.branch = Some("dev".into());
        assert_eq!(differs(&s, &dev), None);
    }

    #[test]
    fn no_revision_builds_nothing() {
        assert_eq!(
            build(None, &ComponentStatus::default(), &[]),
            BuildStep::Nothing
        );
    }

    #[test]
    fn a_new_revision_triggers_a_build_of_it() {
        let r = rev(Some("main"), Some("4f2c9e1"));
        let old = [b("b0", "1111111", "main", 1, ChoreoBuildStatus::Success)];
        match build(Some(&r), &recorded("b0", "main@1111111"), &old) {
            BuildStep::Trigger { key, body } => {
                assert_eq!(key, "main@4f2c9e1");
                assert_eq!(body.commit_hash.as_deref(), Some("4f2c9e1"));
                assert_eq!(body.branch.as_deref(), Some("main"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_recorded_build_of_the_revision_is_watched() {
        let r = rev(Some("main"), None);
        let builds = [
            b("b2", "2222222", "main", 2, ChoreoBuildStatus::InProgress),
            b("b1", "1111111", "main", 1, ChoreoBuildStatus::Success),
        ];
        assert_eq!(
            build(Some(&r), &recorded("b1", "main"), &builds),
            BuildStep::Watch(builds[1].clone())
        );
    }

    #[test]
    fn an_existing_build_of_the_commit_is_reused_not_repeated() {
        let r = rev(None, Some("4f2c9e1"));
        let builds = [
            b(
                "b2",
                "4f2c9e1aaaaaaaa",
                "main",
                5,
                ChoreoBuildStatus::Success,
            ),
            b(
                "b1",
                "4f2c9e1aaaaaaaa",
                "main",
                3,
                ChoreoBuildStatus::Failed,
            ),
            b("b0", "9999999", "main", 9, ChoreoBuildStatus::Success),
        ];
        assert_eq!(
            build(Some(&r), &ComponentStatus::default(), &builds),
            BuildStep::Watch(builds[0].clone())
        );
        // On another branch it is another revision.
        let r = rev(Some("release"), Some("4f2c9e1"));
        assert!(matches!(
            build(Some(&r), &ComponentStatus::default(), &builds),
            BuildStep::Trigger { .. }
        ));
    }

    #[test]
    fn after_a_crash_the_requested_branch_build_is_found_not_triggered_again() {
        let r = rev(Some("main"), None);
        let mut status = recorded("b0", "feature");
        status.pending_build = Some("main".into());
        let builds = [
            b("b1", "2222222", "main", 2, ChoreoBuildStatus::Pending),
            b("b0", "1111111", "main", 1, ChoreoBuildStatus::Success),
        ];
        assert_eq!(
            build(Some(&r), &status, &builds),
            BuildStep::Watch(builds[0].clone())
        );
        // Without the marker a branch revision is built afresh.
        status.pending_build = None;
        assert!(matches!(
            build(Some(&r), &status, &builds),
            BuildStep::Trigger { .. }
        ));
    }

    #[test]
    fn build_outcomes() {
        for (s, o) in [
            (ChoreoBuildStatus::Pending, Outcome::Running),
            (ChoreoBuildStatus::InProgress, Outcome::Running),
            (ChoreoBuildStatus::Success, Outcome::Succeeded),
            (ChoreoBuildStatus::Failed, Outcome::Failed),
            (ChoreoBuildStatus::Cancelled, Outcome::Failed),
        ] {
            assert_eq!(outcome(&b("b", "1111111", "main", 1, s)), o);
        }
    }

    fn env(id: &str, name: &str) -> Environment {
        Environment {
            id: id.into(),
            name: name.into(),
            type_: None,
            is_default: false,
            org_id: None,
        }
    }

    fn d(id: &str, build: &str, env: &str, at: i64, status: ChoreoDeploymentStatus) -> Deployment {
        Deployment {
            id: id.into(),
            build_id: build.into(),
            environment_id: env.into(),
            status,
            component_id: None,
            created_at: t(at),
        }
    }

    fn targets() -> (Vec<ChoreoDeployment>, Vec<Environment>) {
        (
            vec![
                ChoreoDeployment {
                    environment: "Development".into(),
                },
                ChoreoDeployment {
                    environment: "Production".into(),
                },
            ],
            vec![env("e1", "Development"), env("e3", "Production")],
        )
    }

    #[test]
    fn the_rollout_starts_with_the_first_environment() {
        let (declared, envs) = targets();
        let r = rollout(&declared, &envs, &[], "b1");
        assert_eq!(
            r.next,
            Next::Deploy {
                environment: "Development".into(),
                environment_id: "e1".into()
            }
        );
        assert_eq!(r.statuses.len(), 2);
        assert_eq!(r.statuses[0].environment_id.as_deref(), Some("e1"));
    }

    #[test]
    fn the_next_environment_waits_for_the_previous_one_to_be_active() {
        let (declared, envs) = targets();
        let pending = [d("d1", "b1", "e1", 1, ChoreoDeploymentStatus::Pending)];
        assert!(matches!(
            rollout(&declared, &envs, &pending, "b1").next,
            Next::Wait(_)
        ));
        let live = [d("d1", "b1", "e1", 1, ChoreoDeploymentStatus::Active)];
        assert_eq!(
            rollout(&declared, &envs, &live, "b1").next,
            Next::Deploy {
                environment: "Production".into(),
                environment_id: "e3".into()
            }
        );
    }

    #[test]
    fn everything_live_is_done_and_reported() {
        let (declared, envs) = targets();
        let all = [
            d("d2", "b1", "e3", 2, ChoreoDeploymentStatus::Active),
            d("d1", "b1", "e1", 1, ChoreoDeploymentStatus::Active),
            d("d0", "b0", "e1", 0, ChoreoDeploymentStatus::Inactive),
        ];
        let r = rollout(&declared, &envs, &all, "b1");
        assert_eq!(r.next, Next::Done);
        assert_eq!(r.statuses[0].id.as_deref(), Some("d1"));
        assert_eq!(r.statuses[1].status.as_deref(), Some("Active"));
    }

    #[test]
    fn a_newer_deployment_of_another_build_is_drift_and_is_replaced() {
        let (declared, envs) = targets();
        let drifted = [
            d("d9", "b9", "e1", 9, ChoreoDeploymentStatus::Active),
            d("d1", "b1", "e1", 1, ChoreoDeploymentStatus::Inactive),
        ];
        let r = rollout(&declared, &envs, &drifted, "b1");
        assert!(
            matches!(r.next, Next::Deploy { ref environment, .. } if environment == "Development")
        );
        assert_eq!(r.statuses[0].build_id.as_deref(), Some("b9"));
    }

    #[test]
    fn a_new_build_rolls_out_again() {
        let (declared, envs) = targets();
        let old = [
            d("d2", "b1", "e3", 2, ChoreoDeploymentStatus::Active),
            d("d1", "b1", "e1", 1, ChoreoDeploymentStatus::Active),
        ];
        assert!(matches!(
            rollout(&declared, &envs, &old, "b2").next,
            Next::Deploy { ref environment, .. } if environment == "Development"
        ));
    }

    #[test]
    fn a_failed_deployment_or_unknown_environment_stalls() {
        let (declared, envs) = targets();
        let failed = [d("d1", "b1", "e1", 1, ChoreoDeploymentStatus::Failed)];
        assert!(matches!(
            rollout(&declared, &envs, &failed, "b1").next,
            Next::Stalled { reason: r, .. } if r == reasons::DEPLOYMENT_FAILED
        ));
        let unknown = vec![ChoreoDeployment {
            environment: "QA".into(),
        }];
        match rollout(&unknown, &envs, &[], "b1").next {
            Next::Stalled { reason: r, message } => {
                assert_eq!(r, reason::INVALID_SPEC);
                assert!(message.contains("Development"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn revisions_read_plainly() {
        assert_eq!(
            revision_key(&rev(Some("main"), Some("abc1234"))),
            "main@abc1234"
        );
        assert_eq!(revision_key(&rev(Some("main"), None)), "main");
        assert_eq!(revision_key(&rev(None, Some("abc1234"))), "abc1234");
    }
}
