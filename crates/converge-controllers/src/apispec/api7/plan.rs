//! API7 Cloud decisions (pure): the application and the APIs a definition describes, and the
//! documented writes (create, patch the application; create, replace, delete its APIs) that
//! make the platform match it.
//!
//! The docs show an OpenAPI import ("Create Application" with `{"openapi": ...}`) but no path
//! for it, so Converge does not use it: it derives the application and its APIs from the
//! document itself and writes them with the documented application and API operations. A
//! changed definition is patched into the same application (same id, served throughout).
//!
//! What the document gives:
//! - the application: `name` from `info.title`, `description` from `info.description`, one
//!   upstream version "default" from the first server (`servers[0].url`, or `schemes[0]://host`
//!   and `basePath` for Swagger 2.0) with the URL's path as the `path_prefix`. `hosts` (`*`)
//!   and `protocols` (HTTP) are set at creation only: a document does not say where the
//!   gateway listens, so a change made on API7 is left alone;
//! - one API per operation: named by its `operationId` (else `METHOD /path`, cut to 64
//!   characters and made unique), its method, its `summary` as description, its path `Exact`,
//!   or `Prefix` up to the first `{parameter}`; published.

use serde_json::Value;

use crate::apispec::document::{Document, yaml_or_json};
use converge_api::apispec::Api7Import;
use converge_platforms::api7::{
    Active, Api, ApiPath, ApiSpec as Api7Api, ApiType, Application, ApplicationPatch,
    ApplicationSpec, LbType, PathType, Protocol, Upstream, UpstreamAndVersion, UpstreamScheme,
    UpstreamTarget,
};

const OPERATIONS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The upstream version the document's server becomes.
pub const VERSION: &str = "default";

/// What the document describes.
#[derive(Clone, Debug, PartialEq)]
pub struct Derived {
    pub app: ApplicationSpec,
    pub apis: Vec<Api7Api>,
}

/// scheme, host, port and path of an absolute http(s) URL (parsed by the `url` crate, which
/// reqwest re-exports).
fn split_url(url: &str) -> Option<(UpstreamScheme, String, u16, String)> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let scheme = match parsed.scheme() {
        "http" => UpstreamScheme::Http,
        "https" => UpstreamScheme::Https,
        _ => return None,
    };
    let host = parsed.host_str().filter(|h| !h.is_empty())?.to_string();
    let port = parsed.port_or_known_default()?;
    Some((scheme, host, port, parsed.path().to_string()))
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The application and APIs `doc` describes, with `want`'s labels and publish state; `Err`
/// says what to fix in the definition.
pub fn derive(doc: &Document, want: &Api7Import) -> Result<Derived, String> {
    let root = yaml_or_json(&doc.text)?;
    let v3 = root.get("openapi").is_some();
    let url = if v3 {
        root.pointer("/servers/0/url")
            .and_then(Value::as_str)
            .map(str::to_string)
    } else {
        root.get("host").and_then(Value::as_str).map(|host| {
            let scheme = root
                .pointer("/schemes/0")
                .and_then(Value::as_str)
                .unwrap_or("http");
            let base = root.get("basePath").and_then(Value::as_str).unwrap_or("");
            format!("{scheme}://{host}{base}")
        })
    };
    let url = url.ok_or(
        "the definition names no server (servers[0].url, or host for Swagger 2.0) for API7 to \
         forward to",
    )?;
    if url.contains('{') {
        return Err(format!(
            "the server URL {url:?} has variables; API7 needs a concrete upstream"
        ));
    }
    let (scheme, host, port, path) = split_url(&url).ok_or_else(|| {
        format!("the server URL {url:?} is not an absolute http(s) URL: API7 forwards to it")
    })?;
    if doc.title.chars().count() > 64 {
        return Err(format!(
            "info.title {:?} is longer than the 64 characters API7 allows an application name",
            doc.title
        ));
    }
    let prefix = path.trim_end_matches('/');
    let mut labels: Vec<String> = want.labels.iter().map(|l| l.0.clone()).collect();
    labels.sort();
    labels.dedup();
    let app = ApplicationSpec {
        name: doc.title.clone(),
        description: cut(doc.description.as_deref().unwrap_or_default(), 256),
        hosts: vec!["*".into()],
        path_prefix: if prefix.is_empty() { "/" } else { prefix }.to_string(),
        protocols: vec![Protocol::Http],
        upstreams: vec![UpstreamAndVersion {
            version: VERSION.into(),
            upstream: Upstream {
                scheme: Some(scheme),
                lb_type: Some(LbType::Roundrobin),
                targets: vec![UpstreamTarget {
                    host,
                    port,
                    weight: Some(100),
                }],
                ..Default::default()
            },
            client_cert_id: None,
        }],
        default_upstream_version: VERSION.into(),
        plugins: Default::default(),
        labels,
        active: Active::from_published(want.published.unwrap_or(true)),
    };

    let mut apis: Vec<Api7Api> = Vec::new();
    let paths = root.get("paths").and_then(Value::as_object);
    for (route, item) in paths.into_iter().flatten() {
        for method in OPERATIONS {
            let Some(op) = item.get(method).and_then(Value::as_object) else {
                continue;
            };
            let upper = method.to_ascii_uppercase();
            let base = cut(
                op.get("operationId")
                    .and_then(Value::as_str)
                    .map(String::from)
                    .unwrap_or_else(|| format!("{upper} {route}"))
                    .as_str(),
                64,
            );
            let mut name = base.clone();
            let mut n = 2;
            while apis.iter().any(|a| a.name == name) {
                let suffix = format!("-{n}");
                name = format!("{}{suffix}", cut(&base, 64 - suffix.len()));
                n += 1;
            }
            let (api_path, path_type) = match route.find('{') {
                Some(i) => (&route[..i], PathType::Prefix),
                None => (route.as_str(), PathType::Exact),
            };
            apis.push(Api7Api {
                name,
                description: cut(op.get("summary").and_then(Value::as_str).unwrap_or(""), 256),
                methods: vec![upper],
                paths: vec![ApiPath {
                    path: api_path.to_string(),
                    path_type: Some(path_type),
                }],
                strip_path_prefix: false,
                fine_grained_route_control: None,
                plugins: Default::default(),
                labels: vec![],
                kind: Some(ApiType::Rest),
                active: Active::Published,
            });
        }
    }
    if apis.len() > 1000 {
        return Err(format!(
            "the definition has {} operations; Converge manages at most 1000 APIs per application",
            apis.len()
        ));
    }
    Ok(Derived { app, apis })
}

