//! Every platform misbehaving at once: 20% 5xx, bursts of 429 with Retry-After, 2 s of latency
//! on every request, connections reset after the platform acted, and the odd truncated body.
//! A few dozen objects of every kind still converge, exactly once on the platforms (during the
//! storm, or within a bound after it ends: the longest wait after a transient failure plus
//! the time to converge at the budget; which objects make it during the storm is chance); no
//! connection sends more than its request budget (checked with the sandboxes limiting each
//! credential to the budget, and on the sandboxes' call log timestamps); while retrying,
//! Ready's message carries the platform's own words.
//!
//! Its own test binary: the faults are sandbox-wide.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use common::converge::*;
use converge_bench::mix;
use converge_bench::objects::{self, is_ready};
use kube::api::{Api, ListParams, PostParams};
use kube::core::DynamicObject;
use serde_json::{Value, json};

const NS: &str = "fault-storm";
const OBJECTS: usize = 30;
/// The connections' request budget; the sandboxes allow each credential exactly this rate.
const RATE: u32 = 2;
const BURST: u32 = 2;
/// What the sandboxes' bucket allows beyond the budget's burst, and how early the replay of
/// the call log lets a call be: the client's bucket releases calls exactly on time, but a
/// request needing a new connection, or scheduled late on a loaded machine, can arrive a few
/// milliseconds after the next one.
const JITTER_SLACK: u32 = 1;
const JITTER: f64 = 0.1;
const PLATFORMS: [&str; 5] = ["choreo", "cycloid", "frends", "api7", "opschain"];
/// How long the storm rages at most once the objects are created.
const STORM: Duration = Duration::from_secs(180);
/// The bound after the storm: the longest wait after a transient failure, then converging at
/// the budget with 2 s of latency per call.
const AFTER_STORM: Duration =
    Duration::from_secs(converge_engine::driver::RETRY_CEILING.as_secs() + 120);

fn storm(throttle_rate: f64) -> Value {
    json!({"errorRate": 0.2, "errorStatus": 503, "throttleRate": throttle_rate,
           "retryAfterSeconds": 1, "latencyMs": 2000, "resetRate": 0.05,
           "malformedRate": 0.02})
}

/// Ends the storm: no more 429 bursts, and every platform answers normally.
async fn calm(bursts: &tokio::task::JoinHandle<()>) {
    bursts.abort();
    // The burst task may have been mid-way.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for platform in PLATFORMS {
        put(platform, "faults", json!({})).await;
    }
}

async fn put(platform: &str, route: &str, body: Value) {
    let status = reqwest::Client::new()
        .put(format!("{}/_sandbox/{route}", env().sandbox(platform)))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "{route}: {status}");
}

