//! Nothing a manifest admits may panic. Objects are generated from the six CRDs' own schemas
//! (`converge_api::crds::all()`) with extreme values: the smallest and largest numbers, the longest
//! and shortest strings, ASCII and non-ASCII text, empty and long lists, every enum value,
//! durations up to the CRD's bound. Each one must decode into its type (an object the apiserver
//! accepts but the controller cannot read would stop its kind's watch); those the CRDs' CEL rules
//! admit then go through the pure decision steps, and a batch of them through the engine against
//! the sandboxes (the embedded apiserver and controller of `converge local`). A panic anywhere,
//! caught or not, fails the test: a panic hook counts them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use converge_api::apispec::ApiSpec;
use converge_api::component::{Component, ComponentStatus};
use converge_api::connection::PlatformConnection;
use converge_api::gateway::GatewayApplication;
use converge_api::project::Project;
use converge_api::workflow::{Workflow, WorkflowStatus};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value, json};

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of this test binary, on any thread, caught or not; then prints it.
fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

const KINDS: [&str; 6] = [
    "PlatformConnection",
    "Project",
    "Component",
    "ApiSpec",
    "GatewayApplication",
    "Workflow",
];
const PLATFORMS: [&str; 5] = ["choreo", "cycloid", "frends", "api7", "opschain"];

/// The openAPIV3Schema of `kind`'s spec.
fn spec_schema(kind: &str) -> Value {
    let crd = converge_api::crds::all()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap();
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    schema["openAPIV3Schema"]["properties"]["spec"].clone()
}

/// Text of exactly `n` characters, ASCII or not.
fn text(n: usize, non_ascii: bool) -> String {
    let alphabet: Vec<char> = if non_ascii {
        "éß漢字🙂Ωж\u{301}ñ".chars().collect()
    } else {
        "abcxyz019-_ ./:".chars().collect()
    };
    (0..n).map(|i| alphabet[i % alphabet.len()]).collect()
}

fn bound(s: &Value, key: &str) -> Option<u64> {
    s.get(key).and_then(Value::as_u64)
}

/// `pattern` with Go's (RE2's) meaning of `\d`, `\s` and `\w`: ASCII only, where the regex
/// crate behind proptest would also generate Unicode digits and spaces the apiserver refuses.
fn ascii_classes(pattern: &str) -> String {
    let mut out = String::new();
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                let ascii = match next {
                    'd' => Some("0-9"),
                    's' => Some("\\t\\n\\f\\r "),
                    'w' => Some("0-9A-Za-z_"),
                    'S' if !in_class => Some("^\\t\\n\\f\\r "),
                    _ => None,
                };
                match (ascii, in_class) {
                    (Some(a), true) => out.push_str(a),
                    (Some(a), false) => {
                        out.push('[');
                        out.push_str(a);
                        out.push(']');
                    }
                    (None, _) => {
                        out.push(c);
                        out.push(next);
                    }
                }
            }
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A string the schema admits: from its pattern when it has one (anchors removed: the
/// generator produces whole matches), else at its length bounds, ASCII or not.
fn string(s: &Value) -> BoxedStrategy<Value> {
    let min = bound(s, "minLength").unwrap_or(0) as usize;
    let max = bound(s, "maxLength").unwrap_or(64) as usize;
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
        let inner = pattern.trim_start_matches('^');
        let inner = inner.strip_suffix('$').unwrap_or(inner);
        return proptest::string::string_regex(&ascii_classes(inner))
            .unwrap_or_else(|e| panic!("pattern {pattern}: {e}"))
            .prop_filter("within the length bounds", move |t| {
                (min..=max).contains(&t.chars().count())
            })
            .prop_map(Value::String)
            .boxed();
    }
    prop_oneof![
        Just(text(min, false)),
        Just(text(max, false)),
        Just(text(max, true)),
        Just(text(min.max(1).min(max), true)),
        (min..=max, any::<bool>()).prop_map(|(n, wide)| text(n, wide)),
    ]
    .prop_map(Value::String)
    .boxed()
}

