//! The contract test: what Converge sends and what the sandboxes answer, checked against the
//! platforms' official specs (`shared/platform-apis/specs/`; for Frends, which publishes none,
//! `tests/contract/frends.openapi.yaml`, written from its docs) by a validator the project did
//! not write: Stoplight Prism (`tests/contract/install.sh` installs the pinned version into the
//! cache).
//!
//! How traffic reaches the validator: the sandboxes record every exchange when
//! `CONVERGE_SANDBOX_CAPTURE` names a directory (`converge_sandbox::capture`); afterwards each
//! recorded exchange is replayed, one platform per `prism proxy`, through Prism to a replay
//! server that answers with the recorded response. Prism reports what violates the spec in the
//! `sl-violations` header. Recording rather than proxying live keeps the suite's timing as it
//! is (nothing between the controller and the sandboxes on a busy 2-core machine, no proxy
//! start-up per test binary), and the replay is sequential per platform and deduplicated.
//!
//! What counts:
//! - request violations of the requests Converge sent (its clients' `User-Agent: converge/...`)
//!   and the sandbox accepted: tests also send deliberately wrong requests, themselves or
//!   through Converge's clients, to prove they are refused, and a request the sandbox refused
//!   is one nothing relies on;
//! - response violations of every sandbox answer, except injected faults;
//! - Prism's errors, and the warning that a request matches no path of the spec. Its other
//!   warning, an error status the spec does not list, is printed but does not fail: specs list
//!   few of the errors a platform answers.
//!
//! Where the spec and the docs disagree Converge follows the docs: each such deviation is an
//! entry of `tests/contract/deviations.yaml` with the doc line that justifies it. Any other
//! violation fails the test.
//!
//! Two tests: `examples_traffic_matches_the_specs` records `converge local` converging
//! `examples/` (every kind on every platform), on its own; `recorded_suite_traffic_...`
//! (ignored; `.ci/run` runs it after the whole suite ran with `CONVERGE_SANDBOX_CAPTURE` set)
//! validates what every integration test exchanged.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use converge_sandbox::capture::{self, Exchange};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const PLATFORMS: [&str; 5] = ["choreo", "cycloid", "frends", "api7", "opschain"];

/// The header the replay carries the exchange's index in.
const REPLAY_HEADER: &str = "x-converge-replay";

fn root() -> PathBuf {
    std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
}

/// The official specs: `CONVERGE_PLATFORM_SPECS`, else `shared/platform-apis/specs` beside
/// the checkout.
fn spec_of(platform: &str) -> PathBuf {
    if platform == "frends" {
        return root().join("tests/contract/frends.openapi.yaml");
    }
    let dir = std::env::var_os("CONVERGE_PLATFORM_SPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/platform-apis/specs"));
    let file = match platform {
        "choreo" => "choreo.openapi.yaml",
        "cycloid" => "cycloid.openapi.yaml",
        "api7" => "api7-cloud.openapi.yaml",
        "opschain" => "opschain.openapi.json",
        other => panic!("no spec for {other}"),
    };
    let path = dir.join(file);
    assert!(
        path.is_file(),
        "the official spec {} is missing: set CONVERGE_PLATFORM_SPECS to the directory of \
         shared/platform-apis/specs",
        path.display()
    );
    path
}

/// The path of the spec's first server URL (`/api/v1` for Choreo), which its paths are
/// relative to; empty when the server is a bare host.
fn server_base_path(spec: &Path) -> String {
    let text = std::fs::read_to_string(spec).unwrap();
    // Read by line: not every official spec is YAML a strict parser takes (Prism's is lenient).
    let url = if spec.extension().is_some_and(|e| e == "json") {
        let doc: serde_json::Value = serde_json::from_str(&text).expect("the spec parses");
        doc["servers"][0]["url"].as_str().unwrap_or("").to_string()
    } else {
        text.lines()
            .skip_while(|l| !l.starts_with("servers:"))
            .find_map(|l| l.trim().trim_start_matches("- ").strip_prefix("url:"))
            .map(|u| u.trim().trim_matches(['"', '\'']).to_string())
            .unwrap_or_default()
    };
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => &url,
    };
    path.trim_end_matches('/').to_string()
}

