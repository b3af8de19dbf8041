//! `converge plan -f DIR`: what converging DIR would do on each platform, without doing it.
//!
//! Every object runs through the real engine under `managementPolicy: ObserveOnly`, which reads
//! the platform, computes the changes and reports them instead of making them; on top of that
//! the platform clients refuse anything but GET, so a preview can never write. Against the
//! built-in sandboxes by default (a fresh platform: everything is a create). With `--cluster`,
//! against the platforms the connections name, with what the cluster of the current kubeconfig
//! knows: each object's status (its platform ids, so objects Converge created are its own), the
//! connections' Secrets and the ConfigMaps objects read. Nothing is written to the cluster either.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use super::session::{self, Session};
use super::{objects, read, report};
use crate::common::conditions::reason;
use crate::engine::phase::held_changes;
use crate::validation::FieldValidation;

#[derive(clap::Args, Debug, Clone)]
pub struct PlanArgs {
    /// A manifest file or a directory of them (searched recursively).
    #[arg(short = 'f', long = "filename", default_value = "examples")]
    pub path: PathBuf,
    /// Namespace for manifests that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Plan against the platforms the connections name, with the status, connection Secrets
    /// and ConfigMaps of the cluster of the current kubeconfig (read only). Default: against
    /// fresh built-in sandboxes.
    #[arg(long)]
    pub cluster: bool,
    /// How long to wait for every object to be planned.
    #[arg(long, default_value = "2m", value_parser = crate::common::duration::parse)]
    pub timeout: Duration,
    /// Exit with 2 when the plan has changes, 0 when it has none (1 stays an error), for CI
    /// jobs that act on a pending change.
    #[arg(long)]
    pub exit_code: bool,
    /// Output format: text for a person, json for a pipeline.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = PlanFormat::Text)]
    pub output: PlanFormat,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
}

/// How a plan ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Every object could be planned (none stalled, none still running at the timeout).
    pub complete: bool,
    /// Changes the plan lists.
    pub changes: usize,
}

impl Outcome {
    /// 1 when the plan is incomplete; with `--exit-code`, 2 when it lists changes; else 0.
    pub fn exit_code(&self, detailed: bool) -> i32 {
        match (self.complete, detailed && self.changes > 0) {
            (false, _) => 1,
            (true, true) => 2,
            (true, false) => 0,
        }
    }
}

const MANAGED: [&str; 5] = [
    "Project",
    "Component",
    "ApiSpec",
    "GatewayApplication",
    "Workflow",
];

/// Runs `converge plan`; returns whether every object could be planned, and its changes.
pub async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let Some(desired) = read(&args.path, &args.namespace)? else {
        return Ok(Outcome {
            complete: false,
            changes: 0,
        });
    };
    let mut desired = desired.objects;
    for o in desired
        .iter_mut()
        .filter(|o| MANAGED.contains(&o["kind"].as_str().unwrap_or_default()))
    {
        o["spec"]["managementPolicy"] = "ObserveOnly".into();
    }
    let mut live_status = Vec::new();
    let sandboxes = if args.cluster {
        let client = kube::Client::try_default()
            .await
            .context("converge plan --cluster needs a usable kubeconfig")?;
        live_status = from_cluster(&client, &mut desired).await?;
        None
    } else {
        let sandboxes =
            session::start_sandboxes(Duration::ZERO, objects::credentials(&desired)).await?;
        objects::point_at_sandboxes(&mut desired, &session::endpoints(&sandboxes));
        Some(sandboxes)
    };
    let against = if args.cluster {
        "the platforms its connections name, with the cluster's status".to_string()
    } else {
        "fresh built-in sandboxes".to_string()
    };
    let mut session = Session::start(sandboxes, true).await?;
    session.sync(desired)?;
    for status in live_status {
        let (kind, ns, name) = objects::id(&status);
        if let Some(rt) = session.api.type_of("converge.dev/v1alpha1", &kind).cloned() {
            session
                .api
                .store
                .update(&rt, &ns, &name, status, true, FieldValidation::Prune)?;
        }
    }
    let settled = session.settle(args.timeout).await;
    let objects = session.objects();
    let counted = match &session.sandboxes {
        Some(s) => Some(platform_calls(s).await?),
        None => None,
    };
    session.stop(Duration::from_secs(2)).await;
    let plan = Plan::of(&objects);
    let outcome = Outcome {
        complete: settled && plan.stalled == 0,
        changes: plan.changes,
    };
    if args.output == PlanFormat::Json {
        let json = plan.to_json(&args.path, &against, counted, settled);
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(outcome);
    }
    println!(
        "Plan for {} against {against}. Nothing was written.\n",
        args.path.display()
    );
    print!("{}", plan.render());
    let calls = counted
        .map(|(reads, writes)| format!(" Platform calls: {reads} read(s), {writes} write(s)."))
        .unwrap_or_default();
    println!("\n{}{calls}", plan.summary());
    if !settled {
        println!(
            "Some objects were still being planned after {:?}.",
            args.timeout
        );
    }
    Ok(outcome)
}