fn integer(s: &Value) -> BoxedStrategy<Value> {
    let int32 = s.get("format").and_then(Value::as_str) == Some("int32");
    let (lo, hi) = if int32 {
        (i32::MIN as i64, i32::MAX as i64)
    } else {
        (i64::MIN, i64::MAX)
    };
    // schemars writes bounds as numbers (65535.0), which JSON Schema allows for integers.
    let bound = |key: &str| s.get(key).and_then(Value::as_f64).map(|f| f as i64);
    let min = bound("minimum").unwrap_or(lo).max(lo);
    let max = bound("maximum").unwrap_or(hi).min(hi);
    prop_oneof![
        Just(min),
        Just(max),
        Just(min.saturating_add(1).min(max)),
        Just(max.saturating_sub(1).max(min)),
        min..=max,
    ]
    .prop_map(Value::from)
    .boxed()
}

/// A small JSON value of any shape, for preserve-unknown-fields objects.
fn free_form() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!({})),
        Just(
            json!({"ключ": "значение 🙂", "big": 1.0e300, "neg": -9007199254740993i64,
                    "nested": {"list": [1, "two", null, {"x": []}]}, "empty": ""})
        ),
        Just(json!({"enabled": true, "count": u64::MAX})),
    ]
    .boxed()
}

/// Removes duplicates from a list the schema declares a set, or a map keyed by some fields.
fn unique(list: Vec<Value>, keys: Option<Vec<String>>) -> Vec<Value> {
    let mut seen = Vec::new();
    list.into_iter()
        .filter(|v| {
            let key = match &keys {
                Some(k) => Value::Array(k.iter().map(|k| v[k].clone()).collect()),
                None => v.clone(),
            };
            let new = !seen.contains(&key);
            seen.push(key);
            new
        })
        .collect()
}

/// Any value the (structural) schema `s` admits, with a bias to its extremes.
fn value(s: &Value, depth: usize) -> BoxedStrategy<Value> {
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && s.get("properties").is_none()
    {
        return free_form();
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array) {
        return proptest::sample::select(options.clone()).boxed();
    }
    match s.get("type").and_then(Value::as_str) {
        Some("string") => string(s),
        Some("integer") => integer(s),
        Some("number") => prop_oneof![
            Just(0.0),
            Just(1.0e308),
            Just(-1.0e308),
            any::<f64>().prop_filter("finite", |x| x.is_finite())
        ]
        .prop_map(Value::from)
        .boxed(),
        Some("boolean") => any::<bool>().prop_map(Value::Bool).boxed(),
        Some("array") => {
            let min = bound(s, "minItems").unwrap_or(0) as usize;
            // Long, but not so long that nested lists multiply into megabytes.
            let cap = if depth > 2 { 3 } else { 24 };
            let max = (bound(s, "maxItems").unwrap_or(8) as usize)
                .min(cap)
                .max(min);
            let items = value(&s["items"], depth + 1);
            let keys = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => Some(
                    s["x-kubernetes-list-map-keys"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k.as_str().unwrap().to_string())
                        .collect(),
                ),
                _ => None,
            };
            let set = s.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set");
            let sizes = prop_oneof![Just(min), Just(max), min..=max];
            sizes
                .prop_flat_map(move |n| proptest::collection::vec(items.clone(), n))
                .prop_map(move |list| {
                    if set || keys.is_some() {
                        Value::Array(unique(list, keys.clone()))
                    } else {
                        Value::Array(list)
                    }
                })
                .boxed()
        }
        Some("object") => object(s, depth),
        _ => free_form(),
    }
}

fn object(s: &Value, depth: usize) -> BoxedStrategy<Value> {
    if let Some(values) = s.get("additionalProperties").filter(|a| a.is_object()) {
        let max = bound(s, "maxProperties").unwrap_or(4).min(6) as usize;
        let keys = prop_oneof![Just("k".to_string()), "[a-z]{1,12}", Just(text(60, true))];
        return proptest::collection::btree_map(keys, value(values, depth + 1), 0..=max)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
            .boxed();
    }
    let required: Vec<String> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
    for (name, schema) in s
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = value(schema, depth + 1);
        let name = name.clone();
        fields.push(if required.contains(&name) {
            v.prop_map(move |v| Some((name.clone(), v))).boxed()
        } else {
            proptest::option::of(v)
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
                .boxed()
        });
    }
    fields
        .prop_map(|fields| Value::Object(fields.into_iter().flatten().collect::<Map<_, _>>()))
        .boxed()
}

