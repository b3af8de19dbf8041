//! The application itself (pure): what to create, and what differs between the manifest and
//! the application API7 Cloud holds. Only declared fields are compared; values the platform
//! fills in (scheme http, lb_type roundrobin, target weight 100, protocol HTTP) are left alone
//! when the manifest does not name them.

use serde_json::{Map, Value};

use converge_api::gateway::{self as crd, GatewayApplicationSpec, UpstreamVersion};
use converge_platforms::api7::{
    Active, Application, ApplicationPatch, ApplicationSpec, LbType, Protocol, Upstream,
    UpstreamAndVersion, UpstreamScheme, UpstreamTarget,
};

/// The upstream version the manifest sends traffic to outside a canary.
pub fn spec_default_version(spec: &GatewayApplicationSpec) -> &str {
    spec.default_upstream_version
        .as_deref()
        .unwrap_or("default")
}

/// The body of the create. `default_version` is the version to serve (the spec's default, or
/// the canary's once promoted).
pub fn create_body(spec: &GatewayApplicationSpec, default_version: &str) -> ApplicationSpec {
    ApplicationSpec {
        name: spec.name.clone(),
        description: spec.description.clone().unwrap_or_default(),
        hosts: spec.hosts.clone(),
        path_prefix: spec.path_prefix.clone(),
        protocols: spec.protocols.iter().map(|p| protocol(*p)).collect(),
        upstreams: spec.upstreams.iter().map(|u| upstream(u, None)).collect(),
        default_upstream_version: default_version.to_string(),
        plugins: spec.plugins.clone().unwrap_or_default(),
        labels: labels(&spec.labels),
        active: Active::from_published(spec.published.unwrap_or(true)),
    }
}

/// The fields to change on `observed` (a PATCH of just those) and a line per change for the
/// Events and held reports. An empty list means the application matches.
pub fn diff(
    spec: &GatewayApplicationSpec,
    observed: &Application,
    default_version: &str,
) -> (ApplicationPatch, Vec<String>) {
    let have = &observed.spec;
    let mut patch = ApplicationPatch::default();
    let mut changes = Vec::new();
    if spec.name != have.name {
        patch.name = Some(spec.name.clone());
        changes.push(format!("rename to {}", spec.name));
    }
    if let Some(d) = &spec.description
        && *d != have.description
    {
        patch.description = Some(d.clone());
        changes.push("update description".into());
    }
    if !same_set(&spec.hosts, &have.hosts) {
        patch.hosts = Some(spec.hosts.clone());
        changes.push(format!("set hosts to {}", spec.hosts.join(", ")));
    }
    if spec.path_prefix != have.path_prefix {
        patch.path_prefix = Some(spec.path_prefix.clone());
        changes.push(format!("set path prefix to {}", spec.path_prefix));
    }
    if !spec.protocols.is_empty() {
        let want: Vec<Protocol> = spec.protocols.iter().map(|p| protocol(*p)).collect();
        if !same_set(&want, &have.protocols) {
            changes.push(format!(
                "set protocols to {}",
                want.iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            patch.protocols = Some(want);
        }
    }
    let upstream_changes = upstream_diff(&spec.upstreams, &have.upstreams);
    if !upstream_changes.is_empty() {
        patch.upstreams = Some(
            spec.upstreams
                .iter()
                .map(|u| {
                    let seen = have.upstreams.iter().find(|o| o.version == u.version);
                    upstream(u, seen)
                })
                .collect(),
        );
        changes.extend(upstream_changes);
    }
    if default_version != have.default_upstream_version {
        patch.default_upstream_version = Some(default_version.to_string());
        changes.push(format!("set default upstream version to {default_version}"));
    }
    if let Some(want) = &spec.plugins
        && !plugins_match(want, &have.plugins)
    {
        patch.plugins = Some(want.clone());
        changes.push("update plugins".into());
    }
    if !spec.labels.is_empty() {
        let want = labels(&spec.labels);
        if !same_set(&want, &have.labels) {
            changes.push(format!("set labels to {}", want.join(", ")));
            patch.labels = Some(want);
        }
    }
    if let Some(published) = spec.published
        && Active::from_published(published) != have.active
    {
        patch.active = Some(Active::from_published(published));
        changes.push(if published { "publish" } else { "unpublish" }.into());
    }
    (patch, changes)
}

/// Declared plugins match when the same plugins are configured and each declared setting has
/// the declared value (the platform may add settings of its own).
pub fn plugins_match(want: &Map<String, Value>, have: &Map<String, Value>) -> bool {
    want.len() == have.len()
        && want
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| contains(h, v)))
}

