//! `converge plan -f DIR`: every platform write converging DIR would make, in order, without
//! making it anywhere that matters.
//!
//! By default the plan is a rehearsal: the real engine converges DIR against fresh built-in
//! sandboxes with writes allowed, and the engine's journal (`engine::journal`) records each
//! reconcile's writes as the kinds' own code makes them. So the list holds what follows from
//! each write (a Frends publish and deployments after the create, a Cycloid Project's
//! environments, an OpsChain run due once its workflow exists) and the writes of objects that
//! wait for an object this plan creates (a Component after its Project), marked as such. A
//! rehearsal stops where converging waits on time or a person (a canary pause, an approval).
//!
//! With `--cluster`, against the platforms the cluster's connections name: every object runs
//! under `managementPolicy: ObserveOnly` with the platform clients refusing anything but GET,
//! with what the cluster of the current kubeconfig knows loaded first (each object's status,
//! so objects Converge created are its own; the connections and their Secrets; the ConfigMaps
//! objects read). A connection DIR declares is planned as the cluster has it (DIR's manifest
//! often carries a placeholder endpoint or credential), and the plan says how they differ. An
//! object the platform has nothing of yet is planned by the rehearsal, which lists what
//! follows its create. Nothing is written to the cluster or to its platforms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use super::session::{self, Session};
use super::{objects, read, report};
use crate::validation::FieldValidation;
use converge_api::common::conditions::reason;
use converge_engine::journal::{Entry, Journal, Reached};
use converge_engine::phase::held_changes;

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
    #[arg(long, default_value = "2m", value_parser = converge_core::duration::parse)]
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

/// A reconcile that looks again this late or later waits on time or a person (a canary pause,
/// an approval by someone else), not on the platform (platform polls look again within 3 s): a
/// rehearsal stops there rather than wait it out.
const PAUSE: Duration = Duration::from_secs(10);

/// Runs `converge plan`; returns whether every object could be planned, and its changes.
pub async fn run(args: PlanArgs) -> anyhow::Result<Outcome> {
    let Some(desired) = read(&args.path, &args.namespace)? else {
        return Ok(Outcome {
            complete: false,
            changes: 0,
        });
    };
    let desired = desired.objects;
    let (plan, against, calls, settled) = if args.cluster {
        let (plan, settled) = against_cluster(desired, args.timeout).await?;
        let against = "the platforms the cluster's connections name, with the cluster's status";
        (plan, against.to_string(), None, settled)
    } else {
        let r = rehearse(desired, args.timeout).await?;
        let plan = Plan::of(r.planned(), r.entries.clone());
        let against = "fresh built-in sandboxes (a rehearsal)";
        (plan, against.to_string(), Some(r.calls), r.settled)
    };
    let outcome = Outcome {
        complete: settled && plan.stalled == 0,
        changes: plan.changes,
    };
    if args.output == PlanFormat::Json {
        let json = plan.to_json(&args.path, &against, calls, settled);
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(outcome);
    }
    let written = if args.cluster {
        "Nothing was written"
    } else {
        "Nothing was written outside throwaway sandboxes"
    };
    println!(
        "Plan for {} against {against}. {written}.\n",
        args.path.display()
    );
    print!("{}", plan.render());
    let calls = calls
        .map(|(reads, writes)| format!(" Rehearsal: {reads} platform read(s), {writes} write(s)."))
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

/// A convergence of the declared objects against fresh sandboxes, writes allowed: what each
/// object's reconciles wrote, in order (the engine's journal), and where each stopped.
struct Rehearsal {
    objects: Vec<Value>,
    entries: Vec<Entry>,
    settled: bool,
    calls: (u64, u64),
}

async fn rehearse(mut desired: Vec<Value>, timeout: Duration) -> anyhow::Result<Rehearsal> {
    let sandboxes =
        session::start_sandboxes(Duration::ZERO, objects::credentials(&desired)).await?;
    objects::point_at_sandboxes(&mut desired, &session::endpoints(&sandboxes));
    let journal = Arc::new(Journal::default());
    let mut session = Session::rehearsal(sandboxes, journal.clone()).await?;
    session.sync(desired)?;
    let settled = session
        .settle_by(timeout, |objects| {
            let entries = journal.entries();
            session::settled_unless(objects, |o| paused(o, &entries))
        })
        .await;
    let objects = session.objects();
    let calls = match &session.sandboxes {
        Some(s) => platform_calls(s).await?,
        None => (0, 0),
    };
    session.stop(Duration::from_secs(2)).await;
    Ok(Rehearsal {
        objects,
        entries: journal.entries(),
        settled,
        calls,
    })
}

/// The object's last reconcile (for its current generation) left it waiting on time or a
/// person.
fn paused(o: &Value, entries: &[Entry]) -> bool {
    let observed =
        o["status"]["observedGeneration"].as_i64() == o["metadata"]["generation"].as_i64();
    observed
        && entries_of(entries, &objects::id(o))
            .last()
            .is_some_and(|e| e.state == Reached::Progressing && e.after >= PAUSE)
}

/// The journal entries of one object.
fn entries_of<'a>(entries: &'a [Entry], id: &objects::Id) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| e.kind == id.0 && e.namespace == id.1 && e.name == id.2)
        .collect()
}

