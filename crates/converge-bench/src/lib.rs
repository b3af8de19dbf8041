//! `converge-bench`: what converging N objects costs. Against the cluster of the current
//! kubeconfig (CRDs installed) and the built-in sandboxes, it starts a real `converge run`
//! process, creates a realistic mix of objects (`mix.rs`), and prints JSON figures
//! (`report.rs`): time to Ready with per-object percentiles, platform calls and apiserver writes
//! per object, the controller's peak RSS and CPU time, and the same costs at rest. With
//! `--second-wave N` it then creates N more objects while the first are drift-checked
//! (`wave.rs`): how fast new objects converge while the budget is shared.

pub mod mix;
pub mod objects;
pub mod report;
mod wave;

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use converge_sandbox::all::{Options, Sandboxes};
use converge_sandbox::ops::RateLimit;
use objects::{is_ready, ready_message};
use report::Report;

/// What converging N objects costs, against the cluster of the current
/// kubeconfig and the built-in sandboxes; prints JSON.
#[derive(clap::Parser, Debug, Clone)]
#[command(name = "converge-bench", version)]
pub struct BenchArgs {
    /// The `converge` binary whose `converge run` is measured. Default: the `converge` beside
    /// this binary (cargo builds both into the same directory), else the one on PATH.
    #[arg(long, value_name = "PATH")]
    pub converge: Option<std::path::PathBuf>,
    /// How many objects to create (a mix of every kind and platform, in units of ten).
    #[arg(long, default_value_t = 100, value_parser = parse_objects)]
    pub objects: usize,
    /// Limit each sandbox to this many requests per second per credential (and set the
    /// connections' request budget to match, 1 to 10000). Unlimited when absent.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub rate_limit: Option<u32>,
    /// How long to watch the converged objects at rest.
    #[arg(long, default_value = "60s", value_parser = converge_core::duration::parse)]
    pub steady: Duration,
    /// Give up when not everything is Ready after this long.
    #[arg(long, default_value = "10m", value_parser = converge_core::duration::parse)]
    pub timeout: Duration,
    /// Set every object's `spec.driftInterval` (e.g. 30s), so a steady window longer than it
    /// shows what one drift pass costs. The objects' default (10m) when absent.
    #[arg(long, value_parser = parse_interval)]
    pub drift_interval: Option<String>,
    /// After the steady window, create this many more objects while the first ones are
    /// drift-checked, and report how long they took to become Ready and what share of the
    /// request budget the drift checks took meanwhile (`second_wave`). With `--rate-limit`
    /// and a `--drift-interval` shorter than `--steady`, that is a saturated budget shared by
    /// first reconciles and drift checks.
    #[arg(long, value_parser = parse_objects)]
    pub second_wave: Option<usize>,
    /// Keep the namespace and its objects afterwards (default: delete them).
    #[arg(long)]
    pub keep: bool,
    /// How long to wait for the namespace deletion (reported under `teardown`).
    #[arg(long, default_value = "2m", value_parser = converge_core::duration::parse)]
    pub teardown_timeout: Duration,
}