/// Whether `have` holds everything `want` says: objects key by key, anything else equal.
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| contains(hv, v))),
        _ => have == want,
    }
}

pub fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

pub fn labels(labels: &[converge_api::common::schema::Api7Label]) -> Vec<String> {
    labels.iter().map(|l| l.0.clone()).collect()
}

fn protocol(p: crd::Protocol) -> Protocol {
    match p {
        crd::Protocol::Http => Protocol::Http,
        crd::Protocol::Https => Protocol::Https,
    }
}

fn scheme(s: crd::UpstreamScheme) -> UpstreamScheme {
    match s {
        crd::UpstreamScheme::Http => UpstreamScheme::Http,
        crd::UpstreamScheme::Https => UpstreamScheme::Https,
    }
}

fn lb_type(l: crd::LbType) -> LbType {
    match l {
        crd::LbType::Roundrobin => LbType::Roundrobin,
        crd::LbType::ConsistentHash => LbType::ConsistentHash,
        crd::LbType::Ewma => LbType::Ewma,
        crd::LbType::LeastConn => LbType::LeastConn,
    }
}

fn target(t: &crd::UpstreamTarget) -> UpstreamTarget {
    UpstreamTarget {
        host: t.host.clone(),
        port: t.port.clamp(0, u16::MAX as i32) as u16,
        weight: t.weight.map(|w| w.max(0) as u32),
    }
}

/// The upstream version to send: the declared fields over what the platform holds for it, so
/// settings the manifest does not declare (health checks, host mode...) are kept.
fn upstream(u: &UpstreamVersion, seen: Option<&UpstreamAndVersion>) -> UpstreamAndVersion {
    let mut out = seen.cloned().unwrap_or_else(|| UpstreamAndVersion {
        version: u.version.clone(),
        upstream: Upstream::default(),
        client_cert_id: None,
    });
    let up = &mut out.upstream;
    if let Some(s) = u.scheme {
        up.scheme = Some(scheme(s));
    }
    if let Some(l) = u.lb_type {
        up.lb_type = Some(lb_type(l));
    }
    up.targets = u.targets.iter().map(target).collect();
    if let Some(r) = u.retries {
        up.retries = Some(r.max(0) as u32);
    }
    if let Some(t) = &u.timeout {
        let mut timeout = up.timeout.clone().unwrap_or_default();
        let secs = |v: Option<i32>, old: Option<u64>| v.map(|s| s.max(1) as u64).or(old);
        timeout.connect = secs(t.connect, timeout.connect);
        timeout.send = secs(t.send, timeout.send);
        timeout.read = secs(t.read, timeout.read);
        up.timeout = Some(timeout);
    }
    out
}

/// One line per upstream version that differs in a declared field.
fn upstream_diff(want: &[UpstreamVersion], have: &[UpstreamAndVersion]) -> Vec<String> {
    let mut out = Vec::new();
    for u in want {
        let Some(o) = have.iter().find(|o| o.version == u.version) else {
            out.push(format!("add upstream version {}", u.version));
            continue;
        };
        if !upstream_matches(u, &o.upstream) {
            out.push(format!("update upstream version {}", u.version));
        }
    }
    for o in have {
        if !want.iter().any(|u| u.version == o.version) {
            out.push(format!("remove upstream version {}", o.version));
        }
    }
    out
}

