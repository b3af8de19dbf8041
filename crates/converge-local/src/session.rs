//! A Converge world in one process: the built-in sandboxes, the embedded apiserver, and the
//! controller — the same `controllers::run` as `converge run` — reconciling against both.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::apiserver::ApiServer;
use super::objects::{self, Id};
use super::report;
use crate::validation::{self, FieldValidation, Refusal};
use converge_api::common::conditions::reason;
use converge_engine::context::Context;
use converge_engine::journal::Journal;
use converge_engine::metrics::Metrics;
use converge_sandbox::all::{Options, Sandboxes};
use converge_sandbox::ops::Credential;
use converge_sandbox::timing::Timing;

pub struct Session {
    pub api: ApiServer,
    pub sandboxes: Option<Sandboxes>,
    pub started: Instant,
    controller: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    /// The objects as last loaded, to tell what a reload changed.
    applied: BTreeMap<Id, Value>,
    /// The resourceVersion of the last change the progress printer handled.
    printed: Arc<AtomicU64>,
}

/// Why a load changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Objects the apiserver would refuse (an immutable field changed, ...).
    #[error("{} object(s) refused", .0.len())]
    Refused(Vec<(Id, Refusal)>),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<super::apiserver::store::ApiError> for SyncError {
    fn from(e: super::apiserver::store::ApiError) -> Self {
        SyncError::Other(e.into())
    }
}

/// What a load changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
}

/// The built-in sandboxes on free loopback ports, accepting the credentials the manifests'
/// Secrets hold as well as their defaults.
pub async fn start_sandboxes(
    step_delay: Duration,
    credentials: Vec<(String, Credential)>,
) -> anyhow::Result<Sandboxes> {
    let mut options = Options::ephemeral();
    options.timing = Timing { step: step_delay };
    options.credentials = credentials;
    if !options.credentials.is_empty() {
        // Given credentials replace a platform's defaults; keep the defaults too.
        for platform in objects::PLATFORMS {
            for c in converge_sandbox::all::default_credentials(platform) {
                options.credentials.push((platform.to_string(), c));
            }
        }
    }
    Sandboxes::start(options).await
}

/// Each platform's sandbox endpoint, as a connection names it.
pub fn endpoints(sandboxes: &Sandboxes) -> BTreeMap<String, String> {
    sandboxes
        .endpoints()
        .into_iter()
        .map(|(platform, _, endpoint)| (platform.to_string(), endpoint))
        .collect()
}

impl Session {
    /// Starts the apiserver and the controller. `read_only` makes every platform client refuse
    /// writes (`converge plan`).
    pub async fn start(sandboxes: Option<Sandboxes>, read_only: bool) -> anyhow::Result<Session> {
        Session::start_with(sandboxes, |c| if read_only { c.read_only() } else { c }).await
    }

    /// Starts a rehearsal (`converge plan`): writes allowed (against throwaway sandboxes), every
    /// reconcile's writes journaled.
    pub async fn rehearsal(sandboxes: Sandboxes, journal: Arc<Journal>) -> anyhow::Result<Session> {
        Session::start_with(Some(sandboxes), |c| c.journaled(journal)).await
    }