impl Rehearsal {
    fn planned(&self) -> Vec<Planned> {
        let mut planned: Vec<Planned> = self
            .objects
            .iter()
            .map(|o| Planned::rehearsed(o, &self.entries))
            .collect();
        // On fresh sandboxes every object this plan writes to is made by it.
        follow(&mut planned, |p| !p.changes.is_empty());
        planned
    }
}

/// Sets what each object follows: the objects it names that `made` says this plan makes
/// (creates or changes first), in the order it names them. This is read from the references,
/// not from whether the rehearsal's object happened to reconcile before they were Ready, so
/// the plan says the same on every run.
fn follow(planned: &mut [Planned], made: impl Fn(&Planned) -> bool) {
    let made: BTreeSet<objects::Id> = planned
        .iter()
        .filter(|p| made(p))
        .map(|p| objects::id(&p.object))
        .collect();
    for p in planned.iter_mut() {
        let (_, ns, _) = objects::id(&p.object);
        let first: Vec<String> = report::references(&p.object)
            .into_iter()
            .filter(|(kind, name)| made.contains(&(kind.to_string(), ns.clone(), name.clone())))
            .map(|(kind, name)| format!("{kind} {name:?}"))
            .collect();
        if !first.is_empty() {
            p.follows = first;
        }
    }
}

/// "Project \"p\"" or "Project \"p\" and Component \"c\"", and the verb that goes with it.
fn listed(follows: &[String]) -> (String, &'static str) {
    match follows {
        [one] => (one.clone(), "is"),
        [rest @ .., last] => (format!("{} and {last}", rest.join(", ")), "are"),
        [] => (String::new(), "is"),
    }
}

/// What the plan says of one object.
#[derive(Debug, Clone)]
struct Planned {
    object: Value,
    verdict: Verdict,
    /// The writes: from the rehearsal's journal, or the changes ObserveOnly reported.
    changes: Vec<String>,
    /// The objects it names that this plan makes first (`Project "billing"`): it converges
    /// once they are Ready.
    follows: Vec<String>,
    /// Where converging stops for a while (a pause, an approval by a person), or what holds it.
    then: Option<String>,
    /// Planned from a rehearsal because the platform has nothing of it yet (`--cluster`).
    rehearsed_new: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Changes,
    NoChanges,
    /// Could not be planned: stalled, or waiting for what neither DIR nor the plan makes.
    Stalled,
    Connection,
}

impl Planned {
    fn rehearsed(o: &Value, entries: &[Entry]) -> Planned {
        let s = report::state(o);
        let mine = entries_of(entries, &objects::id(o));
        let changes: Vec<String> = mine.iter().flat_map(|e| e.writes.clone()).collect();
        let mut then = None;
        let verdict = if o["kind"] == "PlatformConnection" {
            if s.ready {
                Verdict::Connection
            } else {
                Verdict::Stalled
            }
        } else if s.stalled {
            Verdict::Stalled
        } else if s.settled && held_changes(&s.message).is_some_and(|c| !c.is_empty()) {
            // Declared ObserveOnly or suspended: converging writes nothing.
            then = Some(format!("held: {}", s.message));
            Verdict::NoChanges
        } else if s.settled || paused(o, entries) {
            if !s.settled {
                then = Some(format!("then waits: {}", s.message));
            }
            if changes.is_empty() {
                Verdict::NoChanges
            } else {
                Verdict::Changes
            }
        } else {
            Verdict::Stalled
        };
        Planned {
            object: o.clone(),
            verdict,
            changes,
            follows: Vec::new(),
            then,
            rehearsed_new: false,
        }
    }

