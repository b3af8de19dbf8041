//! Everything to do for an application that exists (pure): the observed application, its APIs
//! and canary releases, and status → the writes, in the order they must happen, and the lines
//! a person reads when writes are held.

use jiff::Timestamp;

use crate::gateway::api7::analysis::Measured;
use crate::gateway::api7::apis::{self, ApiAction};
use crate::gateway::api7::application::{self, spec_default_version};
use crate::gateway::api7::canary::{self, Write};
use converge_api::gateway::{ApiStatus, GatewayApplicationSpec, GatewayApplicationStatus};
use converge_platforms::api7::{Api, Application, ApplicationPatch, CanaryRelease};

/// What the platform holds for this object.
pub struct Observed<'a> {
    pub app: &'a Application,
    /// The release spec.canary names, found by name.
    pub release: Option<&'a CanaryRelease>,
    /// A release status recorded under another name (or with no canary declared any more).
    pub undeclared_release: Option<&'a CanaryRelease>,
    pub apis: &'a [Api],
}

#[derive(Debug)]
pub struct Plan {
    /// End a release no longer declared: first, as it may hold a version the update drops.
    pub retire: Option<Write>,
    pub patch: ApplicationPatch,
    pub app_changes: Vec<String>,
    pub api_actions: Vec<ApiAction>,
    /// Ids of our APIs still on the platform (declared, or about to be deleted).
    pub api_ids: Vec<ApiStatus>,
    /// The declared canary's next move; its write goes last (after the application gained or
    /// promoted its version).
    pub canary: Option<canary::Plan>,
}

impl Plan {
    /// What the writes would change, one line each, in the order they happen.
    pub fn changes(&self) -> Vec<String> {
        let mut out: Vec<String> = self.retire.iter().map(Write::describe).collect();
        out.extend(self.app_changes.iter().cloned());
        out.extend(self.api_actions.iter().map(ApiAction::describe));
        out.extend(
            self.canary
                .iter()
                .filter_map(|c| c.write.as_ref())
                .map(Write::describe),
        );
        out
    }
}

/// `measured` is the canary check made this reconcile, if one was due (`canary::due`).
pub fn decide(
    spec: &GatewayApplicationSpec,
    observed: &Observed,
    status: &GatewayApplicationStatus,
    measured: Option<&Measured>,
    now: Timestamp,
) -> Plan {
    let canary = spec.canary.as_ref().map(|c| {
        canary::decide(canary::Input {
            canary: c,
            release: observed.release,
            recorded: status.canary.as_ref(),
            app_default: &observed.app.spec.default_upstream_version,
            measured,
            now,
        })
    });
    let default_version = match (&spec.canary, &canary) {
        (Some(c), Some(p)) if p.promote => c.upstream_version.as_str(),
        _ => spec_default_version(spec),
    };
    let (patch, app_changes) = application::diff(spec, observed.app, default_version);
    let (api_actions, mut api_ids) = apis::plan(&spec.apis, observed.apis, &status.apis);
    for a in &api_actions {
        if let ApiAction::Delete { id, name } = a {
            api_ids.push(ApiStatus {
                name: name.clone(),
                id: id.clone(),
            });
        }
    }
    Plan {
        retire: observed.undeclared_release.and_then(canary::retire),
        patch,
        app_changes,
        api_actions,
        api_ids,
        canary,
    }
}

