//! Timelines: one object followed through time the way a person drives it — `kubectl apply`,
//! `kubectl apply` of an edited manifest, `kubectl delete` — with, after each step, its status
//! and conditions, the Events of that step as `kubectl events` prints them (messages
//! included), and the platform's state read through the platform's own API.
//!
//! A step waits for a definite outcome (a condition, a status field, an Event), never for time
//! to pass: what must be seen while it lasts is held (a sandbox hold, a paused pipeline, a step
//! waiting for approval), so the suites pass on a busy 2-core machine.
//!
//! `CONVERGE_TIMELINE_SHOW=1 cargo test --test timeline -- --nocapture` prints each step's
//! Events as they are checked.
//!
//! ```ignore
//! let mut t = Timeline::start("tl-cycloid-project", &["cycloid"]).await;
//! t.apply(manifest).await;                                   // kubectl apply -f -
//! let p: Project = t.wait("project/shop", |p| is_ready(p)).await;
//! t.events("project/shop").await.expect(&[("Normal", "Created", "created Cycloid project")]);
//! ```

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use converge_engine::Managed;
use kube::api::Api;
use serde_json::Value;

use super::controlplane;
use super::converge::{condition, connect, namespace};

/// How long a step may take to reach what it waits for, on a busy machine.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(90);

/// One row of `kubectl events`: LAST SEEN, TYPE, REASON, OBJECT, MESSAGE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub last_seen: String,
    pub type_: String,
    pub reason: String,
    pub object: String,
    pub message: String,
}

impl Row {
    /// How often the Event happened: `x3` in "5s (x3 over 2m)", else 1.
    pub fn count(&self) -> u32 {
        self.last_seen
            .split_once("(x")
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(1)
    }

    fn key(&self) -> (String, String, String, String) {
        (
            self.type_.clone(),
            self.reason.clone(),
            self.object.clone(),
            self.message.clone(),
        )
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} [{}]",
            self.type_, self.reason, self.message, self.last_seen
        )
    }
}

/// Parses `kubectl events` output (a tab-aligned table) by the header's column positions.
pub fn parse_events(table: &str) -> Vec<Row> {
    let mut lines = table.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let col = |name: &str| header.find(name);
    let (Some(a), Some(b), Some(c), Some(d), Some(e)) = (
        col("LAST SEEN"),
        col("TYPE"),
        col("REASON"),
        col("OBJECT"),
        col("MESSAGE"),
    ) else {
        return Vec::new();
    };
    let cut = |line: &str, from: usize, to: Option<usize>| -> String {
        let chars: Vec<char> = line.chars().collect();
        let end = to.unwrap_or(chars.len()).min(chars.len());
        chars
            .get(from.min(end)..end)
            .map(|s| s.iter().collect::<String>())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| Row {
            last_seen: cut(l, a, Some(b)),
            type_: cut(l, b, Some(c)),
            reason: cut(l, c, Some(d)),
            object: cut(l, d, Some(e)),
            message: cut(l, e, None),
        })
        .collect()
}

/// The Events one step added for one object: new rows, and rows whose count went up (a true
/// repeat folded into its series).
#[derive(Debug)]
pub struct StepEvents {
    pub target: String,
    pub rows: Vec<Row>,
}

impl StepEvents {
    /// Asserts that this step's Events are exactly `expected` (any order): each is
    /// (type, reason, a fragment of the message). Returns the rows for further checks.
    pub fn expect(&self, expected: &[(&str, &str, &str)]) -> &[Row] {
        if std::env::var_os("CONVERGE_TIMELINE_SHOW").is_some() {
            eprintln!("{}:\n{}", self.target, self.show());
        }
        let mut left: Vec<&Row> = self.rows.iter().collect();
        for (type_, reason, fragment) in expected {
            let found = left.iter().position(|r| {
                r.type_ == *type_ && r.reason == *reason && r.message.contains(fragment)
            });
            match found {
                Some(i) => {
                    left.remove(i);
                }
                None => panic!(
                    "{}: no {type_} {reason} Event containing {fragment:?} in this step; \
                     kubectl events showed:\n{}",
                    self.target,
                    self.show()
                ),
            }
        }
        assert!(
            left.is_empty(),
            "{}: unexpected Events in this step:\n{}\nall of this step:\n{}",
            self.target,
            left.iter()
                .map(|r| format!("  {r}"))
                .collect::<Vec<_>>()
                .join("\n"),
            self.show()
        );
        &self.rows
    }