/// The application fields the definition and the manifest own, where the application differs
/// (hosts, protocols and plugins are left as they are on API7). The first words say what
/// changed, for the Event.
pub fn app_patch(want: &ApplicationSpec, app: &Application) -> Option<(ApplicationPatch, String)> {
    let have = &app.spec;
    let mut patch = ApplicationPatch::default();
    let mut what = Vec::new();
    if have.name != want.name {
        patch.name = Some(want.name.clone());
        what.push(format!("name {:?} → {:?}", have.name, want.name));
    }
    if have.description != want.description {
        patch.description = Some(want.description.clone());
        what.push("description".to_string());
    }
    if have.path_prefix != want.path_prefix {
        patch.path_prefix = Some(want.path_prefix.clone());
        what.push(format!(
            "path prefix {:?} → {:?}",
            have.path_prefix, want.path_prefix
        ));
    }
    let wanted = &want.upstreams[0];
    let current = have.upstreams.iter().find(|u| u.version == VERSION);
    let same_upstream = current.is_some_and(|u| {
        u.upstream.scheme.as_ref().unwrap_or(&UpstreamScheme::Http)
            == wanted
                .upstream
                .scheme
                .as_ref()
                .unwrap_or(&UpstreamScheme::Http)
            && targets(&u.upstream) == targets(&wanted.upstream)
    });
    if !same_upstream {
        // Only the document's version is owned: other upstream versions (a canary's) stay.
        let mut upstreams: Vec<UpstreamAndVersion> = have
            .upstreams
            .iter()
            .filter(|u| u.version != VERSION)
            .cloned()
            .collect();
        upstreams.insert(0, wanted.clone());
        patch.upstreams = Some(upstreams);
        what.push(format!("upstream {}", describe_upstream(&wanted.upstream)));
    }
    if have.default_upstream_version != want.default_upstream_version
        && !(have.default_upstream_version.is_empty() && want.default_upstream_version == VERSION)
    {
        patch.default_upstream_version = Some(want.default_upstream_version.clone());
        what.push(format!(
            "default upstream version {:?}",
            want.default_upstream_version
        ));
    }
    let mut labels = have.labels.clone();
    labels.sort();
    if labels != want.labels {
        patch.labels = Some(want.labels.clone());
        what.push(format!("labels [{}]", want.labels.join(", ")));
    }
    if have.active != want.active {
        patch.active = Some(want.active);
        what.push(if want.active == Active::Published {
            "published".to_string()
        } else {
            "unpublished".to_string()
        });
    }
    (!what.is_empty()).then(|| (patch, what.join(", ")))
}