/// Prism: `CONVERGE_PRISM`, else where `tests/contract/install.sh` puts it, which is run
/// when it is not there yet (npm, from the registry, at the versions the lock file pins), as
/// the first test run builds the control plane.
fn prism() -> PathBuf {
    if let Some(p) = std::env::var_os("CONVERGE_PRISM") {
        return PathBuf::from(p);
    }
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let cache = std::env::var_os("CONVERGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|c| PathBuf::from(c).join("converge")))
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/converge")
        });
    let bin = cache.join("prism/node_modules/.bin/prism");
    if !bin.exists() {
        let out = Command::new("bash")
            .arg(root().join("tests/contract/install.sh"))
            .env("CONVERGE_CACHE", &cache)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success() && bin.exists(),
            "installing Stoplight Prism failed (tests/contract/install.sh needs Node.js 18.20+ \
             and npm):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bin
}

/// One documented deviation: the spec says otherwise, the docs say what Converge does.
#[derive(Debug, Deserialize)]
struct Deviation {
    platform: String,
    /// `*` for any.
    method: String,
    /// The spec's path template; `{name}` matches one segment; `*` any path.
    path: String,
    /// `request` or `response`.
    side: String,
    /// Text of Prism's message.
    violation: String,
    /// The doc line that justifies following the docs: `docs/FILE:LINE: quoted text`.
    doc: String,
    #[allow(dead_code)]
    why: String,
}

impl Deviation {
    fn matches(&self, platform: &str, method: &str, path: &str, v: &Violation) -> bool {
        self.platform == platform
            && (self.method == "*" || self.method.eq_ignore_ascii_case(method))
            && (self.path == "*" || template_matches(&self.path, path))
            && v.side() == self.side
            && v.message.contains(&self.violation)
    }
}

fn template_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_end_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

fn deviations() -> Vec<Deviation> {
    let text = std::fs::read_to_string(root().join("tests/contract/deviations.yaml")).unwrap();
    let list: Vec<Deviation> = serde_yaml_ng::from_str(&text).expect("deviations.yaml parses");
    for d in &list {
        assert!(
            d.doc.starts_with("docs/") && d.doc.contains(':'),
            "deviation {d:?} must cite its doc line as docs/FILE:LINE: text"
        );
        assert!(d.side == "request" || d.side == "response", "{d:?}");
    }
    list
}

/// One entry of Prism's `sl-violations` header.
#[derive(Clone, Debug, Deserialize)]
struct Violation {
    location: Vec<serde_json::Value>,
    severity: String,
    message: String,
}

impl Violation {
    fn side(&self) -> &str {
        self.location
            .first()
            .and_then(|l| l.as_str())
            .unwrap_or("request")
    }

    fn place(&self) -> String {
        self.location
            .iter()
            .map(|l| match l {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    }

    /// Whether it fails the contract (see the module doc).
    fn counts(&self) -> bool {
        self.severity == "Error" || self.message.contains("route not found")
    }
}

/// Whether Converge sent this request (as opposed to a test probing the sandbox).
fn from_converge(e: &Exchange) -> bool {
    e.request_header("user-agent")
        .is_some_and(|ua| ua.starts_with("converge/"))
}

/// The exchanges worth replaying: no injected faults, each distinct exchange once.
fn distinct(exchanges: Vec<Exchange>) -> Vec<Exchange> {
    let mut seen = HashSet::new();
    exchanges
        .into_iter()
        .filter(|e| e.fault.is_none())
        .filter(|e| {
            let mut h = Sha256::new();
            for part in [
                e.method.as_bytes(),
                e.path.as_bytes(),
                e.query.as_deref().unwrap_or("").as_bytes(),
                e.request_header("content-type").unwrap_or("").as_bytes(),
                e.request_header("authorization").unwrap_or("").as_bytes(),
                &e.request_body.bytes(),
                e.status.to_string().as_bytes(),
                e.response_header("content-type").unwrap_or("").as_bytes(),
                &e.response_body.bytes(),
                &[u8::from(from_converge(e))],
            ] {
                h.update((part.len() as u64).to_le_bytes());
                h.update(part);
            }
            seen.insert(h.finalize())
        })
        .collect()
}

/// Answers each replayed request with the recorded response whose index it carries.
async fn replay_answer(
    State(exchanges): State<Arc<Vec<Exchange>>>,
    request: Request<Body>,
) -> Response<Body> {
    let index = request
        .headers()
        .get(REPLAY_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let Some(e) = index.and_then(|i| exchanges.get(i)) else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from("no such recorded exchange"))
            .unwrap();
    };
    let mut response = Response::builder().status(e.status);
    for (name, value) in &e.response_headers {
        if matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection" | "date"
        ) {
            continue;
        }
        response = response.header(name, value);
    }
    response.body(Body::from(e.response_body.bytes())).unwrap()
}