/// A whole object of `kind`: its spec from the schema with exactly one platform block (the
/// CEL rule every kind has), its connection named after that platform.
fn object_of(kind: &'static str) -> BoxedStrategy<Value> {
    let schema = spec_schema(kind);
    let blocks: Vec<String> = PLATFORMS
        .iter()
        .filter(|p| schema["properties"].get(**p).is_some())
        .map(|p| p.to_string())
        .collect();
    // Every block generated (required here), all but the chosen one removed below.
    let mut schema = schema;
    for b in &blocks {
        match schema["required"].as_array_mut() {
            Some(r) => r.push(Value::String(b.clone())),
            None => schema["required"] = json!([b]),
        }
    }
    let spec = value(&schema, 0);
    let name = "[a-z][a-z0-9]{0,20}";
    // GatewayApplication has no platform block: it is API7's.
    let platforms = if blocks.is_empty() {
        vec!["api7".to_string()]
    } else {
        blocks.clone()
    };
    (spec, proptest::sample::select(platforms), name)
        .prop_map(move |(mut spec, platform, name)| {
            let platform_value = spec.get(&platform).cloned();
            for b in &blocks {
                spec.as_object_mut().unwrap().remove(b);
            }
            if let Some(block) = platform_value.filter(|_| !blocks.is_empty()) {
                spec[&platform] = block;
            }
            if kind != "PlatformConnection" {
                spec["connectionRef"] = json!({"name": platform});
            }
            json!({
                "apiVersion": "converge.dev/v1alpha1",
                "kind": kind,
                "metadata": {"name": name, "namespace": "extremes", "generation": 1},
                "spec": spec,
            })
        })
        .boxed()
}