fn targets(u: &Upstream) -> Vec<(String, u16)> {
    let mut t: Vec<(String, u16)> = u.targets.iter().map(|t| (t.host.clone(), t.port)).collect();
    t.sort();
    t
}

fn describe_upstream(u: &Upstream) -> String {
    let scheme = u
        .scheme
        .as_ref()
        .map_or("http", UpstreamScheme::as_str)
        .to_string();
    let targets: Vec<String> = u
        .targets
        .iter()
        .map(|t| format!("{scheme}://{}:{}", t.host, t.port))
        .collect();
    targets.join(", ")
}

/// A change to the application's APIs.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiChange {
    Create(Api7Api),
    /// Replace the API with this id (PUT).
    Replace {
        id: String,
        spec: Api7Api,
    },
    Delete {
        id: String,
        name: String,
    },
}

impl ApiChange {
    /// The change still to make (a held or planned line).
    pub fn describe(&self) -> String {
        match self {
            ApiChange::Create(a) => format!("create API {:?} ({})", a.name, route(a)),
            ApiChange::Replace { spec, .. } => {
                format!("update API {:?} ({})", spec.name, route(spec))
            }
            ApiChange::Delete { name, .. } => {
                format!("delete API {name:?} (no longer in the definition)")
            }
        }
    }

    /// The change once made, in the application named `app` (for its Event).
    pub fn done(&self, app: &str) -> String {
        match self {
            ApiChange::Create(a) => {
                format!("created API {:?} ({}) in {app}", a.name, route(a))
            }
            ApiChange::Replace { spec, .. } => {
                format!("updated API {:?} ({}) in {app}", spec.name, route(spec))
            }
            ApiChange::Delete { name, .. } => {
                format!("deleted API {name:?} from {app} (no longer in the definition)")
            }
        }
    }
}

fn route(a: &Api7Api) -> String {
    let paths: Vec<&str> = a.paths.iter().map(|p| p.path.as_str()).collect();
    format!("{} {}", a.methods.join(","), paths.join(","))
}

/// Whether an API on the platform is what the definition describes, in the fields derived
/// from it (the platform fills others).
fn same_api(want: &Api7Api, have: &Api) -> bool {
    let h = &have.spec;
    let paths = |p: &[ApiPath]| -> Vec<(String, PathType)> {
        p.iter()
            .map(|p| {
                (
                    p.path.clone(),
                    p.path_type.clone().unwrap_or(PathType::Prefix),
                )
            })
            .collect()
    };
    h.description == want.description
        && h.methods == want.methods
        && paths(&h.paths) == paths(&want.paths)
        && h.kind.clone().unwrap_or(ApiType::Rest) == ApiType::Rest
        && !h.strip_path_prefix
        && h.active == want.active
}

