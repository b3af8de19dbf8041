//! A controller killed with SIGKILL again and again while it converges a few hundred objects of
//! every kind and platform loses nothing and creates nothing twice.
//!
//! Each round creates the next wave of objects (`converge_bench::mix`, with a canary release
//! judged by an analysis of API7's metrics on one gateway application of every unit), starts a real `converge run`, and kills it at a
//! random moment (seeded; the seed is printed, `CONVERGE_CHAOS_SEED` replays it). Some rounds
//! run with the `after-platform-create` failpoint paused, so the kill lands between a platform
//! create and the status write that records it. A last controller then runs to the end, and:
//! every object is Ready; every sandbox holds exactly one platform object per declared object
//! (no duplicates, no orphans); every canary release was created once and its weight, sampled
//! on the platform throughout, never went back to an earlier step.
//!
//! `CONVERGE_CHAOS_OBJECTS` and `CONVERGE_CHAOS_KILLS` change the size (defaults 200 and 8).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::child::Controller;
use common::controlplane;
use common::converge::{apply, connection_spec, credentials, install_crds, namespace, put_secret};
use common::inventory::{field, records};
use converge_bench::mix;
use converge_bench::objects::{self, is_ready, ready_message};
use kube::api::{ListParams, PostParams};
use kube::core::DynamicObject;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

const NS: &str = "crash-loop";
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `i`th declared object: the benchmark mix, where the first gateway application of each
/// unit also runs a canary to a second upstream version with short pauses.
fn declared(i: usize) -> Value {
    let mut o = mix::object(i);
    if i % mix::UNIT == 7 {
        let spec = &mut o["spec"];
        spec["upstreams"]
            .as_array_mut()
            .unwrap()
            .push(json!({"version": "v2", "targets": [{"host": "v2.internal", "port": 8080}]}));
        spec["canary"] = json!({"name": "to-v2", "upstreamVersion": "v2",
            "steps": [{"weight": 20, "pause": "1s"}, {"weight": 60, "pause": "2s"}, {"weight": 100}],
            "analysis": {"provider": {"api7": {}}, "interval": "1s",
                "failureRate": {"max": 5}, "requests": {"min": 1}}});
    }
    o
}