/// Decodes as the controller's watch does; None is a failure the caller reports.
fn decodes(obj: &Value) -> Result<(), String> {
    fn typed<K: serde::de::DeserializeOwned>(obj: &Value) -> Result<(), String> {
        serde_json::from_value::<K>(obj.clone())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
    match obj["kind"].as_str().unwrap() {
        "PlatformConnection" => typed::<PlatformConnection>(obj),
        "Project" => typed::<Project>(obj),
        "Component" => typed::<Component>(obj),
        "ApiSpec" => typed::<ApiSpec>(obj),
        "GatewayApplication" => typed::<GatewayApplication>(obj),
        "Workflow" => typed::<Workflow>(obj),
        k => Err(format!("unknown kind {k}")),
    }
}

/// Whether the CRD's CEL rules admit the object (evaluated as `converge local` does).
fn admitted(obj: &Value) -> bool {
    fn cel<K: kube::CustomResourceExt + serde::Serialize + serde::de::DeserializeOwned>(
        obj: &Value,
    ) -> bool {
        serde_json::from_value::<K>(obj.clone())
            .is_ok_and(|k| kube::core::cel::validate_cel(&k).is_ok())
    }
    match obj["kind"].as_str().unwrap() {
        "PlatformConnection" => cel::<PlatformConnection>(obj),
        "Project" => cel::<Project>(obj),
        "Component" => cel::<Component>(obj),
        "ApiSpec" => cel::<ApiSpec>(obj),
        "GatewayApplication" => cel::<GatewayApplication>(obj),
        _ => cel::<Workflow>(obj),
    }
}

/// The pure steps a first reconcile of `obj` takes (nothing observed on the platform yet),
/// and those every kind shares.
fn decide(obj: &Value) {
    use converge_api::common::conditions::CommonStatus;
    use converge_engine::{drift, phase};
    let now = k8s_openapi::jiff::Timestamp::now();
    let time = k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now);
    let shared = |management: &converge_api::common::policy::Management| {
        drift::interval(management);
        drift::share_window(management);
        drift::next_check(management);
        let mut status = CommonStatus::default();
        let stalled = phase::Phase::stalled("InvalidSpec", text(4096, true));
        phase::apply(&mut status, &stalled, Some(i64::MAX), time.clone());
    };
    match obj["kind"].as_str().unwrap() {
        "PlatformConnection" => {
            let c: PlatformConnection = serde_json::from_value(obj.clone()).unwrap();
            let settings = converge_engine::connections::settings::from_spec(&c.spec, None);
            let _ = converge_platforms::PlatformClient::new(
                &settings,
                converge_platforms::Auth::bearer("t"),
                converge_platforms::ClientMetrics::default(),
            );
            converge_engine::connections::settings::platform_of(&c.spec);
            converge_engine::connections::decide::decide(
                &c,
                "x",
                None,
                converge_engine::connections::decide::Observed::Invalid("x"),
                time.clone(),
            );
        }
        "Project" => {
            let p: Project = serde_json::from_value(obj.clone()).unwrap();
            shared(&p.spec.management);
        }
        "Component" => {
            use converge_controllers::component::{choreo, cycloid};
            let c: Component = serde_json::from_value(obj.clone()).unwrap();
            shared(&c.spec.management);
            let status = ComponentStatus::default();
            if let Some(spec) = &c.spec.choreo {
                choreo::plan::create_body(spec);
                choreo::plan::build(spec.revision.as_ref(), &status, &[]);
                if let Some(r) = &spec.revision {
                    choreo::plan::revision_key(r);
                }
                choreo::plan::rollout(&spec.deployments, &[], &[], "build");
            }
            if let Some(spec) = &c.spec.cycloid {
                cycloid::plan::new_component(spec);
                cycloid::plan::build(spec.build.as_ref(), &status);
                if let Some(b) = &spec.build {
                    cycloid::plan::build_key(b);
                }
            }
        }
        "ApiSpec" => {
            use converge_controllers::apispec::{document, frends};
            let a: ApiSpec = serde_json::from_value(obj.clone()).unwrap();
            shared(&a.spec.management);
            if let Some(inline) = a.spec.definition.as_ref().and_then(|d| d.inline.as_ref())
                && let Ok(doc) = document::parse(inline)
            {
                if let Some(want) = &a.spec.api7 {
                    let _ = converge_controllers::apispec::api7::plan::derive(&doc, want);
                }
                frends::plan::spec_write(None, None, &doc, "");
                if let Some(f) = &a.spec.frends {
                    frends::plan::content_hash(&doc, &f.passthrough);
                }
            }
            if let Some(f) = &a.spec.frends {
                let _ = frends::plan::deploy_plan(&f.deployments, Some(i32::MAX), &[]);
                let _ = frends::plan::deploy_plan(&f.deployments, None, &[]);
                for p in &f.passthrough {
                    frends::plan::wanted(p);
                }
            }
        }
        "GatewayApplication" => {
            use converge_controllers::gateway::api7::{application, canary, plan};
            let g: GatewayApplication = serde_json::from_value(obj.clone()).unwrap();
            shared(&g.spec.management);
            plan::create_changes(&g.spec);
            application::create_body(&g.spec, application::spec_default_version(&g.spec));
            converge_controllers::gateway::api7::apis::plan(&g.spec.apis, &[], &[]);
            if let Some(c) = &g.spec.canary {
                canary::decide(canary::Input {
                    canary: c,
                    release: None,
                    recorded: None,
                    app_default: "",
                    measured: None,
                    now,
                });
            }
        }
        _ => {
            use converge_controllers::workflow::{runs, steps};
            let w: Workflow = serde_json::from_value(obj.clone()).unwrap();
            shared(&w.spec.management);
            let status = WorkflowStatus::default();
            if let Some(o) = &w.spec.opschain
                && let Ok(s) = steps::to_opschain(&o.steps)
            {
                steps::hash(&s);
                steps::same(&s, &s);
            }
            let policy = w.spec.run.as_ref();
            let _ = runs::due(policy, &status, now, now);
            runs::history_limit(policy);
        }
    }
}

proptest! {
    #![proptest_config(Config { cases: 64, failure_persistence: None, ..Config::default() })]

    #[test]
    fn every_schema_object_decodes_and_its_decisions_never_panic(
        obj in proptest::sample::select(KINDS.to_vec()).prop_flat_map(object_of)
    ) {
        count_panics();
        let before = PANICS.load(Ordering::SeqCst);
        if let Err(e) = decodes(&obj) {
            panic!("the schema admits an object the controller cannot read: {e}\n{obj:#}");
        }
        if admitted(&obj) {
            decide(&obj);
        }
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), before);
    }
}

/// The generator is not vacuous: most objects pass the CEL rules, and the extremes appear.
#[test]
fn the_generator_reaches_the_extremes_and_mostly_valid_objects() {
    let mut runner = TestRunner::deterministic();
    let mut admitted_count = 0;
    let mut seen_long = false;
    let mut seen_wide = false;
    for i in 0..120 {
        let kind = KINDS[i % KINDS.len()];
        let obj = object_of(kind).new_tree(&mut runner).unwrap().current();
        admitted_count += usize::from(admitted(&obj));
        let text = obj.to_string();
        seen_long |= text.contains(&"abcxyz019-_ ./:".repeat(100));
        seen_wide |= text.contains("漢字🙂");
    }
    assert!(admitted_count > 40, "{admitted_count}/120 admitted");
    assert!(
        seen_long && seen_wide,
        "long: {seen_long}, non-ASCII: {seen_wide}"
    );
}

