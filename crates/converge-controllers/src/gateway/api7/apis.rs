//! The application's APIs (pure): create the declared ones that are missing, update the
//! declared ones that differ, and delete only APIs Converge manages (recorded in status) that
//! the manifest no longer declares. APIs someone else added are left alone.

use crate::gateway::api7::application::{labels, plugins_match, same_set};
use converge_api::gateway::{ApiStatus, GatewayApi, PathType};
use converge_platforms::api7::{self, Active, Api, ApiSpec, ApiType};

#[derive(Clone, Debug, PartialEq)]
pub enum ApiAction {
    Create {
        name: String,
        body: ApiSpec,
    },
    Update {
        id: String,
        body: ApiSpec,
        what: String,
    },
    Delete {
        id: String,
        name: String,
    },
}

impl ApiAction {
    /// One line for Events and held reports.
    pub fn describe(&self) -> String {
        match self {
            ApiAction::Create { name, .. } => format!("create API {name}"),
            ApiAction::Update { body, what, .. } => format!("update API {}: {what}", body.name),
            ApiAction::Delete { name, .. } => format!("delete API {name}"),
        }
    }
}

/// The plan for the APIs, and the ids to record for the declared APIs that already exist.
pub fn plan(
    declared: &[GatewayApi],
    observed: &[Api],
    recorded: &[ApiStatus],
) -> (Vec<ApiAction>, Vec<ApiStatus>) {
    let mut actions = Vec::new();
    let mut known = Vec::new();
    for want in declared {
        match observed.iter().find(|o| o.spec.name == want.name) {
            None => actions.push(ApiAction::Create {
                name: want.name.clone(),
                body: merged(want, None),
            }),
            Some(have) => {
                known.push(ApiStatus {
                    name: want.name.clone(),
                    id: have.id.clone(),
                });
                let what = differences(want, &have.spec);
                if !what.is_empty() {
                    actions.push(ApiAction::Update {
                        id: have.id.clone(),
                        body: merged(want, Some(&have.spec)),
                        what: what.join(", "),
                    });
                }
            }
        }
    }
    for have in observed {
        let ours = recorded.iter().any(|r| r.id == have.id);
        if ours && !declared.iter().any(|d| d.name == have.spec.name) {
            actions.push(ApiAction::Delete {
                id: have.id.clone(),
                name: have.spec.name.clone(),
            });
        }
    }
    (actions, known)
}