/// What follows the create of the application, for a held report when it does not exist yet
/// (the engine reports the create itself).
pub fn create_changes(spec: &GatewayApplicationSpec) -> Vec<String> {
    let mut changes: Vec<String> = spec
        .apis
        .iter()
        .map(|a| format!("create API {}", a.name))
        .collect();
    if let Some(c) = &spec.canary
        && c.abort != Some(true)
    {
        changes.push(format!("start canary release {}", c.name));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_platforms::api7::{
        CanaryReleaseSpec, CanaryState, CanaryType, EntityStatus, LbType, Protocol, UpstreamScheme,
    };
    use serde_json::json;

    fn spec(canary: Option<Value>) -> GatewayApplicationSpec {
        let mut s = json!({
            "connectionRef": {"name": "api7"},
            "name": "shop",
            "hosts": ["shop.test"],
            "pathPrefix": "/shop",
            "upstreams": [
                {"version": "v1", "targets": [{"host": "v1", "port": 80}]},
                {"version": "v2", "targets": [{"host": "v2", "port": 80}]}
            ],
            "defaultUpstreamVersion": "v1",
            "apis": [{"name": "all", "paths": [{"path": "/"}]}]
        });
        if let Some(c) = canary {
            s["canary"] = c;
        }
        serde_json::from_value(s).unwrap()
    }

    use serde_json::Value;

    fn canary_block() -> Value {
        json!({"name": "to-v2", "upstreamVersion": "v2",
               "steps": [{"weight": 10, "pause": "10s"}, {"weight": 100}]})
    }

    /// The application and APIs as the platform holds them after converging `s`.
    fn converged(s: &GatewayApplicationSpec, default: &str) -> (Application, Vec<Api>) {
        let mut body = application::create_body(s, default);
        body.protocols = vec![Protocol::Http];
        for u in &mut body.upstreams {
            u.upstream.scheme = Some(UpstreamScheme::Http);
            u.upstream.lb_type = Some(LbType::Roundrobin);
            u.upstream.targets[0].weight = Some(100);
        }
        let app = Application {
            id: "11".into(),
            cluster_id: "2001".into(),
            status: EntityStatus::Normal,
            created_at: None,
            updated_at: None,
            available_cert_ids: vec![],
            canary_release_id: vec![],
            canary_upstream_version_list: vec![],
            spec: body,
        };
        let (actions, _) = apis::plan(&s.apis, &[], &[]);
        let apis = actions
            .into_iter()
            .enumerate()
            .map(|(i, a)| match a {
                ApiAction::Create { body, .. } => Api {
                    id: format!("{}", 20 + i),
                    app_id: "11".into(),
                    status: EntityStatus::Normal,
                    created_at: None,
                    updated_at: None,
                    spec: body,
                },
                other => panic!("{other:?}"),
            })
            .collect();
        (app, apis)
    }

    fn release(state: CanaryState, percent: u8) -> CanaryRelease {
        CanaryRelease {
            id: "77".into(),
            app_id: "11".into(),
            status: EntityStatus::Normal,
            created_at: None,
            updated_at: Some(Timestamp::from_second(1_700_000_000).unwrap()),
            spec: CanaryReleaseSpec {
                name: "to-v2".into(),
                state,
                kind: CanaryType::Percent,
                canary_upstream_version: "v2".into(),
                percent: Some(percent),
                expressions: vec![],
            },
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_005).unwrap()
    }

    #[test]
    fn nothing_to_do_when_the_platform_matches() {
        let s = spec(None);
        let (app, apis) = converged(&s, "v1");
        let observed = Observed {
            app: &app,
            release: None,
            undeclared_release: None,
            apis: &apis,
        };
        let plan = decide(&s, &observed, &Default::default(), None, now());
        assert!(plan.changes().is_empty(), "{:?}", plan.changes());
        assert_eq!(plan.api_ids.len(), 1);
    }

    #[test]
    fn a_new_canary_starts_after_the_application_is_updated() {
        let s = spec(Some(canary_block()));
        let (mut app, apis) = converged(&s, "v1");
        app.spec.hosts = vec!["old.test".into()];
        let observed = Observed {
            app: &app,
            release: None,
            undeclared_release: None,
            apis: &apis,
        };
        let plan = decide(&s, &observed, &Default::default(), None, now());
        assert_eq!(
            plan.changes(),
            vec![
                "set hosts to shop.test",
                "start canary release to-v2 at step 1/2 (10%), sending traffic to v2"
            ]
        );
    }

    #[test]
    fn finishing_promotes_the_canary_version_before_the_release_ends() {
        let s = spec(Some(canary_block()));
        let (app, apis) = converged(&s, "v1");
        let r = release(CanaryState::InProgress, 100);
        let observed = Observed {
            app: &app,
            release: Some(&r),
            undeclared_release: None,
            apis: &apis,
        };
        let plan = decide(&s, &observed, &Default::default(), None, now());
        assert_eq!(plan.patch.default_upstream_version.as_deref(), Some("v2"));
        let changes = plan.changes();
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert!(changes[1].starts_with("promote canary release to-v2"));
        // Promoted: the default stays the canary version, and nothing else happens.
        let (app, apis) = converged(&s, "v2");
        let done = release(CanaryState::Finished, 100);
        let observed = Observed {
            app: &app,
            release: Some(&done),
            undeclared_release: None,
            apis: &apis,
        };
        let status = GatewayApplicationStatus {
            canary: plan.canary.map(|c| c.status),
            ..Default::default()
        };
        assert!(
            decide(&s, &observed, &status, None, now())
                .changes()
                .is_empty()
        );
    }

    #[test]
    fn a_release_no_longer_declared_is_ended_first() {
        let s = spec(None);
        let (app, apis) = converged(&s, "v1");
        let old = release(CanaryState::Paused, 10);
        let observed = Observed {
            app: &app,
            release: None,
            undeclared_release: Some(&old),
            apis: &apis,
        };
        let plan = decide(&s, &observed, &Default::default(), None, now());
        assert_eq!(
            plan.changes(),
            vec![
                "end canary release to-v2 at 10%, no longer declared: traffic goes back to the default version"
            ]
        );
    }

    #[test]
    fn held_creates_list_what_would_be_made() {
        let s = spec(Some(canary_block()));
        assert_eq!(
            create_changes(&s),
            vec!["create API all", "start canary release to-v2"]
        );
    }
}