struct Prism {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `prism proxy SPEC UPSTREAM` on a free loopback port and waits until it answers.
async fn start_prism(platform: &str, upstream: &str, logs: &Path) -> Prism {
    let port = free_port();
    let log = logs.join(format!("prism-{platform}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(prism())
        .args(["proxy", spec_of(platform).to_str().unwrap(), upstream])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--errors", "false", "--cors", "false", "-v", "warn"])
        .env("SCARF_ANALYTICS", "false")
        .env("NODE_OPTIONS", "--max-old-space-size=1024")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("prism starts");
    let mut prism = Prism { child, port, log };
    // Loading a spec of hundreds of paths takes seconds, more on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return prism;
        }
        if let Ok(Some(status)) = prism.child.try_wait() {
            panic!(
                "prism for {platform} exited ({status}): {}",
                std::fs::read_to_string(&prism.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "prism for {platform} did not listen within 180 s: {}",
            std::fs::read_to_string(&prism.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A request as replayed: the recorded one, with a placeholder credential of the same scheme.
/// A request a test crafted (not Converge's) is replayed without its body: only its response
/// is judged, and some deliberately broken bodies (a multipart part without a Content-Type)
/// stop Prism's parser.
/// The path under the spec's server base path is what Prism matches the spec's paths with.
fn replay_request(
    http: &reqwest::Client,
    base: &str,
    server_path: &str,
    index: usize,
    e: &Exchange,
) -> reqwest::RequestBuilder {
    let path = e.path.strip_prefix(server_path).unwrap_or(&e.path);
    let url = match &e.query {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    };
    let method = reqwest::Method::from_bytes(e.method.as_bytes()).unwrap();
    let mut request = http.request(method, url).header(REPLAY_HEADER, index);
    let ours = from_converge(e);
    for (name, value) in &e.request_headers {
        let value = match name.as_str() {
            "host" | "content-length" | "connection" | "transfer-encoding" | "accept-encoding" => {
                continue;
            }
            "content-type" if !ours => continue,
            "authorization" if value.eq_ignore_ascii_case("basic") => {
                "Basic cmVwbGF5OnJlcGxheQ==".to_string()
            }
            "authorization" => format!("{value} replay-credential"),
            _ => value.clone(),
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            request = request.header(n, v);
        }
    }
    if ours {
        request.body(e.request_body.bytes())
    } else {
        request
    }
}

/// What the replay of one platform found.
#[derive(Default)]
struct Findings {
    exchanges: usize,
    converge_requests: usize,
    /// (side, method, path, place, message) → how many exchanges.
    violations: BTreeMap<(String, String, String, String, String), usize>,
    allowed: BTreeMap<String, usize>,
    warnings: BTreeMap<String, usize>,
}

impl Findings {
    fn count(&self, side: &str) -> usize {
        self.violations
            .iter()
            .filter(|((s, ..), _)| s == side)
            .map(|(_, n)| n)
            .sum()
    }
}

/// The path templates of a spec, read by line like [`server_base_path`].
fn spec_paths(spec: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(spec).unwrap();
    if spec.extension().is_some_and(|e| e == "json") {
        let doc: serde_json::Value = serde_json::from_str(&text).expect("the spec parses");
        return doc["paths"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        // Long keys are written as YAML complex keys: `? /path`.
        .map(|l| l.strip_prefix("? ").unwrap_or(l))
        .map(|l| l.trim_end().trim_end_matches(':').trim_matches(['"', '\'']))
        .filter(|l| l.starts_with('/'))
        .map(str::to_string)
        .collect()
}

/// The spec's template a path (under the server base path) matches, preferring literal
/// segments; for grouping what is printed. The path itself when none matches.
fn template_of(path: &str, templates: &[String]) -> String {
    templates
        .iter()
        .filter(|t| template_matches(t, path))
        .min_by_key(|t| t.matches('{').count())
        .cloned()
        .unwrap_or_else(|| path.to_string())
}

/// A violation's place and message with array indexes folded, so one violation of every item
/// of a list is one line.
fn fold_indexes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut after_dot = false;
    while let Some(c) = chars.next() {
        if after_dot && c.is_ascii_digit() {
            let mut digits = c.to_string();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                digits.push(d);
            }
            let index = chars
                .peek()
                .is_none_or(|n| matches!(n, '.' | ' ' | ':' | ','));
            out.push_str(if index { "*" } else { &digits });
            after_dot = false;
            continue;
        }
        after_dot = c == '.';
        out.push(c);
    }
    out
}

async fn replay_platform(
    platform: &'static str,
    exchanges: Vec<Exchange>,
    deviations: Arc<Vec<Deviation>>,
    logs: PathBuf,
) -> Findings {
    let exchanges = Arc::new(exchanges);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(replay_answer)
        .with_state(exchanges.clone());
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let prism = start_prism(platform, &upstream, &logs).await;
    let base = format!("http://127.0.0.1:{}", prism.port);
    let server_path = server_base_path(&spec_of(platform));
    let templates = spec_paths(&spec_of(platform));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    let mut findings = Findings {
        exchanges: exchanges.len(),
        converge_requests: exchanges.iter().filter(|e| from_converge(e)).count(),
        ..Default::default()
    };
    // A few in flight: Prism is one Node process, and the machine has two cores.
    use futures::StreamExt;
    let answers: Vec<(usize, Result<Vec<Violation>, String>)> =
        futures::stream::iter(0..exchanges.len())
            .map(|i| {
                let request = replay_request(&http, &base, &server_path, i, &exchanges[i]);
                async move {
                    let answer = match request.send().await {
                        Ok(r) => Ok(r
                            .headers()
                            .get("sl-violations")
                            .and_then(|v| v.to_str().ok())
                            .map(|v| serde_json::from_str::<Vec<Violation>>(v).unwrap_or_default())
                            .unwrap_or_default()),
                        Err(e) => Err(e.to_string()),
                    };
                    (i, answer)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
    for (i, answer) in answers {
        let e = &exchanges[i];
        let violations = answer.unwrap_or_else(|err| {
            panic!(
                "{platform}: replaying {} {} failed: {err}\n{}",
                e.method,
                e.path,
                std::fs::read_to_string(&prism.log).unwrap_or_default()
            )
        });
        let path = e.path.strip_prefix(&server_path).unwrap_or(&e.path);
        let template = template_of(path, &templates);
        for v in violations {
            // Requests a test crafted, requests to a path the sandbox does not serve (a test
            // pointing Converge at a wrong endpoint) and requests the sandbox refused (a client
            // test proving an error surfaces) are not what Converge relies on being accepted.
            if v.side() == "request" && !(from_converge(e) && e.routed && e.status < 400) {
                continue;
            }
            let place = fold_indexes(&v.place());
            let message = fold_indexes(&v.message);
            let what = format!("{} {template} {place}: {message}", e.method);
            if !v.counts() {
                *findings.warnings.entry(what).or_default() += 1;
                continue;
            }
            if let Some(d) = deviations
                .iter()
                .find(|d| d.matches(platform, &e.method, path, &v))
            {
                *findings
                    .allowed
                    .entry(format!("{what} [{}]", d.doc))
                    .or_default() += 1;
                continue;
            }
            *findings
                .violations
                .entry((
                    v.side().to_string(),
                    e.method.clone(),
                    template.clone(),
                    place,
                    message,
                ))
                .or_default() += 1;
        }
    }
    drop(prism);
    server.abort();
    findings
}

/// Replays `dir`'s recorded traffic through Prism, prints the findings per platform, and
/// fails on any violation the deviations do not list.
async fn validate(dir: &Path) {
    let all = capture::read_all(dir).expect("the recorded traffic is readable");
    assert!(
        !all.is_empty(),
        "no traffic was recorded in {}",
        dir.display()
    );
    let recorded = all.len();
    let mut by_platform: HashMap<&'static str, Vec<Exchange>> = HashMap::new();
    for e in all {
        if let Some(p) = PLATFORMS.iter().find(|p| **p == e.platform) {
            by_platform.entry(p).or_default().push(e);
        }
    }
    let deviations = Arc::new(deviations());
    let logs = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for platform in PLATFORMS {
        let exchanges = distinct(by_platform.remove(platform).unwrap_or_default());
        if exchanges.is_empty() {
            continue;
        }
        tasks.push((
            platform,
            tokio::spawn(replay_platform(
                platform,
                exchanges,
                deviations.clone(),
                logs.path().to_path_buf(),
            )),
        ));
    }
    let mut report = String::new();
    let mut failed = 0;
    let mut used: HashSet<String> = HashSet::new();
    report.push_str(&format!(
        "contract: {recorded} recorded exchanges from {}\n{:<9} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8}\n",
        dir.display(),
        "platform",
        "distinct",
        "converge",
        "request-v",
        "response-v",
        "allowed",
        "warning"
    ));
    let mut details = String::new();
    for (platform, task) in tasks {
        let f = task.await.expect("the replay ran");
        let (req, resp) = (f.count("request"), f.count("response"));
        failed += req + resp;
        report.push_str(&format!(
            "{platform:<9} {:>9} {:>9} {req:>10} {resp:>10} {:>8} {:>8}\n",
            f.exchanges,
            f.converge_requests,
            f.allowed.values().sum::<usize>(),
            f.warnings.values().sum::<usize>()
        ));
        for ((side, method, path, place, message), n) in &f.violations {
            details.push_str(&format!(
                "VIOLATION {platform} {side}: {method} {path} at {place}: {message} (x{n})\n"
            ));
        }
        for (what, n) in &f.allowed {
            used.insert(format!("{platform} {what}"));
            details.push_str(&format!("allowed   {platform}: {what} (x{n})\n"));
        }
        for (what, n) in &f.warnings {
            details.push_str(&format!("warning   {platform}: {what} (x{n})\n"));
        }
    }
    report.push_str(&format!(
        "(replayed in {:.1} s)\n{details}",
        started.elapsed().as_secs_f64()
    ));
    for d in deviations.iter() {
        if !used.iter().any(|u| u.contains(&d.doc)) {
            report.push_str(&format!(
                "note: the deviation {} {} {} ({}) was not exercised by this traffic\n",
                d.platform, d.method, d.path, d.violation
            ));
        }
    }
    println!("{report}");
    assert_eq!(
        failed, 0,
        "{failed} contract violation(s) outside tests/contract/deviations.yaml:\n{report}"
    );
}

/// `converge local` converges `examples/` (every kind on every platform) with the sandboxes
/// recording; the traffic is validated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_traffic_matches_the_specs() {
    let traffic = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_converge"))
        .args([
            "local",
            "-f",
            "examples",
            "--step-delay",
            "0s",
            "--timeout",
            "3m",
        ])
        .current_dir(root())
        .env(capture::ENV, traffic.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "converge local failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    validate(traffic.path()).await;
}

/// What the whole suite exchanged: `.ci/run` runs `cargo test` with `CONVERGE_SANDBOX_CAPTURE`
/// set, then this with `CONVERGE_CONTRACT_TRAFFIC` naming the same directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "validates a recorded run of the suite: see .ci/run"]
async fn recorded_suite_traffic_matches_the_specs() {
    let dir = std::env::var_os("CONVERGE_CONTRACT_TRAFFIC")
        .map(PathBuf::from)
        .expect("CONVERGE_CONTRACT_TRAFFIC names the directory the suite recorded into");
    validate(&dir).await;
}

#[test]
fn templates_match_one_segment_per_parameter() {
    assert!(template_matches(
        "/api/projects/{p}/workflows/{w}",
        "/api/projects/a/workflows/b"
    ));
    assert!(!template_matches(
        "/api/projects/{p}",
        "/api/projects/a/workflows"
    ));
    assert!(!template_matches("/api/projects/{p}", "/api/projects/"));
    let templates = vec![
        "/a/{id}".to_string(),
        "/a/import".to_string(),
        "/a/{id}/b".to_string(),
    ];
    assert_eq!(template_of("/a/import", &templates), "/a/import");
    assert_eq!(template_of("/a/7", &templates), "/a/{id}");
    assert_eq!(template_of("/c", &templates), "/c");
    assert_eq!(
        fold_indexes("data.12.links: data.3 must be x; found 'v1.2'"),
        "data.*.links: data.* must be x; found 'v1.2'"
    );
}