/// Objects from the cluster: each declared object's live status (to write after loading), and
/// what the declared objects read that DIR does not hold: connections, their Secrets, and the
/// namespaces' ConfigMaps.
async fn from_cluster(
    client: &kube::Client,
    desired: &mut Vec<Value>,
) -> anyhow::Result<Vec<Value>> {
    let declared: BTreeSet<objects::Id> = desired.iter().map(objects::id).collect();
    let mut statuses = Vec::new();
    let mut extra = Vec::new();
    for o in desired.iter() {
        let (kind, ns, name) = objects::id(o);
        if kind == "Secret" || kind == "ConfigMap" {
            continue;
        }
        let api = dynamic(client, &ns, &kind);
        if let Some(live) = api.get_opt(&name).await?
            && let Some(status) = serde_json::to_value(&live)?.get("status")
        {
            let mut s = o.clone();
            s["status"] = status.clone();
            statuses.push(s);
        }
        let connection = o["spec"]["connectionRef"]["name"].as_str();
        if let Some(conn) = connection
            && !declared.contains(&("PlatformConnection".into(), ns.clone(), conn.into()))
            && !extra.iter().any(|e: &Value| {
                objects::id(e) == ("PlatformConnection".into(), ns.clone(), conn.into())
            })
            && let Some(live) = dynamic(client, &ns, "PlatformConnection")
                .get_opt(conn)
                .await?
        {
            extra.push(clean(serde_json::to_value(&live)?));
        }
    }
    let namespaces: BTreeSet<String> = desired.iter().map(|o| objects::id(o).1).collect();
    for ns in &namespaces {
        let cms: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(client.clone(), ns);
        for cm in cms.list(&ListParams::default()).await? {
            let v = clean(serde_json::to_value(&cm)?);
            if !declared.contains(&objects::id(&v)) {
                extra.push(v);
            }
        }
    }
    let connections: Vec<Value> = desired
        .iter()
        .chain(extra.iter())
        .filter(|o| o["kind"] == "PlatformConnection")
        .cloned()
        .collect();
    for c in connections {
        let (_, ns, _) = objects::id(&c);
        let Some(secret) = c["spec"]["credentials"]["secretName"].as_str() else {
            continue;
        };
        let id = ("Secret".to_string(), ns.clone(), secret.to_string());
        if declared.contains(&id) || extra.iter().any(|e| objects::id(e) == id) {
            continue;
        }
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
        if let Some(s) = secrets.get_opt(secret).await? {
            extra.push(clean(serde_json::to_value(&s)?));
        }
    }
    // Secrets and ConfigMaps load first, connections next.
    extra.sort_by_key(|o| o["kind"] != "Secret" && o["kind"] != "ConfigMap");
    let mut all = extra;
    all.append(desired);
    *desired = all;
    Ok(statuses)
}

fn dynamic(client: &kube::Client, ns: &str, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("converge.dev", "v1alpha1", kind);
    // Every Converge kind's plural is its lowercased name plus "s".
    let plural = format!("{}s", kind.to_lowercase());
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(&gvk, &plural),
    )
}