    /// From the ObserveOnly run against the real platforms (`--cluster`).
    fn observed(o: &Value) -> Planned {
        let s = report::state(o);
        let (verdict, changes, then) = if o["kind"] == "PlatformConnection" {
            let v = if s.ready {
                Verdict::Connection
            } else {
                Verdict::Stalled
            };
            (v, Vec::new(), None)
        } else if let Some(changes) = held_changes(&s.message) {
            let v = if changes.is_empty() {
                Verdict::NoChanges
            } else {
                Verdict::Changes
            };
            (v, changes, None)
        } else {
            (Verdict::Stalled, Vec::new(), None)
        };
        Planned {
            object: o.clone(),
            verdict,
            changes,
            follows: Vec::new(),
            then,
            rehearsed_new: false,
        }
    }
}

/// `Project "billing"` of the Waiting message "waiting for Project \"billing\" to be Ready
/// (now: …)".
fn waited_for(message: &str) -> Option<String> {
    let waited = message.split(" (now:").next().unwrap_or_default();
    waited
        .strip_prefix("waiting for ")?
        .strip_suffix(" to be Ready")
        .map(str::to_string)
}

/// `plan --cluster`: every object under ObserveOnly against the platforms the connections name
/// (what the cluster knows of it loaded first); objects the platform has nothing of yet are
/// planned by a rehearsal on fresh sandboxes, which also lists what follows their creation.
async fn against_cluster(
    mut desired: Vec<Value>,
    timeout: Duration,
) -> anyhow::Result<(Plan, bool)> {
    let client = kube::Client::try_default()
        .await
        .context("converge plan --cluster needs a usable kubeconfig")?;
    let (live_status, notes) = from_cluster(&client, &mut desired).await?;
    let rehearsal = rehearse(desired.clone(), timeout);
    let mut observed = desired;
    for o in observed
        .iter_mut()
        .filter(|o| MANAGED.contains(&o["kind"].as_str().unwrap_or_default()))
    {
        o["spec"]["managementPolicy"] = "ObserveOnly".into();
    }
    let observe = async {
        let mut session = Session::start(None, true).await?;
        session.sync(observed)?;
        for status in live_status {
            let (kind, ns, name) = objects::id(&status);
            if let Some(rt) = session.api.type_of("converge.dev/v1alpha1", &kind).cloned() {
                session
                    .api
                    .store
                    .update(&rt, &ns, &name, status, true, FieldValidation::Prune)?;
            }
        }
        let settled = session.settle(timeout).await;
        let objects = session.objects();
        session.stop(Duration::from_secs(2)).await;
        anyhow::Ok((objects, settled))
    };
    let (rehearsal, observed) = tokio::join!(rehearsal, observe);
    let (rehearsal, (objects, settled)) = (rehearsal?, observed?);
    let rehearsed = rehearsal.planned();
    let ready_connections: BTreeSet<(String, String)> = objects
        .iter()
        .filter(|o| o["kind"] == "PlatformConnection" && report::state(o).ready)
        .map(|o| {
            let (_, ns, name) = objects::id(o);
            (ns, name)
        })
        .collect();
    let mut planned = Vec::new();
    for o in &objects {
        let id = objects::id(o);
        let mut p = Planned::observed(o);
        if let Some(note) = notes.get(&id) {
            p.then = Some(note.clone());
        }
        let connection = o["spec"]["connectionRef"]["name"].as_str();
        if let Some(conn) = connection
            && !ready_connections.contains(&(id.1.clone(), conn.to_string()))
        {
            p.verdict = Verdict::Stalled;
            p.then = Some(format!(
                "not planned: PlatformConnection {conn:?} is not Ready, so its platform cannot be read"
            ));
        } else if o["kind"] != "PlatformConnection"
            && p.verdict != Verdict::NoChanges
            && report::platform_and_id(o).1.is_none()
        {
            // Nothing of it on the platform yet: what converging writes for it, follow-ons
            // included, is what a rehearsal on a fresh platform writes.
            if let Some(r) = rehearsed.iter().find(|r| objects::id(&r.object) == id) {
                // What it waits for in the cluster; `follow` below names what this plan
                // creates first.
                let state = report::state(o);
                let waiting = (state.reason == reason::WAITING_FOR_REFERENCE)
                    .then(|| waited_for(&state.message))
                    .flatten();
                p = Planned {
                    object: o.clone(),
                    follows: waiting.into_iter().collect(),
                    rehearsed_new: true,
                    ..r.clone()
                };
            }
        }
        planned.push(p);
    }
    // Only what the platform has nothing of yet is made first; the rest is already there.
    follow(&mut planned, |p| p.rehearsed_new && !p.changes.is_empty());
    Ok((Plan::of(planned, Vec::new()), settled && rehearsal.settled))
}