    /// Asserts that this step's Events include `expected` (others may come with them, when
    /// whether they do depends on timing that is not the test's business).
    pub fn includes(&self, expected: &[(&str, &str, &str)]) -> &Self {
        for (type_, reason, fragment) in expected {
            assert!(
                self.rows.iter().any(|r| r.type_ == *type_
                    && r.reason == *reason
                    && r.message.contains(fragment)),
                "{}: no {type_} {reason} Event containing {fragment:?} in this step; kubectl \
                 events showed:\n{}",
                self.target,
                self.show()
            );
        }
        self
    }

    /// Asserts that none of this step's Events has `reason`.
    pub fn none_with(&self, reason: &str) -> &Self {
        assert!(
            !self.rows.iter().any(|r| r.reason == reason),
            "{}: a {reason} Event in this step:\n{}",
            self.target,
            self.show()
        );
        self
    }

    pub fn show(&self) -> String {
        self.rows
            .iter()
            .map(|r| format!("  {r}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A namespace with its connections, driven with kubectl.
pub struct Timeline {
    pub ns: String,
    pub client: kube::Client,
    /// Per `--for` target, the rows `kubectl events` printed at the end of the last step.
    seen: HashMap<String, Vec<Row>>,
}

impl Timeline {
    /// A fresh namespace `ns` with a Ready PlatformConnection (named after the platform) for
    /// each of `platforms`.
    pub async fn start(ns: &str, platforms: &[&str]) -> Timeline {
        let client = super::converge::client().await;
        namespace(&client, ns).await;
        for p in platforms {
            connect(&client, ns, p).await;
        }
        Timeline {
            ns: ns.to_string(),
            client,
            seen: HashMap::new(),
        }
    }

    /// `kubectl ARGS` (with `stdin`) against the test apiserver: its stdout, or its stderr
    /// when it fails.
    pub async fn try_kubectl_with(
        &self,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, String> {
        let cp = controlplane::shared().await;
        let mut cmd = cp.kubectl();
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let input = stdin.map(str::to_string);
        let out = tokio::task::spawn_blocking(move || {
            let mut child = cmd.spawn().expect("kubectl starts");
            if let Some(text) = input {
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(text.as_bytes())
                    .unwrap();
            }
            child.wait_with_output().unwrap()
        })
        .await
        .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// `kubectl ARGS`: its stdout, or its stderr when it fails.
    pub async fn try_kubectl(&self, args: &[&str]) -> Result<String, String> {
        self.try_kubectl_with(args, None).await
    }

    /// `kubectl ARGS` against the test apiserver; panics with its stderr on failure.
    pub async fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.try_kubectl_with(args, stdin)
            .await
            .unwrap_or_else(|e| panic!("kubectl {}: {e}", args.join(" ")))
    }

    /// `kubectl apply -n NS -f -` of one manifest (JSON is YAML), as a person applies the file
    /// from Git; applying it again edited is the next commit.
    pub async fn apply(&self, manifest: &Value) {
        let ns = self.ns.clone();
        self.kubectl(
            &["apply", "-n", &ns, "-f", "-"],
            Some(&manifest.to_string()),
        )
        .await;
    }

    /// `kubectl apply` that may be refused (by the CRD's schema or CEL rules): the error
    /// kubectl printed, as a person sees it.
    pub async fn try_apply(&self, manifest: &Value) -> Result<String, String> {
        let ns = self.ns.clone();
        self.try_kubectl_with(
            &["apply", "-n", &ns, "-f", "-"],
            Some(&manifest.to_string()),
        )
        .await
    }

    /// `kubectl delete -n NS TARGET --wait=false` (the step then waits for what it expects).
    pub async fn delete(&self, target: &str) {
        let ns = self.ns.clone();
        self.kubectl(&["delete", "-n", &ns, target, "--wait=false"], None)
            .await;
    }

    /// `kubectl events -n NS --for TARGET`, parsed.
    pub async fn kubectl_events(&self, target: &str) -> Vec<Row> {
        let ns = self.ns.clone();
        let out = self
            .kubectl(&["events", "-n", &ns, "--for", target], None)
            .await;
        parse_events(&out)
    }

    /// The Events this step added for `target` (e.g. `project.converge.dev/shop`), as
    /// `kubectl events` prints them: rows that are new since the last call for it, and rows
    /// whose repeat count went up.
    pub async fn events(&mut self, target: &str) -> StepEvents {
        let now = self.kubectl_events(target).await;
        let before = self.seen.insert(target.to_string(), now.clone());
        let before = before.unwrap_or_default();
        let rows = now
            .into_iter()
            .filter(|r| match before.iter().find(|b| b.key() == r.key()) {
                None => true,
                Some(b) => r.count() > b.count(),
            })
            .collect();
        StepEvents {
            target: target.to_string(),
            rows,
        }
    }

    /// The Events of this step for `target` (see [`Timeline::events`]) once they include all
    /// of `expected`: waits (up to [`STEP_TIMEOUT`]) for them, then asserts that there are no
    /// others. Waiting for them, rather than reading once, keeps a step from racing the
    /// controller's last Event.
    pub async fn expect_events(
        &mut self,
        target: &str,
        expected: &[(&str, &str, &str)],
    ) -> Vec<Row> {
        let step = self.await_step_events(target, expected).await;
        step.expect(expected);
        step.rows
    }

    /// Like [`Timeline::expect_events`], but others may come with them (when whether they do
    /// depends on timing that is not the test's business).
    pub async fn expect_events_including(
        &mut self,
        target: &str,
        expected: &[(&str, &str, &str)],
    ) -> Vec<Row> {
        let step = self.await_step_events(target, expected).await;
        step.includes(expected);
        step.rows
    }

    async fn await_step_events(
        &mut self,
        target: &str,
        expected: &[(&str, &str, &str)],
    ) -> StepEvents {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        let before = self.seen.get(target).cloned().unwrap_or_default();
        loop {
            let now = self.kubectl_events(target).await;
            let rows: Vec<Row> = now
                .iter()
                .filter(|r| match before.iter().find(|b| b.key() == r.key()) {
                    None => true,
                    Some(b) => r.count() > b.count(),
                })
                .cloned()
                .collect();
            let complete = expected.iter().all(|(type_, reason, fragment)| {
                rows.iter().any(|r| {
                    r.type_ == *type_ && r.reason == *reason && r.message.contains(fragment)
                })
            });
            let step = StepEvents {
                target: target.to_string(),
                rows,
            };
            if complete || tokio::time::Instant::now() >= deadline {
                self.seen.insert(target.to_string(), now);
                return step;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Waits (up to [`STEP_TIMEOUT`]) until `kubectl events --for TARGET` shows an Event with
    /// `reason` whose message contains `fragment`, without consuming the step's Events.
    pub async fn await_event(&self, target: &str, reason: &str, fragment: &str) -> Row {
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        loop {
            let rows = self.kubectl_events(target).await;
            if let Some(r) = rows
                .iter()
                .find(|r| r.reason == reason && r.message.contains(fragment))
            {
                return r.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{target}: no {reason} Event containing {fragment:?} within {STEP_TIMEOUT:?}; \
                 kubectl events showed:\n{}",
                rows.iter()
                    .map(|r| format!("  {r}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The typed Api of kind `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Waits (up to [`STEP_TIMEOUT`]) until object `name` of kind `K` satisfies `done`.
    pub async fn wait<K: Managed>(&self, name: &str, what: &str, done: impl Fn(&K) -> bool) -> K {
        super::converge::wait_until(&self.api::<K>(), name, what, STEP_TIMEOUT, done).await
    }

    /// Waits until the object is gone (its finalizer done).
    pub async fn wait_gone<K: Managed>(&self, name: &str) {
        let api = self.api::<K>();
        let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
        while let Some(o) = api.get_opt(name).await.unwrap() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} still exists {STEP_TIMEOUT:?} after its deletion: {:#?}",
                o.status()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Ready=True for the current generation.
pub fn ready<K: Managed>(o: &K) -> bool {
    super::converge::is_ready(o)
}

/// The object's current generation is observed and its Ready condition has `reason` (any
/// status).
pub fn ready_reason<K: Managed>(o: &K, reason: &str) -> bool {
    observed(o) && condition(o, "Ready").is_some_and(|c| c.reason == reason)
}

/// The object's current generation is observed.
pub fn observed<K: Managed>(o: &K) -> bool {
    o.status().and_then(|s| K::common(s).observed_generation) == o.meta().generation
}

/// Asserts the kstatus conditions: Ready's status and reason, Reconciling and Stalled present
/// or not, and that the Ready message contains each of `fragments`.
pub fn assert_conditions<K: Managed>(
    o: &K,
    ready: bool,
    reason: &str,
    fragments: &[&str],
) -> String {
    let name = o.meta().name.clone().unwrap_or_default();
    let r = condition(o, "Ready").unwrap_or_else(|| panic!("{name}: no Ready condition"));
    assert_eq!(
        (r.status.as_str(), r.reason.as_str()),
        (if ready { "True" } else { "False" }, reason),
        "{name}: Ready is {} ({}): {}",
        r.status,
        r.reason,
        r.message
    );
    for f in fragments {
        assert!(
            r.message.contains(f),
            "{name}: the Ready message lacks {f:?}: {}",
            r.message
        );
    }
    let reconciling = condition(o, "Reconciling").is_some_and(|c| c.status == "True");
    let stalled = condition(o, "Stalled").is_some_and(|c| c.status == "True");
    match reason {
        "Converged" | "Suspended" | "Observed" => {
            assert!(!reconciling && !stalled, "{name}: {:#?}", o.status())
        }
        "Progressing" | "WaitingForReference" | "PlatformRetrying" | "Deleting" => {
            assert!(
                reconciling || reason == "Deleting",
                "{name}: {:#?}",
                o.status()
            );
            assert!(!stalled, "{name}: {:#?}", o.status());
        }
        _ => assert!(stalled && !reconciling, "{name}: {:#?}", o.status()),
    }
    r.message
}

/// A Converge manifest.
pub fn manifest(kind: &str, name: &str, spec: Value) -> Value {
    serde_json::json!({"apiVersion": "converge.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name}, "spec": spec})
}

/// The sandbox admin surface of `platform`: POST/DELETE `/_sandbox/holds` (hold Choreo builds
/// of a commit under way) and `/_sandbox/failures`.
pub async fn sandbox_admin(platform: &str, method: &str, route: &str, pattern: &str) {
    let url = format!(
        "{}/_sandbox/{route}",
        super::converge::env().sandbox(platform)
    );
    let http = reqwest::Client::new();
    let sent = match method {
        "POST" => {
            http.post(url)
                .json(&serde_json::json!({"match": pattern}))
                .send()
                .await
        }
        _ => http.delete(url).query(&[("match", pattern)]).send().await,
    };
    let status = sent.unwrap().status();
    assert!(status.is_success(), "{method} /_sandbox/{route}: {status}");
}

/// The platforms' own clients, with the sandboxes' default credentials: how a timeline reads
/// the platform (and acts on it as someone other than Converge).
pub mod platform {
    use converge_platforms::PlatformClient;
    use converge_platforms::api7::Api7Client;
    use converge_platforms::choreo::ChoreoClient;
    use converge_platforms::cycloid::CycloidClient;
    use converge_platforms::frends::FrendsClient;
    use converge_platforms::opschain::OpsChainClient;

    fn client(platform: &str) -> PlatformClient {
        super::super::converge::env().platform_client(platform)
    }

    pub fn choreo() -> ChoreoClient {
        match client("choreo") {
            PlatformClient::Choreo(c) => c,
            _ => unreachable!(),
        }
    }

    pub fn cycloid() -> CycloidClient {
        match client("cycloid") {
            PlatformClient::Cycloid(c) => c,
            _ => unreachable!(),
        }
    }

    pub fn frends() -> FrendsClient {
        match client("frends") {
            PlatformClient::Frends(c) => c,
            _ => unreachable!(),
        }
    }

    pub fn api7() -> Api7Client {
        match client("api7") {
            PlatformClient::Api7(c) => c,
            _ => unreachable!(),
        }
    }

    pub fn opschain() -> OpsChainClient {
        match client("opschain") {
            PlatformClient::OpsChain(c) => c,
            _ => unreachable!(),
        }
    }
}