/// A live object as a manifest: identity, spec and data; not the cluster's bookkeeping.
fn clean(mut v: Value) -> Value {
    if let Some(m) = v["metadata"].as_object_mut() {
        m.retain(|k, _| ["name", "namespace", "labels", "annotations"].contains(&k.as_str()));
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

/// Reads and writes the sandboxes received, from their call counts.
async fn platform_calls(sandboxes: &crate::sandbox::all::Sandboxes) -> anyhow::Result<(u64, u64)> {
    let http = reqwest::Client::new();
    let (mut reads, mut writes) = (0, 0);
    for (_, base, _) in sandboxes.endpoints() {
        let counts: Value = http
            .get(format!("{base}/_sandbox/counts"))
            .send()
            .await?
            .json()
            .await?;
        for (route, n) in counts.as_object().into_iter().flatten() {
            let n = n.as_u64().unwrap_or(0);
            if route.starts_with("GET ") || route.starts_with("HEAD ") {
                reads += n;
            } else {
                writes += n;
            }
        }
    }
    Ok((reads, writes))
}

/// What the plan found, object by object.
#[derive(Debug, Default)]
struct Plan {
    lines: Vec<(String, Vec<String>)>,
    /// The same, for `-o json`: one entry per object.
    entries: Vec<Value>,
    changes: usize,
    changed_objects: usize,
    waiting: usize,
    stalled: usize,
}

impl Plan {
    fn of(objects: &[Value]) -> Plan {
        let mut plan = Plan::default();
        let with_namespace = report::spans_namespaces(objects);
        for o in objects {
            let s = report::state(o);
            let (platform, _) = report::platform_and_id(o);
            let head = format!("{}  ({platform})", report::object_name(o, with_namespace));
            let (changes_before, waiting_before) = (plan.changes, plan.waiting);
            let stalled_before = plan.stalled;
            let body = if o["kind"] == "PlatformConnection" {
                vec![if s.ready {
                    format!("✓ {}", s.message)
                } else {
                    plan.stalled += usize::from(s.stalled);
                    format!("! {}: {}", s.reason, s.message)
                }]
            } else if let Some(changes) = held_changes(&s.message) {
                if changes.is_empty() {
                    vec!["= no changes".into()]
                } else {
                    plan.changes += changes.len();
                    plan.changed_objects += 1;
                    changes.into_iter().map(|c| format!("+ {c}")).collect()
                }
            } else if s.reason == reason::WAITING_FOR_REFERENCE {
                plan.waiting += 1;
                let why = s.message.split(" (now:").next().unwrap_or_default();
                vec![format!("… planned once what it needs exists: {why}")]
            } else {
                plan.stalled += usize::from(s.stalled);
                vec![format!("! {}: {}", s.reason, s.message)]
            };
            let state = if plan.stalled > stalled_before {
                "stalled"
            } else if plan.waiting > waiting_before {
                "waiting"
            } else if plan.changes > changes_before {
                "changes"
            } else {
                "no-changes"
            };
            let changes = held_changes(&s.message).unwrap_or_default();
            plan.entries.push(serde_json::json!({
                "kind": o["kind"],
                "namespace": o["metadata"]["namespace"],
                "name": o["metadata"]["name"],
                "platform": platform,
                "state": state,
                "changes": changes,
                "reason": s.reason,
                "message": s.message,
            }));
            plan.lines.push((head, body));
        }
        plan
    }

    /// The plan as one JSON document (`converge plan -o json`).
    fn to_json(
        &self,
        path: &std::path::Path,
        against: &str,
        calls: Option<(u64, u64)>,
        settled: bool,
    ) -> Value {
        serde_json::json!({
            "path": path.display().to_string(),
            "against": against,
            "complete": settled && self.stalled == 0,
            "objects": self.entries,
            "summary": {
                "changes": self.changes,
                "changedObjects": self.changed_objects,
                "waiting": self.waiting,
                "stalled": self.stalled,
            },
            "platformCalls": calls.map(|(reads, writes)| serde_json::json!({"reads": reads, "writes": writes})),
        })
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for (head, body) in &self.lines {
            out.push_str(head);
            out.push('\n');
            for line in body {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    fn summary(&self) -> String {
        format!(
            "{} change(s) to {} object(s); {} object(s) planned once objects this plan creates exist; {} stalled.",
            self.changes, self.changed_objects, self.waiting, self.stalled
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, reason: &str, ready: bool, message: &str) -> Value {
        let mut conditions = vec![
            json!({"type": "Ready", "status": if ready {"True"} else {"False"}, "reason": reason, "message": message}),
        ];
        if reason == "WaitingForReference" {
            conditions.push(json!({"type": "Reconciling", "status": "True", "reason": reason, "message": message}));
        }
        if reason == "PlatformError" {
            conditions.push(
                json!({"type": "Stalled", "status": "True", "reason": reason, "message": message}),
            );
        }
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": kind,
            "metadata": {"name": "x", "namespace": "d", "generation": 1},
            "spec": {"connectionRef": {"name": "c"}, "cycloid": {}},
            "status": {"observedGeneration": 1, "conditions": conditions}})
    }

    #[test]
    fn lists_changes_waits_and_stalls() {
        let objects = vec![
            obj(
                "Project",
                "Observed",
                false,
                "ObserveOnly: 2 change(s) not made: create Cycloid project \"x\"; create environment dev",
            ),
            obj(
                "Project",
                "Observed",
                true,
                "ObserveOnly: the platform matches the spec",
            ),
            obj(
                "Component",
                "WaitingForReference",
                false,
                "waiting for Project \"x\" to be Ready (now: ObserveOnly: 1 change(s) not made: create)",
            ),
            obj("Workflow", "PlatformError", false, "Cycloid said no"),
        ];
        let plan = Plan::of(&objects);
        assert_eq!(
            (
                plan.changes,
                plan.changed_objects,
                plan.waiting,
                plan.stalled
            ),
            (2, 1, 1, 1)
        );
        let text = plan.render();
        assert!(
            text.contains("  + create Cycloid project \"x\"\n  + create environment dev\n"),
            "{text}"
        );
        assert!(text.contains("= no changes"), "{text}");
        assert!(
            text.contains("waiting for Project \"x\" to be Ready\n"),
            "{text}"
        );
        assert!(text.contains("! PlatformError: Cycloid said no"), "{text}");
        let json = plan.to_json(std::path::Path::new("d"), "sandboxes", Some((3, 0)), true);
        let states: Vec<&str> = json["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["changes", "no-changes", "waiting", "stalled"]);
        assert_eq!(json["objects"][0]["changes"][1], "create environment dev");
        assert_eq!(json["summary"]["changes"], 2);
        assert_eq!(json["complete"], false);
        assert_eq!(json["platformCalls"]["reads"], 3);
    }

    #[test]
    fn exit_codes_say_error_changes_or_none() {
        let o = |complete, changes| Outcome { complete, changes };
        assert_eq!(o(true, 0).exit_code(true), 0);
        assert_eq!(o(true, 3).exit_code(true), 2);
        assert_eq!(o(true, 3).exit_code(false), 0);
        assert_eq!(o(false, 3).exit_code(true), 1);
        assert_eq!(o(false, 0).exit_code(false), 1);
    }
}