/// POSTs (creates and actions) answered so far by every sandbox.
async fn posts(sandboxes: &[(&'static str, String, String)]) -> u64 {
    let mut n = 0;
    for (_, base, _) in sandboxes {
        let counts: BTreeMap<String, u64> = reqwest::get(format!("{base}/_sandbox/counts"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        n += counts
            .iter()
            .filter(|(k, _)| k.starts_with("POST "))
            .map(|(_, v)| v)
            .sum::<u64>();
    }
    n
}

/// Canary weights as the platform holds them, sampled until stopped: release id -> the
/// distinct percents seen, in order.
type Weights = Arc<Mutex<BTreeMap<String, Vec<i64>>>>;

fn watch_canaries(api7: String) -> (Weights, tokio::task::JoinHandle<()>) {
    let weights = Weights::default();
    let seen = weights.clone();
    let task = tokio::spawn(async move {
        loop {
            if let Ok(r) = reqwest::get(format!("{api7}/_sandbox/state")).await
                && let Ok(state) = r.json::<Value>().await
            {
                let mut seen = seen.lock().unwrap();
                for r in records(&state["canary_releases"]) {
                    let (Some(id), Some(percent)) = (field(r, "id"), r["spec"]["percent"].as_i64())
                    else {
                        continue;
                    };
                    let history = seen.entry(id).or_default();
                    if history.last() != Some(&percent) {
                        history.push(percent);
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (weights, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_killed_over_and_over_converges_everything_exactly_once() {
    let seed: u64 = env_or("CONVERGE_CHAOS_SEED", rand::random::<u32>() as u64);
    let total: usize = env_or("CONVERGE_CHAOS_OBJECTS", 200);
    let kills: usize = env_or("CONVERGE_CHAOS_KILLS", 8);
    eprintln!(
        "crash loop: seed {seed} (CONVERGE_CHAOS_SEED={seed} replays it), {total} objects, {kills} kills"
    );
    let mut rng = StdRng::seed_from_u64(seed);

    let cp = controlplane::shared().await;
    install_crds(cp);
    let sandboxes =
        converge_sandbox::all::Sandboxes::start(converge_sandbox::all::Options::ephemeral())
            .await
            .unwrap();
    let endpoints = sandboxes.endpoints();
    let sandbox: HashMap<&str, String> = endpoints
        .iter()
        .map(|(p, base, _)| (*p, base.clone()))
        .collect();
    let client = cp.client().await.unwrap();
    let logs = tempfile::tempdir().unwrap();

    namespace(&client, NS).await;
    for (platform, _, endpoint) in &endpoints {
        let secret = format!("{platform}-credentials");
        put_secret(&client, NS, &secret, credentials(platform)).await;
        apply(
            &client,
            NS,
            json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
                   "metadata": {"name": platform},
                   "spec": connection_spec(platform, endpoint, &secret)}),
        )
        .await;
    }
    let apis = objects::apis(&client, NS).await.unwrap();
    let objects: Vec<Value> = (0..total).map(declared).collect();
    let (weights, watcher) = watch_canaries(sandbox["api7"].clone());

    // Waves of whole units, so that every round has fresh work to be killed in the middle of.
    let units = total.div_ceil(mix::UNIT);
    let per_wave = units.div_ceil(kills).max(1) * mix::UNIT;
    let mut created = 0;
    let mut pending_at_kill = 0;
    let mut mid_create_rounds = 0;
    let started = std::time::Instant::now();
    for round in 0..kills {
        for o in &objects[created..(created + per_wave).min(total)] {
            let obj: DynamicObject = serde_json::from_value(o.clone()).unwrap();
            apis[o["kind"].as_str().unwrap()]
                .create(&PostParams::default(), &obj)
                .await
                .unwrap();
        }
        created = (created + per_wave).min(total);

        // About a third of the rounds die between a create and the status write recording it.
        let mid_create = rng.random_bool(0.35) || round == 1;
        let posts_before = posts(&endpoints).await;
        let mut controller = Controller::start(
            cp.kubeconfig(),
            NS,
            mid_create.then_some("after-platform-create=1*pause"),
            logs.path().join(format!("round-{round}.log")),
        );
        if mid_create {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while posts(&endpoints).await == posts_before && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(50..600))).await;
        } else {
            tokio::time::sleep(Duration::from_millis(rng.random_range(1_000..6_000))).await;
        }
        assert!(
            controller.alive(),
            "round {round}: the controller died by itself:\n{}",
            controller.log_tail(40)
        );
        controller.kill();

        let mut pending = 0;
        for api in apis.values() {
            pending += api
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|o| o.data["status"]["pendingCreate"].is_string())
                .count();
        }
        pending_at_kill += pending;
        mid_create_rounds += usize::from(mid_create);
        eprintln!(
            "round {round}: killed at {:.1}s{}, {created} objects declared, {pending} pending creates recorded",
            started.elapsed().as_secs_f64(),
            if mid_create {
                " (paused after a platform create)"
            } else {
                ""
            },
        );
    }
    assert_eq!(created, total);

    // The survivor: runs until everything is Ready.
    let mut last = Controller::start(cp.kubeconfig(), NS, None, logs.path().join("final.log"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    loop {
        let mut not_ready = Vec::new();
        let mut n = 0;
        for (kind, api) in &apis {
            for o in api.list(&ListParams::default()).await.unwrap().items {
                n += 1;
                if !is_ready(&o) {
                    not_ready.push(format!(
                        "{kind} {}: {}",
                        o.metadata.name.clone().unwrap_or_default(),
                        ready_message(&o)
                    ));
                }
            }
        }
        assert_eq!(n, total, "every declared object exists");
        if not_ready.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {total} objects not Ready: {}\ncontroller log:\n{}",
            not_ready.len(),
            not_ready
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            last.log_tail(60)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let converged_after = started.elapsed();
    // One more sample of the canaries in their final state.
    tokio::time::sleep(Duration::from_millis(300)).await;
    watcher.abort();
    assert!(last.alive(), "{}", last.log_tail(40));
    last.kill();

    let (duplicates, failures) = common::inventory::verify(&objects, &sandbox).await;

    let weights = weights.lock().unwrap().clone();
    let canaries = objects
        .iter()
        .filter(|o| o["spec"]["canary"].is_object())
        .count();
    let went_back: Vec<_> = weights
        .iter()
        .filter(|(_, w)| w.windows(2).any(|p| p[1] < p[0]))
        .collect();
    let finished = weights.values().filter(|w| w.last() == Some(&100)).count();
    eprintln!(
        "crash loop (seed {seed}): kills survived {kills} ({mid_create_rounds} right after a platform create, \
         {pending_at_kill} pending creates recorded at the kills), objects converged {total}/{total} \
         in {:.1}s, duplicates found {duplicates}, canaries {canaries} (finished at 100%: {finished}, \
         went back a step: {})",
        converged_after.as_secs_f64(),
        went_back.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(duplicates, 0);
    assert!(
        went_back.is_empty(),
        "canary weights went back (restarted, not resumed): {went_back:?}"
    );
    assert_eq!(
        weights.len(),
        canaries,
        "one release per canary: {weights:?}"
    );
    assert_eq!(finished, canaries, "every canary reached 100%: {weights:?}");
    assert!(
        pending_at_kill > 0,
        "at least one kill landed between a platform create and its status write"
    );
}