fn methods(api: &GatewayApi) -> Vec<String> {
    api.methods
        .iter()
        .map(|m| {
            serde_json::to_value(m)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect()
}

fn path_type(p: PathType) -> api7::PathType {
    match p {
        PathType::Prefix => api7::PathType::Prefix,
        PathType::Exact => api7::PathType::Exact,
    }
}

fn api_type(t: converge_api::gateway::ApiType) -> ApiType {
    match t {
        converge_api::gateway::ApiType::Rest => ApiType::Rest,
        converge_api::gateway::ApiType::WebSocket => ApiType::WebSocket,
    }
}

fn paths(api: &GatewayApi) -> Vec<api7::ApiPath> {
    api.paths
        .iter()
        .map(|p| api7::ApiPath {
            path: p.path.clone(),
            path_type: p.path_type.map(path_type),
        })
        .collect()
}

/// The whole API to send (a `PUT` replaces it): the declared fields over what the platform has.
fn merged(want: &GatewayApi, have: Option<&ApiSpec>) -> ApiSpec {
    let mut out = have.cloned().unwrap_or_else(|| ApiSpec {
        name: want.name.clone(),
        description: String::new(),
        methods: vec![],
        paths: vec![],
        strip_path_prefix: false,
        fine_grained_route_control: None,
        plugins: Default::default(),
        labels: vec![],
        kind: None,
        active: Active::Published,
    });
    if let Some(d) = &want.description {
        out.description = d.clone();
    }
    if !want.methods.is_empty() {
        out.methods = methods(want);
    }
    out.paths = paths(want);
    if let Some(s) = want.strip_path_prefix {
        out.strip_path_prefix = s;
    }
    if let Some(p) = &want.plugins {
        out.plugins = p.clone();
    }
    if !want.labels.is_empty() {
        out.labels = labels(&want.labels);
    }
    if let Some(t) = want.type_ {
        out.kind = Some(api_type(t));
    }
    if let Some(p) = want.published {
        out.active = Active::from_published(p);
    }
    out
}

/// The declared fields that differ, by name.
fn differences(want: &GatewayApi, have: &ApiSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    if want
        .description
        .as_ref()
        .is_some_and(|d| *d != have.description)
    {
        out.push("description");
    }
    if !want.methods.is_empty() && !same_set(&methods(want), &have.methods) {
        out.push("methods");
    }
    let paths_same = want.paths.len() == have.paths.len()
        && want.paths.iter().zip(&have.paths).all(|(w, h)| {
            w.path == h.path
                && w.path_type.is_none_or(|t| {
                    h.path_type.clone().unwrap_or(api7::PathType::Prefix) == path_type(t)
                })
        });
    if !paths_same {
        out.push("paths");
    }
    if want
        .strip_path_prefix
        .is_some_and(|s| s != have.strip_path_prefix)
    {
        out.push("stripPathPrefix");
    }
    if want
        .plugins
        .as_ref()
        .is_some_and(|p| !plugins_match(p, &have.plugins))
    {
        out.push("plugins");
    }
    if !want.labels.is_empty() && !same_set(&labels(&want.labels), &have.labels) {
        out.push("labels");
    }
    if want
        .type_
        .is_some_and(|t| have.kind.clone().unwrap_or(ApiType::Rest) != api_type(t))
    {
        out.push("type");
    }
    if want
        .published
        .is_some_and(|p| Active::from_published(p) != have.active)
    {
        out.push("published");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_platforms::api7::EntityStatus;
    use serde_json::json;

    fn declared(name: &str) -> GatewayApi {
        serde_json::from_value(json!({
            "name": name,
            "methods": ["GET", "POST"],
            "paths": [{"path": "/orders", "pathType": "Exact"}],
            "stripPathPrefix": true,
        }))
        .unwrap()
    }

    /// As the platform answers a create of `api`, defaults filled in.
    fn observed(id: &str, api: &GatewayApi) -> Api {
        let mut spec = merged(api, None);
        spec.kind.get_or_insert(ApiType::Rest);
        for p in &mut spec.paths {
            p.path_type.get_or_insert(api7::PathType::Prefix);
        }
        Api {
            id: id.into(),
            app_id: "11".into(),
            status: EntityStatus::Normal,
            created_at: None,
            updated_at: None,
            spec,
        }
    }

    fn rec(name: &str, id: &str) -> ApiStatus {
        ApiStatus {
            name: name.into(),
            id: id.into(),
        }
    }

    #[test]
    fn missing_apis_are_created() {
        let (actions, known) = plan(&[declared("a")], &[], &[]);
        assert!(known.is_empty());
        let [ApiAction::Create { name, body }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert_eq!(name, "a");
        assert_eq!(body.methods, vec!["GET", "POST"]);
        assert!(body.strip_path_prefix);
        assert_eq!(body.paths[0].path_type, Some(api7::PathType::Exact));
    }

    #[test]
    fn matching_apis_need_nothing_and_their_ids_are_known() {
        let a = declared("a");
        let (actions, known) = plan(std::slice::from_ref(&a), &[observed("5", &a)], &[]);
        assert!(actions.is_empty(), "{actions:?}");
        assert_eq!(known, vec![rec("a", "5")]);
    }

    #[test]
    fn a_changed_api_is_replaced_keeping_what_is_not_declared() {
        let a = declared("a");
        let mut have = observed("5", &a);
        have.spec.methods = vec!["GET".into()];
        have.spec.description = "by hand".into();
        have.spec.paths[0].path = "/old".into();
        let (actions, _) = plan(&[a], &[have], &[]);
        let [ApiAction::Update { id, body, what }] = actions.as_slice() else {
            panic!("{actions:?}")
        };
        assert_eq!(id, "5");
        assert_eq!(what, "methods, paths");
        assert_eq!(body.paths[0].path, "/orders");
        assert_eq!(body.description, "by hand");
    }

    #[test]
    fn declared_flags_are_compared() {
        let mut a = declared("a");
        a.published = Some(false);
        a.type_ = Some(converge_api::gateway::ApiType::WebSocket);
        let have = observed("5", &declared("a"));
        let (actions, _) = plan(&[a], &[have], &[]);
        assert_eq!(actions[0].describe(), "update API a: type, published");
    }

    #[test]
    fn only_our_undeclared_apis_are_deleted() {
        let a = declared("a");
        let ours = observed("6", &declared("gone"));
        let theirs = observed("7", &declared("someone-elses"));
        let (actions, known) = plan(
            std::slice::from_ref(&a),
            &[observed("5", &a), ours, theirs],
            &[rec("a", "5"), rec("gone", "6")],
        );
        assert_eq!(
            actions,
            vec![ApiAction::Delete {
                id: "6".into(),
                name: "gone".into()
            }]
        );
        assert_eq!(known, vec![rec("a", "5")]);
    }
}
