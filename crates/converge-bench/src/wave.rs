//! `--second-wave N`: N more objects created while the first wave, Ready and at rest, is
//! drift-checked. Under a saturated request budget this is where fairness shows: how long the
//! new objects take to become Ready, what share of the calls the drift checks took meanwhile
//! (from the controller's `converge_platform_budget_wait_seconds` by priority), and what the
//! connections' `status.requestBudget` and RequestBudgetSaturated Events said.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, ListParams};
use kube::core::GroupVersionKind;

use super::report::{self, SecondWave};
use super::{
    BenchArgs, Seen, counts, create, follow, last_create, objects, ready_seconds, wait_ready,
};
use converge_sandbox::all::Sandboxes;

pub async fn second(
    client: &kube::Client,
    ns: &str,
    args: &BenchArgs,
    n: usize,
    sandboxes: &Sandboxes,
    port: u16,
) -> anyhow::Result<SecondWave> {
    let http = reqwest::Client::new();
    let apis = objects::apis(client, ns).await?;
    let calls_before = counts(&http, sandboxes, "counts").await?;
    let throttled_before = counts(&http, sandboxes, "throttled").await?;
    let waits_before = report::budget_waits(&controller_metrics(&http, port).await?);

    let started = Instant::now();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let watches: Vec<_> = apis
        .iter()
        .map(|(kind, api)| tokio::spawn(follow(kind, api.clone(), started, seen.clone())))
        .collect();
    let saturated = Arc::new(Mutex::new(BTreeMap::new()));
    let poll = tokio::spawn(watch_budgets(
        client.clone(),
        ns.to_string(),
        saturated.clone(),
    ));
    let first = args.objects;
    let created: HashMap<_, _> = create(&apis, first..first + n, args, started)
        .await?
        .into_iter()
        .collect();
    let outcome = wait_ready(&seen, &created, started, args.timeout).await;
    let window = started.elapsed();
    for w in watches {
        w.abort();
    }
    poll.abort();
    outcome.map_err(|e| e.context("the second wave"))?;

    let calls = report::delta(&calls_before, &counts(&http, sandboxes, "counts").await?);
    let throttled = report::delta(
        &throttled_before,
        &counts(&http, sandboxes, "throttled").await?,
    );
    let waits_after = report::budget_waits(&controller_metrics(&http, port).await?);
    let (budget_by_priority, drift_share_by_platform, drift_share) =
        report::priority_calls(&waits_before, &waits_after);
    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default().fields("reason=RequestBudgetSaturated"))
        .await?;
    let per_object = ready_seconds(&seen.lock().unwrap().ready, &created);
    let request_budget_saturated = std::mem::take(&mut *saturated.lock().unwrap());
    Ok(SecondWave {
        objects: n,
        seconds_to_all_ready: window.as_secs_f64(),
        seconds_to_create_all: last_create(&created),
        ready_p50_seconds: report::quantile(&per_object, 0.5),
        ready_p99_seconds: report::quantile(&per_object, 0.99),
        ready_max_seconds: report::quantile(&per_object, 1.0),
        platform_calls: calls.values().sum(),
        platform_calls_throttled: throttled.values().sum(),
        budget_by_priority,
        drift_share_by_platform,
        drift_share,
        request_budget_saturated,
        request_budget_saturated_events: events.items.len(),
        request_budget_saturated_message: events.items.into_iter().find_map(|e| e.message),
    })
}

async fn controller_metrics(http: &reqwest::Client, port: u16) -> anyhow::Result<String> {
    Ok(http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?)
}

/// Every second, the PlatformConnections whose `status.requestBudget` says saturated, with the
/// first such status of each (read as JSON: an older controller has no such field).
async fn watch_budgets(
    client: kube::Client,
    ns: String,
    saturated: Arc<Mutex<BTreeMap<String, serde_json::Value>>>,
) -> anyhow::Result<()> {
    let gvk = GroupVersionKind::gvk("converge.dev", "v1alpha1", "PlatformConnection");
    let (ar, _) = kube::discovery::pinned_kind(&client, &gvk).await?;
    let api = Api::<DynamicObject>::namespaced_with(client, &ns, &ar);
    loop {
        if let Ok(list) = api.list(&ListParams::default()).await {
            for c in list.items {
                let budget = &c.data["status"]["requestBudget"];
                if budget["saturated"] == true {
                    saturated
                        .lock()
                        .unwrap()
                        .entry(c.metadata.name.unwrap_or_default())
                        .or_insert_with(|| budget.clone());
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