/// A batch of admitted objects of every kind through the engine against the sandboxes: every
/// one is reconciled (it gets a status for its generation), none panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_converges_extreme_objects_against_the_sandboxes_without_a_panic() {
    count_panics();
    let mut runner = TestRunner::deterministic();
    let mut objects: BTreeMap<(String, String), Value> = BTreeMap::new();
    let mut per_kind: BTreeMap<&str, usize> = BTreeMap::new();
    // Four admitted objects per managed kind; connections are ours, so they are Ready.
    let mut attempts = 0;
    while KINDS[1..]
        .iter()
        .any(|k| per_kind.get(k).copied().unwrap_or(0) < 4)
    {
        attempts += 1;
        assert!(attempts < 2000, "too few admitted objects: {per_kind:?}");
        let kind = KINDS[1 + attempts % 5];
        if per_kind.get(kind).copied().unwrap_or(0) >= 4 {
            continue;
        }
        let obj = object_of(kind).new_tree(&mut runner).unwrap().current();
        let key = (
            kind.to_string(),
            obj["metadata"]["name"].as_str().unwrap().to_string(),
        );
        if admitted(&obj) && !objects.contains_key(&key) {
            *per_kind.entry(kind).or_default() += 1;
            objects.insert(key, obj);
        }
    }
    let mut desired: Vec<Value> = objects.into_values().collect();
    for platform in PLATFORMS {
        let token = match platform {
            "choreo" => json!({"token": "sandbox-choreo-token"}),
            "cycloid" => json!({"token": "sandbox-cycloid-api-key"}),
            "frends" => json!({"token": "sandbox-frends-token"}),
            "api7" => json!({"token": "sandbox-api7-token"}),
            _ => json!({"username": "sandbox-user", "password": "sandbox-password"}),
        };
        desired.push(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{platform}-credentials"), "namespace": "extremes"},
            "stringData": token}));
        let mut spec = json!({"endpoint": "http://127.0.0.1:1",
            "credentials": {"secretName": format!("{platform}-credentials")}});
        spec[platform] = match platform {
            "choreo" => json!({"organizationId": "acme"}),
            "cycloid" => json!({"organization": "acme"}),
            "frends" => json!({"defaultAgentGroupId": 1}),
            "api7" => json!({"organizationId": "1001", "clusterId": "2001"}),
            _ => json!({}),
        };
        if platform == "opschain" {
            spec["credentials"]["type"] = "Basic".into();
        }
        desired.push(
            json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
            "metadata": {"name": platform, "namespace": "extremes"}, "spec": spec}),
        );
    }
    for o in &mut desired {
        if let Some(m) = o["metadata"].as_object_mut() {
            m.remove("generation");
        }
    }
    let sandboxes = converge_local::session::start_sandboxes(Duration::ZERO, Vec::new())
        .await
        .unwrap();
    converge_local::objects::point_at_sandboxes(
        &mut desired,
        &converge_local::session::endpoints(&sandboxes),
    );
    let mut session = converge_local::session::Session::start(Some(sandboxes), false)
        .await
        .unwrap();
    session.sync(desired.clone()).unwrap();
    // Settled, or waiting for what will never come (references to names nobody declared):
    // the bound only ends the wait for those.
    session.settle(Duration::from_secs(60)).await;
    let seen = session.objects();
    session.stop(Duration::from_secs(2)).await;
    let mut unreconciled = Vec::new();
    for o in seen
        .iter()
        .filter(|o| KINDS.contains(&o["kind"].as_str().unwrap_or_default()))
    {
        let conditions = o["status"]["conditions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !conditions
                .iter()
                .any(|c| c["reason"] == "ReconcilePanicked"),
            "a reconcile panicked: {o:#}"
        );
        if conditions.is_empty() {
            unreconciled.push(format!("{}/{}", o["kind"], o["metadata"]["name"]));
        }
    }
    assert!(
        unreconciled.is_empty(),
        "never reconciled: {unreconciled:?}"
    );
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "panics in the engine (see the output above)"
    );
}