async fn calls(platform: &str) -> Vec<Value> {
    reqwest::get(format!("{}/_sandbox/calls", env().sandbox(platform)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn ready_condition(o: &DynamicObject) -> Option<&Value> {
    o.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
}

/// Calls that do not fit a token bucket of `rate`/s holding `burst`, replayed on the times the
/// sandbox logged their arrival, with the calls at most `tolerance` seconds early; and the
/// earliest any call was.
fn over_budget(times: &[f64], rate: f64, burst: f64, tolerance: f64) -> (usize, f64) {
    let mut tokens = burst;
    let mut last = f64::NEG_INFINITY;
    let mut over = 0;
    let mut earliest: f64 = 0.0;
    for &t in times {
        if last.is_finite() {
            tokens = (tokens + (t - last) * rate).min(burst);
        }
        last = t;
        if tokens < 1.0 {
            let early = (1.0 - tokens) / rate;
            earliest = earliest.max(early);
            if early > tolerance {
                over += 1;
            }
        }
        // A late call still took its token (the bucket goes below zero, as GCRA's does).
        tokens -= 1.0;
    }
    (over, earliest)
}

/// The most calls within any one second.
fn peak_per_second(times: &[f64]) -> usize {
    let mut start = 0;
    let mut peak = 0;
    for (end, t) in times.iter().enumerate() {
        while t - times[start] >= 1.0 {
            start += 1;
        }
        peak = peak.max(end - start + 1);
    }
    peak
}

fn seconds(call: &Value) -> f64 {
    let at: jiff::Timestamp = call["at"].as_str().unwrap().parse().unwrap();
    at.as_duration().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_converges_through_a_storm_of_platform_faults() {
    let client = client().await;
    namespace(&client, NS).await;
    // Connections first, on calm platforms, with the budget the sandboxes will enforce.
    for platform in PLATFORMS {
        let secret = format!("{platform}-credentials");
        put_secret(&client, NS, &secret, credentials(platform)).await;
        let mut spec = connection_spec(platform, env().endpoint(platform), &secret);
        spec["requestBudget"] = json!({"requestsPerSecond": RATE, "burst": BURST});
        apply(
            &client,
            NS,
            json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
                   "metadata": {"name": platform}, "spec": spec}),
        )
        .await;
        let connections =
            Api::<converge_api::connection::PlatformConnection>::namespaced(client.clone(), NS);
        wait_until(
            &connections,
            platform,
            "Ready",
            Duration::from_secs(30),
            |c| c.status.as_ref().is_some_and(|s| s.common.is_true("Ready")),
        )
        .await;
        put(
            platform,
            "rate-limit",
            json!({"perSecond": RATE, "burst": BURST + JITTER_SLACK}),
        )
        .await;
    }
    let started_at = jiff::Timestamp::now();
    for platform in PLATFORMS {
        put(platform, "faults", storm(0.02)).await;
    }

    // 429 bursts: every few seconds, one second in which every request is throttled.
    let bursts = tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            for platform in PLATFORMS {
                put(platform, "faults", storm(1.0)).await;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            for platform in PLATFORMS {
                put(platform, "faults", storm(0.02)).await;
            }
        }
    });

    let apis = objects::apis(&client, NS).await.unwrap();
    let objects: Vec<Value> = (0..OBJECTS).map(mix::object).collect();
    let started = std::time::Instant::now();
    for o in &objects {
        let obj: DynamicObject = serde_json::from_value(o.clone()).unwrap();
        apis[o["kind"].as_str().unwrap()]
            .create(&PostParams::default(), &obj)
            .await
            .unwrap();
    }

    // Until everything is Ready, note what Ready says while it retries. The storm lasts at
    // most STORM; whatever is not Ready by then must be within RETRY_CEILING (the longest
    // wait after a transient failure) of its next attempt, which the calmed platforms answer:
    // the bound after the storm is that ceiling plus the time to converge at the budget.
    let mut retry_messages: BTreeMap<String, usize> = BTreeMap::new();
    let mut example = None;
    let storm_ends = tokio::time::Instant::now() + STORM;
    let mut deadline = None;
    let mut ready_in_storm = None;
    loop {
        let mut not_ready = Vec::new();
        for (kind, api) in &apis {
            for o in api.list(&ListParams::default()).await.unwrap().items {
                if is_ready(&o) {
                    continue;
                }
                let message = ready_condition(&o)
                    .and_then(|c| c["message"].as_str())
                    .unwrap_or("no status yet")
                    .to_string();
                for words in [
                    "service unavailable (injected)",
                    "too many requests (injected)",
                ] {
                    if message.contains(words) {
                        *retry_messages.entry(words.to_string()).or_default() += 1;
                        example.get_or_insert_with(|| format!("{kind}: {message}"));
                    }
                }
                not_ready.push(format!(
                    "{kind} {}: {message}",
                    o.metadata.name.unwrap_or_default()
                ));
            }
        }
        if not_ready.is_empty() {
            break;
        }
        let now = tokio::time::Instant::now();
        match deadline {
            None if now >= storm_ends => {
                ready_in_storm = Some(OBJECTS - not_ready.len());
                calm(&bursts).await;
                deadline = Some(now + AFTER_STORM);
            }
            Some(d) => assert!(
                now < d,
                "{} of {OBJECTS} not Ready {AFTER_STORM:?} after the storm ended:\n{}",
                not_ready.len(),
                not_ready.join("\n")
            ),
            None => {}
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let converged = started.elapsed();
    let ready_in_storm = ready_in_storm.unwrap_or(OBJECTS);
    calm(&bursts).await;

    let mut faults: BTreeMap<String, usize> = BTreeMap::new();
    let mut budget_429s = 0;
    let mut over = 0;
    let mut peak = 0;
    let mut earliest: f64 = 0.0;
    let mut total_calls = 0;
    for platform in PLATFORMS {
        let calls: Vec<Value> = calls(platform)
            .await
            .into_iter()
            .filter(|c| {
                c["at"]
                    .as_str()
                    .and_then(|a| a.parse::<jiff::Timestamp>().ok())
                    .is_some_and(|a| a >= started_at)
            })
            .collect();
        total_calls += calls.len();
        let mut by_caller: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for c in &calls {
            match c["fault"].as_str() {
                Some(f) => *faults.entry(f.to_string()).or_default() += 1,
                // A 429 the sandbox did not inject: its limiter refused Converge.
                None if c["status"] == 429 => budget_429s += 1,
                None => {}
            }
            by_caller
                .entry(c["caller"].as_str().unwrap_or("anonymous").to_string())
                .or_default()
                .push(seconds(c));
        }
        for times in by_caller.values_mut() {
            times.sort_by(f64::total_cmp);
            let (n, early) = over_budget(times, f64::from(RATE), f64::from(BURST), JITTER);
            over += n;
            earliest = earliest.max(early);
            peak = peak.max(peak_per_second(times));
        }
    }
    *faults.entry("latency 2s".into()).or_default() = total_calls;
    eprintln!(
        "fault storm: {ready_in_storm} of {OBJECTS} objects Ready within the storm ({STORM:?} \
         at most); all converged in {:.1}s over {total_calls} platform calls; \
         faults injected {faults:?}; budget {RATE}/s (burst {BURST}) per connection, busiest \
         second {peak} calls; 429s from exceeding the budget: {budget_429s}; calls over the \
         budget in the call log: {over} (earliest call {:.0} ms ahead of the budget); Ready \
         messages quoting the platform while retrying: {retry_messages:?} (e.g. {example:?})",
        converged.as_secs_f64(),
        earliest * 1000.0
    );

    let sandbox: HashMap<&str, String> = PLATFORMS
        .iter()
        .map(|p| (*p, env().sandbox(p).to_string()))
        .collect();
    let (duplicates, failures) = common::inventory::verify(&objects, &sandbox).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(duplicates, 0);
    assert_eq!(budget_429s, 0, "Converge exceeded a connection's budget");
    assert_eq!(over, 0, "calls beyond the budget in the call log");
    for kind in ["error", "throttle", "reset"] {
        assert!(
            faults.get(kind).is_some_and(|n| *n > 0),
            "no {kind} injected: {faults:?}"
        );
    }
    assert!(
        !retry_messages.is_empty(),
        "Ready never showed the platform's message while retrying"
    );
}