    async fn start_with(
        sandboxes: Option<Sandboxes>,
        configure: impl FnOnce(Context) -> Context,
    ) -> anyhow::Result<Session> {
        let api = ApiServer::start().await?;
        let client = api.client()?;
        let context = configure(Context::new(client.clone(), Metrics::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let controller = tokio::spawn(converge_controllers::run(
            client,
            Arc::new(context),
            async {
                let _ = stopped.await;
            },
        ));
        Ok(Session {
            api,
            sandboxes,
            started: Instant::now(),
            controller,
            stop: Some(stop),
            applied: BTreeMap::new(),
            printed: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Makes the apiserver hold exactly `desired` (plus what the controller added: status,
    /// finalizers, Events), as `kubectl apply --prune` would: new objects are created, changed
    /// ones updated, objects no longer declared deleted (Converge then deletes or orphans their
    /// platform objects by their deletionPolicy). All or nothing: every create and update is
    /// first admitted as the apiserver would (an update against the object it replaces, so
    /// transition rules apply), and when any is refused nothing changes.
    pub fn sync(&mut self, desired: Vec<Value>) -> Result<Synced, SyncError> {
        let strict = FieldValidation::Strict;
        let mut refused = Vec::new();
        let mut writes = Vec::new();
        for obj in &desired {
            let id = objects::id(obj);
            let rt = self.type_of(obj)?.clone();
            let (_, ns, name) = &id;
            let write = match self.api.store.get(&rt, ns, name) {
                Err(_) => Some((obj.clone(), None)),
                Ok(current) if self.applied.get(&id) != Some(obj) => {
                    Some((declared_over(current.clone(), obj), Some(current)))
                }
                Ok(_) => None,
            };
            if let Some((new, old)) = &write
                && let Err(r) = validation::admit(new.clone(), old.as_ref(), strict)
            {
                refused.push((id.clone(), r));
            }
            writes.push((id, rt, write));
        }
        if !refused.is_empty() {
            return Err(SyncError::Refused(refused));
        }
        let mut synced = Synced::default();
        // The namespaces the objects live in, unless the manifests declare them.
        for ns in objects::namespaces(&desired) {
            let rt = self.type_of(&ns)?.clone();
            let name = ns["metadata"]["name"].as_str().unwrap_or_default();
            let declared = desired
                .iter()
                .any(|o| o["kind"] == "Namespace" && o["metadata"]["name"] == name);
            if !declared && self.api.store.get(&rt, "", name).is_err() {
                self.api.store.create(&rt, "", ns, strict)?;
            }
        }
        let mut next = BTreeMap::new();
        for ((id, rt, write), obj) in writes.into_iter().zip(desired) {
            let (_, ns, name) = &id;
            match write {
                Some((new, None)) => {
                    self.api.store.create(&rt, ns, new, strict)?;
                    synced.created += 1;
                }
                Some((new, Some(_))) => {
                    self.api.store.update(&rt, ns, name, new, false, strict)?;
                    synced.updated += 1;
                }
                None => {}
            }
            next.insert(id, obj);
        }
        // Users before what they use: Components before Projects before connections.
        let mut gone: Vec<(Id, Value)> = self
            .applied
            .iter()
            .filter(|(id, _)| !next.contains_key(*id))
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        gone.sort_by_key(|(id, _)| match id.0.as_str() {
            "Secret" | "ConfigMap" => 3,
            "PlatformConnection" => 2,
            "Project" => 1,
            _ => 0,
        });
        for ((_, ns, name), obj) in gone {
            let rt = self.type_of(&obj)?.clone();
            match self.api.store.delete(&rt, &ns, &name) {
                Ok(_) => synced.deleted += 1,
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(anyhow::Error::from(e).into()),
            }
        }
        self.applied = next;
        Ok(synced)
    }

    fn type_of(&self, obj: &Value) -> anyhow::Result<&super::apiserver::resources::ResourceType> {
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let kind = obj["kind"].as_str().unwrap_or_default();
        self.api
            .type_of(api_version, kind)
            .ok_or_else(|| anyhow::anyhow!("{api_version} {kind} is not served locally"))
    }

    /// The Converge objects as the apiserver holds them now, connections first.
    pub fn objects(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for kind in [
            "PlatformConnection",
            "Project",
            "Component",
            "ApiSpec",
            "GatewayApplication",
            "Workflow",
        ] {
            if let Some(rt) = self.api.type_of("converge.dev/v1alpha1", kind) {
                let (items, _) = self.api.store.list(
                    rt,
                    None,
                    &super::apiserver::selectors::Selector::default(),
                );
                out.extend(items);
            }
        }
        out
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Prints each Event as it is recorded, and each object's arrival at Ready or Stalled,
    /// until the session stops.
    pub fn print_progress(&self) -> tokio::task::JoinHandle<()> {
        let mut changes = self.api.store.subscribe();
        let started = self.started;
        let with_namespace =
            report::spans_namespaces(&self.applied.values().cloned().collect::<Vec<_>>());
        let printed = self.printed.clone();
        printed.store(self.api.store.resource_version(), Ordering::Release);
        tokio::spawn(async move {
            let mut last: BTreeMap<Id, String> = BTreeMap::new();
            // The series count last printed of each Event: an Event that happens again is
            // the same object counted on, and is printed again each time it is.
            let mut counted: BTreeMap<Id, u64> = BTreeMap::new();
            loop {
                let change = match changes.recv().await {
                    Ok(c) => c,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let _printed = Printed(&printed, change.rv);
                let elapsed = started.elapsed().as_secs_f64();
                let o = &change.object;
                if o["apiVersion"] == "events.k8s.io/v1" {
                    let count = report::series_count(o).unwrap_or(1);
                    let printed = counted.entry(objects::id(o)).or_default();
                    if change.kind != super::apiserver::store::ChangeKind::Deleted
                        && count > *printed
                    {
                        println!("{}", report::event_line(elapsed, o, with_namespace));
                        *printed = count;
                    }
                    continue;
                }
                if o["apiVersion"] != "converge.dev/v1alpha1" {
                    continue;
                }
                let s = report::state(o);
                if !(s.settled && (s.ready || s.stalled)) {
                    continue;
                }
                let id = objects::id(o);
                let now = format!("{}:{}", s.reason, o["metadata"]["generation"]);
                if last.get(&id) != Some(&now) {
                    println!(
                        "{elapsed:>6.1}s  {}  is {}: {}",
                        report::object_name(o, with_namespace),
                        if s.ready { "Ready" } else { "Stalled" },
                        s.message
                    );
                    last.insert(id, now);
                }
            }
        })
    }

    /// Waits until every object observed its generation and is Ready, Stalled or held, with
    /// objects waiting for a reference accepted once nothing else moves for a few seconds (what
    /// they wait for will not come). False when `timeout` passes first.
    pub async fn settle(&self, timeout: Duration) -> bool {
        self.settle_by(timeout, settled).await
    }

    /// `settle`, with `done` telling whether the objects as they are now are done.
    pub async fn settle_by(&self, timeout: Duration, done: impl Fn(&[Value]) -> Settled) -> bool {
        const QUIET: Duration = Duration::from_secs(3);
        let deadline = Instant::now() + timeout;
        let mut changes = self.api.store.subscribe();
        let mut last_change = Instant::now();
        loop {
            while let Ok(c) = changes.try_recv() {
                if c.object["apiVersion"] != "events.k8s.io/v1" {
                    last_change = Instant::now();
                }
            }
            match done(&self.objects()) {
                Settled::Yes => return true,
                Settled::IfQuiet if last_change.elapsed() >= QUIET => return true,
                _ => {}
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops the controller: in-flight reconciles finish (their status and Events written)
    /// within `grace`.
    pub async fn stop_controller(&mut self, grace: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(grace, &mut self.controller).await;
        }
        self.controller.abort();
    }

    /// Waits (at most `timeout`) until the progress printer has printed every change recorded
    /// so far, so that a table follows the Events that led to it.
    pub async fn caught_up(&self, timeout: Duration) {
        let target = self.api.store.resource_version();
        let deadline = Instant::now() + timeout;
        while self.printed.load(Ordering::Acquire) < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the controller (in-flight reconciles finish within `grace`) and the sandboxes.
    pub async fn stop(mut self, grace: Duration) {
        self.stop_controller(grace).await;
    }
}

/// Marks a change as handled by the progress printer when it goes out of scope (whatever
/// branch the printer takes).
struct Printed<'a>(&'a AtomicU64, u64);

impl Drop for Printed<'_> {
    fn drop(&mut self) {
        self.0.fetch_max(self.1, Ordering::AcqRel);
    }
}

/// `declared`'s spec, data and labels over the live object: what the controller added
/// (finalizers, status) stays.
fn declared_over(mut current: Value, declared: &Value) -> Value {
    let keep = ["metadata", "status", "apiVersion", "kind"];
    if let (Some(c), Some(d)) = (current.as_object_mut(), declared.as_object()) {
        c.retain(|k, _| keep.contains(&k.as_str()) || d.contains_key(k));
        for (k, v) in d {
            if !keep.contains(&k.as_str()) {
                c.insert(k.clone(), v.clone());
            }
        }
    }
    for field in ["labels", "annotations"] {
        match declared["metadata"].get(field) {
            Some(v) => current["metadata"][field] = v.clone(),
            None => {
                if let Some(m) = current["metadata"].as_object_mut() {
                    m.remove(field);
                }
            }
        }
    }
    if let Some(m) = current["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    current
}

#[derive(Debug, PartialEq, Eq)]
pub enum Settled {
    Yes,
    /// Only objects waiting for a reference are left.
    IfQuiet,
    No,
}

fn settled(objects: &[Value]) -> Settled {
    settled_unless(objects, |_| false)
}

/// `settled`, with the objects `also_done` accepts counted as done.
pub fn settled_unless(objects: &[Value], also_done: impl Fn(&Value) -> bool) -> Settled {
    let mut waiting = false;
    for o in objects {
        let s = report::state(o);
        let deleting = o["metadata"].get("deletionTimestamp").is_some();
        if deleting && s.reason != reason::DELETING {
            // Still cleaning up on the platform (a refused delete says so with Deleting).
            return Settled::No;
        }
        if s.settled || also_done(o) {
            continue;
        }
        let observed =
            o["status"]["observedGeneration"].as_i64() == o["metadata"]["generation"].as_i64();
        if observed && s.reason == reason::WAITING_FOR_REFERENCE {
            waiting = true;
            continue;
        }
        return Settled::No;
    }
    if waiting {
        Settled::IfQuiet
    } else {
        Settled::Yes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(generation: i64, observed: i64, reason: &str, reconciling: bool) -> Value {
        let mut conditions = vec![
            json!({"type": "Ready", "status": if reason == "Converged" {"True"} else {"False"}, "reason": reason, "message": ""}),
        ];
        if reconciling {
            conditions.push(
                json!({"type": "Reconciling", "status": "True", "reason": reason, "message": ""}),
            );
        }
        json!({"metadata": {"generation": generation}, "status": {"observedGeneration": observed, "conditions": conditions}})
    }

    #[test]
    fn settles_when_every_object_is_done_or_only_waits() {
        let ready = obj(1, 1, "Converged", false);
        let building = obj(1, 1, "Progressing", true);
        let waiting = obj(1, 1, reason::WAITING_FOR_REFERENCE, true);
        let unobserved = obj(2, 1, "Converged", false);
        let mut being_deleted = ready.clone();
        being_deleted["metadata"]["deletionTimestamp"] = "2026-11-24T00:00:00Z".into();
        assert_eq!(settled(&[ready.clone(), being_deleted]), Settled::No);
        assert_eq!(settled(std::slice::from_ref(&ready)), Settled::Yes);
        assert_eq!(settled(&[ready.clone(), waiting.clone()]), Settled::IfQuiet);
        assert_eq!(settled(&[ready.clone(), building]), Settled::No);
        assert_eq!(settled(&[waiting, unobserved]), Settled::No);
    }

    #[test]
    fn a_reload_replaces_the_declared_parts_and_keeps_what_the_controller_added() {
        let current = json!({"apiVersion": "v1", "kind": "X",
            "metadata": {"name": "a", "finalizers": ["f"], "labels": {"old": "1"}, "resourceVersion": "7"},
            "spec": {"a": 1, "gone": true}, "status": {"id": "p-1"}, "extra": 1});
        let declared = json!({"apiVersion": "v1", "kind": "X", "metadata": {"name": "a", "labels": {"new": "1"}}, "spec": {"a": 2}});
        let v = declared_over(current, &declared);
        assert_eq!(v["spec"], json!({"a": 2}));
        assert_eq!(v["status"]["id"], "p-1");
        assert_eq!(v["metadata"]["finalizers"], json!(["f"]));
        assert_eq!(v["metadata"]["labels"], json!({"new": "1"}));
        assert!(v.get("extra").is_none());
        assert!(v["metadata"].get("resourceVersion").is_none());
    }
}