/// Objects from the cluster: each declared object's live status (to write after loading), and
/// what the declared objects read that DIR does not hold: connections, their Secrets, and the
/// namespaces' ConfigMaps. A connection the cluster has already is planned as the cluster has
/// it, with the Secret it names there: a repository's connection manifests often carry a
/// placeholder endpoint or credential, and the platform to compare against is the one the
/// cluster's objects live on. Returns the statuses and, per connection, how DIR's differs.
async fn from_cluster(
    client: &kube::Client,
    desired: &mut Vec<Value>,
) -> anyhow::Result<(Vec<Value>, BTreeMap<objects::Id, String>)> {
    let mut notes = BTreeMap::new();
    let mut statuses = Vec::new();
    let mut extra: Vec<Value> = Vec::new();
    for o in desired
        .iter_mut()
        .filter(|o| o["kind"] == "PlatformConnection")
    {
        let (_, ns, name) = objects::id(o);
        if let Some(live) = dynamic(client, &ns, "PlatformConnection")
            .get_opt(&name)
            .await?
        {
            let live = clean(serde_json::to_value(&live)?);
            if live["spec"] != o["spec"] {
                notes.insert(
                    objects::id(o),
                    format!(
                        "DIR declares {} here; planned with the cluster's: {}",
                        spec_line(&o["spec"]),
                        spec_line(&live["spec"])
                    ),
                );
            }
            *o = live;
        }
    }
    let mut declared: BTreeSet<objects::Id> = desired.iter().map(objects::id).collect();
    for o in desired.iter() {
        let (kind, ns, name) = objects::id(o);
        if kind == "Secret" || kind == "ConfigMap" || kind == "PlatformConnection" {
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
            && let Some(live) = dynamic(client, &ns, "PlatformConnection")
                .get_opt(conn)
                .await?
        {
            declared.insert(("PlatformConnection".into(), ns.clone(), conn.into()));
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
        if extra.iter().any(|e| objects::id(e) == id) {
            continue;
        }
        // The cluster's Secret over DIR's: the credential the cluster's connection uses.
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
        if let Some(s) = secrets.get_opt(secret).await? {
            desired.retain(|o| objects::id(o) != id);
            extra.push(clean(serde_json::to_value(&s)?));
        }
    }
    // Secrets and ConfigMaps load first, connections next.
    extra.sort_by_key(|o| o["kind"] != "Secret" && o["kind"] != "ConfigMap");
    let mut all = extra;
    all.append(desired);
    *desired = all;
    Ok((statuses, notes))
}

/// A connection's spec in one line, for a note.
fn spec_line(spec: &Value) -> String {
    let endpoint = spec["endpoint"].as_str().unwrap_or("no endpoint");
    let secret = spec["credentials"]["secretName"].as_str().unwrap_or("none");
    format!("endpoint {endpoint} (Secret {secret})")
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
async fn platform_calls(
    sandboxes: &converge_sandbox::all::Sandboxes,
) -> anyhow::Result<(u64, u64)> {
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

/// What the plan found, object by object, with every write numbered in the order converging
/// makes it.
#[derive(Debug, Default)]
struct Plan {
    lines: Vec<(String, Vec<String>)>,
    /// The same, for `-o json`: one entry per object.
    entries: Vec<Value>,
    /// Every write, in order: (order, object, write).
    writes: Vec<(usize, String, String)>,
    changes: usize,
    changed_objects: usize,
    /// Objects whose writes follow from objects this plan creates.
    following: usize,
    stalled: usize,
}

impl Plan {
    /// `entries`: a rehearsal's journal, which orders the writes across objects; without it
    /// (`--cluster`) the writes are numbered object by object.
    fn of(planned: Vec<Planned>, entries: Vec<Entry>) -> Plan {
        let mut plan = Plan::default();
        let objects: Vec<Value> = planned.iter().map(|p| p.object.clone()).collect();
        let with_namespace = report::spans_namespaces(&objects);
        // The order of each object's writes in the journal.
        let mut order: BTreeMap<objects::Id, Vec<usize>> = BTreeMap::new();
        let mut n = 0;
        for e in &entries {
            let id = (e.kind.to_string(), e.namespace.clone(), e.name.clone());
            for _ in &e.writes {
                n += 1;
                order.entry(id.clone()).or_default().push(n);
            }
        }
        let mut planned = planned;
        if !entries.is_empty() {
            // Connections first, then objects in the order of their first write.
            planned.sort_by_key(|p| {
                let id = objects::id(&p.object);
                let first = order.get(&id).and_then(|o| o.first().copied());
                (
                    p.verdict != Verdict::Connection,
                    first.unwrap_or(usize::MAX),
                )
            });
        }
        let mut next = 0;
        for p in &planned {
            let o = &p.object;
            let s = report::state(o);
            let (platform, _) = report::platform_and_id(o);
            let name = report::object_name(o, with_namespace);
            let mut head = format!("{name}  ({platform})");
            let follows = (!p.follows.is_empty()).then(|| listed(&p.follows));
            if let Some((what, verb)) = &follows {
                plan.following += 1;
                head.push_str(&format!("  after {what} {verb} Ready"));
            }
            let numbers: Vec<usize> = match order.get(&objects::id(o)) {
                Some(o) if p.changes.len() == o.len() && !p.rehearsed_new => o.clone(),
                _ => (next + 1..=next + p.changes.len()).collect(),
            };
            let mut body = Vec::new();
            let state = match p.verdict {
                Verdict::Connection => {
                    body.push(format!("✓ {}", s.message));
                    "connection"
                }
                Verdict::Stalled => {
                    plan.stalled += 1;
                    body.push(format!("! {}: {}", s.reason, s.message));
                    "stalled"
                }
                Verdict::NoChanges => {
                    body.push("= no changes".into());
                    "no-changes"
                }
                Verdict::Changes => {
                    plan.changes += p.changes.len();
                    plan.changed_objects += 1;
                    if p.rehearsed_new {
                        body.push(
                            "new on the platform: as a rehearsal on a fresh sandbox wrote it"
                                .into(),
                        );
                    }
                    for (n, c) in numbers.iter().zip(&p.changes) {
                        body.push(format!("{n}. {c}"));
                        plan.writes.push((*n, name.clone(), c.clone()));
                        next = next.max(*n);
                    }
                    "changes"
                }
            };
            if let Some(then) = &p.then {
                body.push(format!("… {then}"));
            }
            plan.entries.push(serde_json::json!({
                "kind": o["kind"],
                "namespace": o["metadata"]["namespace"],
                "name": o["metadata"]["name"],
                "platform": platform,
                "state": state,
                "changes": p.changes,
                "follows": follows.map(|(what, _)| format!("waiting for {what} to be Ready")),
                "then": p.then,
                "reason": s.reason,
                "message": s.message,
            }));
            plan.lines.push((head, body));
        }
        plan.writes.sort();
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
        let writes: Vec<Value> = self
            .writes
            .iter()
            .map(|(n, object, write)| serde_json::json!({"order": n, "object": object, "write": write}))
            .collect();
        serde_json::json!({
            "path": path.display().to_string(),
            "against": against,
            "complete": settled && self.stalled == 0,
            "objects": self.entries,
            "writes": writes,
            "summary": {
                "changes": self.changes,
                "changedObjects": self.changed_objects,
                "following": self.following,
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
            "{} change(s) to {} object(s); {} object(s) planned after objects this plan creates; {} not planned.",
            self.changes, self.changed_objects, self.following, self.stalled
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

    fn entry(
        kind: &'static str,
        name: &str,
        writes: &[&str],
        state: Reached,
        message: &str,
    ) -> Entry {
        Entry {
            kind,
            namespace: "d".into(),
            name: name.into(),
            writes: writes.iter().map(|w| w.to_string()).collect(),
            state,
            message: message.into(),
            after: Duration::from_secs(1),
        }
    }

    fn named(mut o: Value, name: &str) -> Value {
        o["metadata"]["name"] = name.into();
        o
    }

    /// Component "c", Ready, naming Project "p".
    fn component_of_p() -> Value {
        let mut component = named(obj("Component", "Converged", true, "ok"), "c");
        component["spec"] = json!({"connectionRef": {"name": "c"}, "projectRef": {"name": "p"}});
        component
    }

    /// The plan of a rehearsal that left `objects` and journaled `entries`.
    fn rehearsed(objects: &[Value], entries: Vec<Entry>, settled: bool) -> Plan {
        let rehearsal = Rehearsal {
            objects: objects.to_vec(),
            entries: entries.clone(),
            settled,
            calls: (0, 0),
        };
        Plan::of(rehearsal.planned(), entries)
    }

    #[test]
    fn a_rehearsal_lists_every_write_in_order_and_what_follows_what() {
        let component = component_of_p();
        let objects = [
            named(obj("Project", "Converged", true, "ok"), "p"),
            component,
            named(
                obj("Workflow", "PlatformError", false, "Cycloid said no"),
                "w",
            ),
        ];
        // The Component reconciles only once its Project is Ready (no Waiting entry): it
        // still follows the Project, because it names it and the plan makes it.
        let entries = vec![
            entry(
                "Project",
                "p",
                &["created project p"],
                Reached::Progressing,
                "creating",
            ),
            entry(
                "Project",
                "p",
                &["created environment dev"],
                Reached::Converged,
                "ok",
            ),
            entry(
                "Component",
                "c",
                &["created component c", "started build"],
                Reached::Converged,
                "ok",
            ),
        ];
        let plan = rehearsed(&objects, entries, false);
        assert_eq!(
            (
                plan.changes,
                plan.changed_objects,
                plan.following,
                plan.stalled
            ),
            (4, 2, 1, 1)
        );
        let text = plan.render();
        assert!(
            // (These bare test objects name no platform a typed object would read: "?".)
            text.contains("Project/p  (?)\n  1. created project p\n  2. created environment dev\n\
                Component/c  (?)  after Project \"p\" is Ready\n  3. created component c\n  4. started build\n"),
            "{text}"
        );
        assert!(text.contains("! PlatformError: Cycloid said no"), "{text}");
        let json = plan.to_json(std::path::Path::new("d"), "sandboxes", Some((3, 4)), true);
        assert_eq!(json["writes"][2]["write"], "created component c");
        assert_eq!(json["writes"][2]["order"], 3);
        assert_eq!(
            json["objects"][1]["follows"],
            "waiting for Project \"p\" to be Ready"
        );
        assert_eq!(json["complete"], false);
    }

    #[test]
    fn an_object_naming_two_objects_the_plan_makes_follows_both() {
        let mut workflow = named(obj("Workflow", "Converged", true, "ok"), "w");
        workflow["spec"] = json!({"connectionRef": {"name": "c"}, "projectRef": {"name": "p"},
            "cycloid": {"componentRef": {"name": "c"}, "pipeline": "deploy", "job": "deploy"}});
        let component = component_of_p();
        let objects = [
            named(obj("Project", "Converged", true, "ok"), "p"),
            component,
            workflow,
        ];
        let entries = vec![
            entry(
                "Project",
                "p",
                &["created project p"],
                Reached::Converged,
                "ok",
            ),
            entry(
                "Component",
                "c",
                &["created component c"],
                Reached::Converged,
                "ok",
            ),
            entry(
                "Workflow",
                "w",
                &["started build 2"],
                Reached::Converged,
                "ok",
            ),
        ];
        let plan = rehearsed(&objects, entries, true);
        let text = plan.render();
        assert!(
            text.contains("Component/c  (?)  after Project \"p\" is Ready\n"),
            "{text}"
        );
        assert!(
            text.contains("Workflow/w  (?)  after Project \"p\" and Component \"c\" are Ready\n"),
            "{text}"
        );
        assert_eq!(plan.following, 2);
    }

    #[test]
    fn observed_changes_are_numbered_in_order() {
        let objects = [
            obj(
                "Project",
                "Observed",
                false,
                "ObserveOnly: 2 change(s) not made: create environment dev; create environment prod",
            ),
            obj(
                "Project",
                "Observed",
                true,
                "ObserveOnly: the platform matches the spec",
            ),
        ];
        let plan = Plan::of(objects.iter().map(Planned::observed).collect(), Vec::new());
        let text = plan.render();
        assert!(
            text.contains("  1. create environment dev\n  2. create environment prod\n"),
            "{text}"
        );
        assert!(text.contains("= no changes"), "{text}");
        assert_eq!(plan.changes, 2);
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