fn upstream_matches(u: &UpstreamVersion, o: &Upstream) -> bool {
    let scheme_ok = u.scheme.is_none_or(|s| o.scheme == Some(scheme(s)));
    let lb_ok = u.lb_type.is_none_or(|l| o.lb_type == Some(lb_type(l)));
    let retries_ok = u.retries.is_none_or(|r| o.retries == Some(r.max(0) as u32));
    let timeout_ok = u.timeout.as_ref().is_none_or(|t| {
        let have = o.timeout.clone().unwrap_or_default();
        let same = |w: Option<i32>, h: Option<u64>| w.is_none_or(|w| h == Some(w.max(1) as u64));
        same(t.connect, have.connect) && same(t.send, have.send) && same(t.read, have.read)
    });
    let targets_ok = u.targets.len() == o.targets.len()
        && u.targets.iter().all(|t| {
            let t = target(t);
            o.targets.iter().any(|h| {
                h.host == t.host && h.port == t.port && t.weight.is_none_or(|w| h.weight == Some(w))
            })
        });
    scheme_ok && lb_ok && retries_ok && timeout_ok && targets_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_platforms::api7::{EntityStatus, UpstreamTimeout};
    use serde_json::json;

    fn timeout(connect: u64) -> UpstreamTimeout {
        UpstreamTimeout {
            connect: Some(connect),
            ..Default::default()
        }
    }

    fn spec() -> GatewayApplicationSpec {
        serde_json::from_value(json!({
            "connectionRef": {"name": "api7"},
            "name": "checkout",
            "hosts": ["a.test", "b.test"],
            "pathPrefix": "/checkout",
            "upstreams": [
                {"version": "v1", "targets": [{"host": "v1.internal", "port": 8080}]},
                {"version": "v2", "scheme": "https", "targets": [{"host": "v2.internal", "port": 8443, "weight": 5}]}
            ],
            "defaultUpstreamVersion": "v1",
        }))
        .unwrap()
    }

    /// The application as the platform answers a create of `spec`, with its defaults filled in.
    fn observed(spec: &GatewayApplicationSpec) -> Application {
        let mut body = create_body(spec, spec_default_version(spec));
        if body.protocols.is_empty() {
            body.protocols = vec![Protocol::Http];
        }
        for u in &mut body.upstreams {
            u.upstream.scheme.get_or_insert(UpstreamScheme::Http);
            u.upstream.lb_type.get_or_insert(LbType::Roundrobin);
            for t in &mut u.upstream.targets {
                t.weight.get_or_insert(100);
            }
        }
        Application {
            id: "11".into(),
            cluster_id: "2001".into(),
            status: EntityStatus::Normal,
            created_at: None,
            updated_at: None,
            available_cert_ids: vec![],
            canary_release_id: vec![],
            canary_upstream_version_list: vec![],
            spec: body,
        }
    }

    #[test]
    fn the_platforms_defaults_are_not_a_difference() {
        let s = spec();
        let (patch, changes) = diff(&s, &observed(&s), "v1");
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(patch, ApplicationPatch::default());
    }

    #[test]
    fn create_sends_what_is_declared() {
        let body = create_body(&spec(), "v1");
        assert_eq!(body.default_upstream_version, "v1");
        assert_eq!(body.active, Active::Published);
        assert!(body.protocols.is_empty(), "the platform picks HTTP");
        assert_eq!(body.upstreams[1].upstream.targets[0].weight, Some(5));
        assert_eq!(body.upstreams[0].upstream.scheme, None);
    }

    #[test]
    fn hosts_are_a_set() {
        let s = spec();
        let mut o = observed(&s);
        o.spec.hosts.reverse();
        assert!(diff(&s, &o, "v1").1.is_empty());
        o.spec.hosts.pop();
        let (patch, changes) = diff(&s, &o, "v1");
        assert_eq!(patch.hosts, Some(s.hosts.clone()));
        assert_eq!(changes, vec!["set hosts to a.test, b.test"]);
    }

    #[test]
    fn each_declared_field_is_compared_and_only_it_is_sent() {
        let mut s = spec();
        s.description = Some("new".into());
        s.published = Some(false);
        s.labels = vec![converge_api::common::schema::Api7Label("pay".into())];
        s.plugins = Some(
            json!({"cors": {"allow_origins": "*"}})
                .as_object()
                .unwrap()
                .clone(),
        );
        s.protocols = vec![crd::Protocol::Https];
        let o = observed(&spec());
        let (patch, changes) = diff(&s, &o, "v1");
        assert_eq!(patch.description.as_deref(), Some("new"));
        assert_eq!(patch.active, Some(Active::Unpublished));
        assert_eq!(patch.labels, Some(vec!["pay".to_string()]));
        assert!(patch.plugins.is_some());
        assert_eq!(patch.protocols, Some(vec![Protocol::Https]));
        assert_eq!(patch.hosts, None);
        assert_eq!(patch.upstreams, None);
        assert_eq!(changes.len(), 5, "{changes:?}");
    }

    #[test]
    fn undeclared_settings_are_not_fought() {
        let s = spec();
        let mut o = observed(&s);
        o.spec.description = "set by hand".into();
        o.spec.labels = vec!["team".into()];
        o.spec.active = Active::Unpublished;
        o.spec.upstreams[0].upstream.lb_type = Some(LbType::Ewma);
        o.spec.upstreams[0].upstream.targets[0].weight = Some(7);
        assert!(diff(&s, &o, "v1").1.is_empty());
    }

    #[test]
    fn a_changed_target_rewrites_upstreams_keeping_undeclared_settings() {
        let s = spec();
        let mut o = observed(&s);
        o.spec.upstreams[0].upstream.targets[0].port = 9090;
        o.spec.upstreams[0].upstream.lb_type = Some(LbType::Ewma);
        o.spec.upstreams[0].upstream.timeout = Some(timeout(3));
        let (patch, changes) = diff(&s, &o, "v1");
        assert_eq!(changes, vec!["update upstream version v1"]);
        let ups = patch.upstreams.unwrap();
        assert_eq!(ups[0].upstream.targets[0].port, 8080);
        assert_eq!(ups[0].upstream.lb_type, Some(LbType::Ewma));
        assert_eq!(ups[0].upstream.timeout, Some(timeout(3)));
    }

    #[test]
    fn upstream_versions_added_and_removed() {
        let s = spec();
        let mut o = observed(&s);
        o.spec.upstreams[1].version = "v3".into();
        let (_, changes) = diff(&s, &o, "v1");
        assert_eq!(
            changes,
            vec!["add upstream version v2", "remove upstream version v3"]
        );
    }

    #[test]
    fn declared_upstream_settings_are_compared() {
        let mut s = spec();
        s.upstreams[0].retries = Some(2);
        s.upstreams[0].lb_type = Some(crd::LbType::LeastConn);
        let (_, changes) = diff(&s, &observed(&spec()), "v1");
        assert_eq!(changes, vec!["update upstream version v1"]);
        let (_, changes) = diff(&s, &observed(&s), "v1");
        assert!(changes.is_empty());
    }

    #[test]
    fn the_default_version_to_serve_is_the_callers() {
        let s = spec();
        let (patch, changes) = diff(&s, &observed(&s), "v2");
        assert_eq!(patch.default_upstream_version.as_deref(), Some("v2"));
        assert_eq!(changes, vec!["set default upstream version to v2"]);
    }

    #[test]
    fn plugins_match_with_platform_additions_but_not_extra_plugins() {
        let want = json!({"cors": {"allow_origins": "*"}});
        let want = want.as_object().unwrap();
        let more = json!({"cors": {"allow_origins": "*", "max_age": 5}});
        assert!(plugins_match(want, more.as_object().unwrap()));
        let other = json!({"cors": {"allow_origins": "x"}});
        assert!(!plugins_match(want, other.as_object().unwrap()));
        let extra = json!({"cors": {"allow_origins": "*"}, "limit-count": {}});
        assert!(!plugins_match(want, extra.as_object().unwrap()));
    }
}