/// The changes that make the application's APIs those of the definition, in a safe order:
/// new APIs first, then updates, deletions last, so what stays served is never interrupted.
pub fn api_changes(want: &[Api7Api], have: &[Api]) -> Vec<ApiChange> {
    let mut creates = Vec::new();
    let mut replaces = Vec::new();
    for w in want {
        match have.iter().find(|h| h.spec.name == w.name) {
            None => creates.push(ApiChange::Create(w.clone())),
            Some(h) if !same_api(w, h) => replaces.push(ApiChange::Replace {
                id: h.id.clone(),
                spec: w.clone(),
            }),
            Some(_) => {}
        }
    }
    let deletes = have
        .iter()
        .filter(|h| !want.iter().any(|w| w.name == h.spec.name))
        .map(|h| ApiChange::Delete {
            id: h.id.clone(),
            name: h.spec.name.clone(),
        });
    creates.into_iter().chain(replaces).chain(deletes).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apispec::document::parse;
    use converge_api::common::schema::Api7Label;

    const DOC: &str = "openapi: 3.0.1\ninfo: {title: inventory, version: '1', description: Stock}\nservers: [{url: 'https://inv.internal:8443/v1/'}]\npaths:\n  /items:\n    get: {operationId: listItems, summary: List, responses: {}}\n    post: {responses: {}}\n  /items/{id}:\n    get: {operationId: listItems, responses: {}}\n";

    fn derived(text: &str) -> Derived {
        derive(&parse(text).unwrap(), &Api7Import::default()).unwrap()
    }

    fn on_platform(id: &str, spec: Api7Api) -> Api {
        Api {
            id: id.into(),
            app_id: "42".into(),
            status: converge_platforms::api7::EntityStatus::Normal,
            created_at: None,
            updated_at: None,
            spec,
        }
    }

    fn app(spec: ApplicationSpec) -> Application {
        Application {
            id: "42".into(),
            cluster_id: "2001".into(),
            status: converge_platforms::api7::EntityStatus::Normal,
            created_at: None,
            updated_at: None,
            available_cert_ids: vec![],
            canary_release_id: vec![],
            canary_upstream_version_list: vec![],
            spec,
        }
    }

    #[test]
    fn the_document_gives_the_application_and_one_api_per_operation() {
        let d = derived(DOC);
        assert_eq!(
            (d.app.name.as_str(), d.app.description.as_str()),
            ("inventory", "Stock")
        );
        assert_eq!(d.app.path_prefix, "/v1");
        let u = &d.app.upstreams[0];
        assert_eq!(u.version, "default");
        assert_eq!(u.upstream.scheme, Some(UpstreamScheme::Https));
        assert_eq!(
            (
                u.upstream.targets[0].host.as_str(),
                u.upstream.targets[0].port
            ),
            ("inv.internal", 8443)
        );
        let names: Vec<&str> = d.apis.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["listItems", "POST /items", "listItems-2"]);
        assert_eq!(d.apis[0].paths[0].path_type, Some(PathType::Exact));
        assert_eq!(
            (
                d.apis[2].paths[0].path.as_str(),
                d.apis[2].paths[0].path_type.clone()
            ),
            ("/items/", Some(PathType::Prefix))
        );
        let v2 = derived(
            "swagger: '2.0'\ninfo: {title: orders, version: '1'}\nhost: orders.internal\nbasePath: /api\npaths: {}",
        );
        assert_eq!(split_url("ftp://x"), None);
        assert_eq!(split_url("https://h.test").map(|u| u.2), Some(443));
        assert_eq!(v2.app.path_prefix, "/api");
        assert_eq!(v2.app.upstreams[0].upstream.targets[0].port, 80);
    }

    #[test]
    fn a_document_api7_cannot_forward_to_is_refused_with_a_reason() {
        let relative = parse(
            "openapi: 3.0.1\ninfo: {title: t, version: '1'}\nservers: [{url: /v1}]\npaths: {}",
        )
        .unwrap();
        let e = derive(&relative, &Api7Import::default()).unwrap_err();
        assert!(e.contains("absolute"), "{e}");
        let none = parse("openapi: 3.0.1\ninfo: {title: t, version: '1'}\npaths: {}").unwrap();
        assert!(
            derive(&none, &Api7Import::default())
                .unwrap_err()
                .contains("no server")
        );
    }

    #[test]
    fn a_changed_definition_patches_the_same_application() {
        let before = derived(DOC);
        let moved = derived(&DOC.replace("inv.internal:8443/v1/", "stock.internal/v2"));
        let (patch, what) = app_patch(&moved.app, &app(before.app.clone())).unwrap();
        assert_eq!(patch.path_prefix.as_deref(), Some("/v2"));
        assert!(patch.upstreams.is_some());
        assert_eq!(patch.hosts, None, "hosts are not the definition's");
        assert!(
            what.contains("path prefix") && what.contains("stock.internal"),
            "{what}"
        );
        assert_eq!(app_patch(&before.app, &app(before.app.clone())), None);
        let labelled = derive(
            &parse(DOC).unwrap(),
            &Api7Import {
                labels: vec![Api7Label("b".into()), Api7Label("a".into())],
                published: Some(false),
            },
        )
        .unwrap();
        let (patch, _) = app_patch(&labelled.app, &app(before.app)).unwrap();
        assert_eq!(patch.labels, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(patch.active, Some(Active::Unpublished));
    }

    #[test]
    fn apis_are_created_replaced_and_deleted_new_ones_first() {
        let d = derived(DOC);
        let mut changed = d.apis[0].clone();
        changed.description = "old".into();
        let stale = Api7Api {
            name: "gone".into(),
            ..d.apis[1].clone()
        };
        let have = vec![
            on_platform("1", changed),
            on_platform("2", d.apis[1].clone()),
            on_platform("3", stale),
        ];
        let changes = api_changes(&d.apis, &have);
        let described: Vec<String> = changes.iter().map(ApiChange::describe).collect();
        assert_eq!(
            described,
            [
                "create API \"listItems-2\" (GET /items/)",
                "update API \"listItems\" (GET /items)",
                "delete API \"gone\" (no longer in the definition)"
            ]
        );
        let platform_defaults = Api7Api {
            kind: None,
            ..d.apis[1].clone()
        };
        assert!(api_changes(&d.apis[1..2], &[on_platform("2", platform_defaults)]).is_empty());
    }
}