/// 1 to 100,000 objects: more would not fit the test apiserver's etcd anyway.
fn parse_objects(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=100_000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number of objects from 1 to 100000")),
    }
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("converge-bench needs a cluster: no usable kubeconfig")?;
    converge_engine::crd_check::ensure_installed(&client).await?;
    let mut options = Options::ephemeral();
    options.rate_limit = args.rate_limit.map(|r| RateLimit {
        per_second: r,
        burst: r,
    });
    let sandboxes = Sandboxes::start(options).await?;
    let ns = format!(
        "converge-bench-{}",
        k8s_openapi::jiff::Timestamp::now().as_second()
    );
    create_namespace(&client, &ns).await?;
    let budget = args.rate_limit.map_or(10_000, |r| r as i32);
    for (platform, _, endpoint) in sandboxes.endpoints() {
        connect(&client, &ns, platform, &endpoint, budget).await?;
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut controller = Command::new(converge_binary(args.converge.as_deref())?)
        .args(["run", "--health-addr", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start the controller")?;
    let outcome = measure(&client, &ns, &args, &sandboxes, port, &controller).await;
    let teardown = if args.keep {
        None
    } else {
        eprintln!("deleting namespace {ns} (the controller cleans up the platform objects)");
        let namespaces = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());
        let (_, cpu_before) = process_usage(controller.id()).unwrap_or_default();
        let started = Instant::now();
        let _ = namespaces.delete(&ns, &Default::default()).await;
        let deadline = started + args.teardown_timeout;
        let mut gone = None;
        while Instant::now() < deadline {
            if namespaces.get_opt(&ns).await?.is_none() {
                gone = Some(started.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (rss, cpu) = process_usage(controller.id()).unwrap_or_default();
        Some(report::Teardown {
            seconds_to_namespace_gone: gone,
            controller_peak_rss_mib: rss,
            controller_cpu_seconds: cpu - cpu_before,
        })
    };
    stop(&mut controller);
    let mut report = outcome?;
    report.teardown = teardown;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn measure(
    client: &kube::Client,
    ns: &str,
    args: &BenchArgs,
    sandboxes: &Sandboxes,
    port: u16,
    controller: &Child,
) -> anyhow::Result<Report> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the controller never became ready"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Let the connections become Ready before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let apis = objects::apis(client, ns).await?;
    let counts_before = counts(&http, sandboxes, "counts").await?;
    let throttled_before = counts(&http, sandboxes, "throttled").await?;
    let metrics_before = apiserver_metrics(client).await?;

    let started = Instant::now();
    // Watches, not repeated lists: at ten thousand objects, listing them every few hundred
    // milliseconds would load the apiserver more than the controller does.
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watches: Vec<_> = apis
        .iter()
        .map(|(kind, api)| tokio::spawn(follow(kind, api.clone(), started, seen.clone())))
        .collect();
    let created = create(&apis, 0..args.objects, args, started).await?;
    let mut mix = BTreeMap::new();
    for ((kind, _), _) in &created {
        *mix.entry(kind.clone()).or_insert(0) += 1;
    }
    let created_at: HashMap<_, _> = created.into_iter().collect();

    wait_ready(&seen, &created_at, started, args.timeout).await?;
    for w in watches {
        w.abort();
    }
    let ready_after = std::mem::take(&mut seen.lock().unwrap().ready);
    let all_ready = created_at
        .keys()
        .filter_map(|k| ready_after.get(k))
        .copied()
        .max()
        .unwrap_or_default();
    let counts_ready = counts(&http, sandboxes, "counts").await?;
    let throttled_ready = counts(&http, sandboxes, "throttled").await?;
    let metrics_ready = apiserver_metrics(client).await?;

    tokio::time::sleep(args.steady).await;
    let counts_steady = counts(&http, sandboxes, "counts").await?;
    let metrics_steady = apiserver_metrics(client).await?;
    let second_wave = match args.second_wave {
        Some(n) => Some(wave::second(client, ns, args, n, sandboxes, port).await?),
        None => None,
    };
    let (rss, cpu) = process_usage(controller.id())?;

    let n = args.objects as f64;
    let per_object = ready_seconds(&ready_after, &created_at);
    let calls = report::delta(&counts_before, &counts_ready);
    let total_calls: u64 = calls.values().sum();
    let converge_writes = |m: &str| report::apiserver_writes(m, "converge.dev", None);
    let events = |m: &str| report::apiserver_writes(m, "events.k8s.io", Some("events"));
    // The benchmark's own writes: one create per object.
    let writes = converge_writes(&metrics_ready)
        .saturating_sub(converge_writes(&metrics_before))
        .saturating_sub(args.objects as u64);
    let steady_calls = report::delta(&counts_ready, &counts_steady);
    let steady_reads: u64 = steady_calls
        .iter()
        .filter(|(k, _)| k.split(' ').nth(1) == Some("GET"))
        .map(|(_, v)| v)
        .sum();
    let hour = 3600.0 / args.steady.as_secs_f64().max(1.0);
    let drift = args
        .drift_interval
        .as_deref()
        .and_then(|d| converge_core::duration::parse(d).ok())
        .unwrap_or(converge_engine::drift::DEFAULT_INTERVAL)
        .as_secs_f64();
    let seconds = all_ready.as_secs_f64();
    // The calls convergence needed, retries after a 429 excluded.
    let throttled = report::delta(&throttled_before, &throttled_ready);
    let needed = report::subtract(&calls, &throttled);
    let ideal = args
        .rate_limit
        .map(|r| report::ideal_seconds(&needed, f64::from(r)));
    Ok(Report {
        objects: args.objects,
        mix,
        sandbox_rate_limit: args.rate_limit,
        seconds_to_all_ready: seconds,
        seconds_to_create_all: last_create(&created_at),
        ready_p50_seconds: report::quantile(&per_object, 0.5),
        ready_p99_seconds: report::quantile(&per_object, 0.99),
        platform_calls_per_object_total: total_calls as f64 / n,
        platform_calls_per_object: calls
            .iter()
            .map(|(k, v)| (k.clone(), *v as f64 / n))
            .collect(),
        platform_calls_throttled: throttled.values().sum(),
        ideal_seconds: ideal,
        seconds_over_ideal: ideal.map(|i| seconds / i),
        over_ideal_percent: ideal.map(|i| (seconds / i - 1.0) * 100.0),
        apiserver_writes_per_object: writes as f64 / n,
        events_per_object: events(&metrics_ready).saturating_sub(events(&metrics_before)) as f64
            / n,
        controller_peak_rss_mib: rss,
        controller_cpu_seconds: cpu,
        steady_window_seconds: args.steady.as_secs_f64(),
        steady_platform_calls_per_object_per_hour: steady_calls.values().sum::<u64>() as f64 / n
            * hour,
        steady_platform_reads_per_object_per_hour: steady_reads as f64 / n * hour,
        drift_interval_seconds: drift,
        steady_platform_reads_per_object_per_drift_interval: steady_reads as f64 / n * drift
            / args.steady.as_secs_f64().max(1.0),
        steady_platform_calls_per_object_per_drift_interval: steady_calls
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    *v as f64 / n * drift / args.steady.as_secs_f64().max(1.0),
                )
            })
            .collect(),
        steady_apiserver_writes_per_object_per_hour: converge_writes(&metrics_steady)
            .saturating_sub(converge_writes(&metrics_ready))
            as f64
            / n
            * hour,
        second_wave,
        teardown: None,
    })
}

/// Creates the objects `range` of the mix (a few creates in flight, as a GitOps tool applying
/// a directory would); when each create was accepted, since `started`.
async fn create(
    apis: &HashMap<&'static str, Api<DynamicObject>>,
    range: std::ops::Range<usize>,
    args: &BenchArgs,
    started: Instant,
) -> anyhow::Result<Vec<((String, String), Duration)>> {
    futures::stream::iter(range.map(|i| {
        let mut o = mix::object(i);
        if let Some(d) = &args.drift_interval {
            o["spec"]["driftInterval"] = d.as_str().into();
        }
        o
    }))
    .map(|o| async move {
        let kind = o["kind"].as_str().unwrap_or_default().to_string();
        let name = o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let obj: DynamicObject = serde_json::from_value(o)?;
        apis[kind.as_str()]
            .create(&PostParams::default(), &obj)
            .await?;
        anyhow::Ok(((kind, name), started.elapsed()))
    })
    .buffer_unordered(8)
    .try_collect()
    .await
}

/// Waits until every object of `created` was seen Ready, or fails after `timeout` since
/// `started` naming what the first 20 still wait for.
async fn wait_ready(
    seen: &Mutex<Seen>,
    created: &HashMap<(String, String), Duration>,
    started: Instant,
    timeout: Duration,
) -> anyhow::Result<()> {
    loop {
        let (ready, waiting) = {
            let s = seen.lock().unwrap();
            let ready = created.keys().filter(|k| s.ready.contains_key(*k)).count();
            let waiting: Vec<String> = s
                .waiting
                .iter()
                .filter(|(k, _)| created.contains_key(*k))
                .map(|((kind, name), m)| format!("{kind} {name}: {m}"))
                .collect();
            (ready, waiting)
        };
        if ready >= created.len() {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            let mut not_ready = waiting;
            not_ready.sort();
            not_ready.truncate(20);
            anyhow::bail!(
                "only {ready} of {} objects Ready after {timeout:?}; not Ready (first 20): {}",
                created.len(),
                not_ready.join("; ")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// When the last create of `created` was accepted, in seconds since the start.
fn last_create(created: &HashMap<(String, String), Duration>) -> f64 {
    created
        .values()
        .copied()
        .max()
        .unwrap_or_default()
        .as_secs_f64()
}

/// Per object of `created`, from its create until it was first seen Ready, in seconds.
fn ready_seconds(
    ready: &HashMap<(String, String), Duration>,
    created: &HashMap<(String, String), Duration>,
) -> Vec<f64> {
    created
        .iter()
        .map(|(k, at)| {
            ready
                .get(k)
                .copied()
                .unwrap_or_default()
                .saturating_sub(*at)
                .as_secs_f64()
        })
        .collect()
}

/// When each object was first seen Ready (since the start), and what the others say.
#[derive(Default)]
struct Seen {
    ready: HashMap<(String, String), Duration>,
    waiting: HashMap<(String, String), String>,
}

async fn follow(
    kind: &'static str,
    api: Api<DynamicObject>,
    started: Instant,
    seen: Arc<Mutex<Seen>>,
) {
    let mut events = std::pin::pin!(
        watcher(api, watcher::Config::default())
            .default_backoff()
            .touched_objects()
    );
    while let Some(event) = events.next().await {
        let Ok(o) = event else { continue };
        let key = (
            kind.to_string(),
            o.metadata.name.clone().unwrap_or_default(),
        );
        let mut s = seen.lock().unwrap();
        if s.ready.contains_key(&key) {
            continue;
        }
        if is_ready(&o) {
            s.waiting.remove(&key);
            s.ready.insert(key, started.elapsed());
        } else {
            s.waiting.insert(key, ready_message(&o));
        }
    }
}

/// Keeps the flag as the spec will spell it, once it is known to parse.
fn parse_interval(s: &str) -> Result<String, String> {
    converge_core::duration::parse(s).map(|_| s.to_string())
}

/// Calls per "PLATFORM METHOD ROUTE" over every sandbox, from `/_sandbox/{which}` (counts:
/// all; throttled: those answered 429).
async fn counts(
    http: &reqwest::Client,
    sandboxes: &Sandboxes,
    which: &str,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let mut all = BTreeMap::new();
    for (platform, base, _) in sandboxes.endpoints() {
        let c: BTreeMap<String, u64> = http
            .get(format!("{base}/_sandbox/{which}"))
            .send()
            .await?
            .json()
            .await?;
        all.extend(c.into_iter().map(|(k, v)| (format!("{platform} {k}"), v)));
    }
    Ok(all)
}

async fn apiserver_metrics(client: &kube::Client) -> anyhow::Result<String> {
    let request = http::Request::get("/metrics").body(Vec::new())?;
    Ok(client.request_text(request).await?)
}

/// Peak resident memory (MiB) and CPU seconds of a process, from /proc.
fn process_usage(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let hwm_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((hwm_kib / 1024.0, ticks / per_second.max(1.0)))
}

fn stop(child: &mut Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

async fn create_namespace(client: &kube::Client, ns: &str) -> anyhow::Result<()> {
    let namespace: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": ns}}))?;
    kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(())
}

/// A Secret with the sandbox's default credentials and a PlatformConnection to the sandbox.
async fn connect(
    client: &kube::Client,
    ns: &str,
    platform: &str,
    endpoint: &str,
    budget: i32,
) -> anyhow::Result<()> {
    let (data, extra) = match platform {
        "choreo" => (
            json!({"token": "sandbox-choreo-token"}),
            json!({"choreo": {"organizationId": "acme"}}),
        ),
        "cycloid" => (
            json!({"token": "sandbox-cycloid-api-key"}),
            json!({"cycloid": {"organization": "acme"}}),
        ),
        "frends" => (
            json!({"token": "sandbox-frends-token"}),
            json!({"frends": {"defaultAgentGroupId": 1}}),
        ),
        "api7" => (
            json!({"token": "sandbox-api7-token"}),
            json!({"api7": {"organizationId": "1001", "clusterId": "2001"}}),
        ),
        _ => (
            json!({"username": "sandbox-user", "password": "sandbox-password"}),
            json!({"opschain": {}}),
        ),
    };
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(json!({
        "metadata": {"name": platform}, "stringData": data
    }))?;
    kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await?;
    let mut spec = json!({
        "endpoint": endpoint,
        "credentials": {"secretName": platform},
        "requestBudget": {"requestsPerSecond": budget, "burst": budget},
    });
    if platform == "opschain" {
        spec["credentials"]["type"] = "Basic".into();
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        spec[k] = v.clone();
    }
    let conn = json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
                      "metadata": {"name": platform}, "spec": spec});
    kube::Api::<converge_api::connection::PlatformConnection>::namespaced(client.clone(), ns)
        .patch(
            platform,
            &PatchParams::apply("converge-bench"),
            &Patch::Apply(&conn),
        )
        .await?;
    Ok(())
}

/// Where the measured `converge` binary is: the flag, else beside this one, else on PATH.
fn converge_binary(flag: Option<&std::path::Path>) -> anyhow::Result<std::path::PathBuf> {
    if let Some(path) = flag {
        anyhow::ensure!(
            path.is_file(),
            "--converge {}: no such file",
            path.display()
        );
        return Ok(path.to_path_buf());
    }
    let beside = std::env::current_exe()?.with_file_name("converge");
    Ok(if beside.is_file() {
        beside
    } else {
        "converge".into()
    })
}
