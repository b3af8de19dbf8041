//! A kind's controller and the watches that wake it: its own objects, the PlatformConnection
//! each names, and whatever else it refers to (Projects, Components, ApiSpecs, ConfigMaps).
//! Referenced objects are watched as metadata only: the mapper needs no more than a name, and
//! a metadata watch still sees every change, status included.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::utils::{Backoff, ResetTimerBackoff};
use kube::runtime::watcher::ExponentialBackoff;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use super::referrers::Referrers;
use super::{Managed, Reconciler, Watched, driver};
use crate::context::Context;
use converge_api::common::conditions::RECONCILING;
use converge_api::connection::PlatformConnection;

/// The wait after a watch error. kube-runtime's default (800 ms doubling to 30 s) is one backoff
/// for all of a controller's watches, which meet their errors one after the other: after an
/// apiserver restart the waits added up and a controller saw nothing for up to two minutes
/// (tests/apiserver_restart.rs). At most 2 s keeps that to seconds and still spares a
/// struggling apiserver: each controller's few watches retry at most every 2 s.
pub fn watch_backoff() -> impl Backoff {
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(2))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    ResetTimerBackoff::new(ExponentialBackoff::from(backoff), Duration::from_secs(60))
}

type WatchMeta<K> =
    fn(Controller<K>, &Context, Arc<Referrers<K>>, Option<Watched>) -> Controller<K>;

fn watch_meta<K, W>(
    controller: Controller<K>,
    ctx: &Context,
    index: Arc<Referrers<K>>,
    what: Option<Watched>,
) -> Controller<K>
where
    K: Managed,
    W: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    PartialObjectMeta<W>: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    // An Api of PartialObjectMeta makes metadata-only list and watch requests.
    controller.watches(
        ctx.scope.api::<PartialObjectMeta<W>>(&ctx.client),
        ctx.scope.wakers(),
        move |meta: PartialObjectMeta<W>| index.of(meta.namespace(), what, &meta.name_any()),
    )
}

/// How many objects still need the controller: a generation not yet observed, or Reconciling.
pub fn queue_depth<K: Managed>(objects: &[Arc<K>]) -> i64 {
    objects
        .iter()
        .filter(|o| {
            let generation = o.meta().generation;
            o.status()
                .map(K::common)
                .is_none_or(|c| c.observed_generation != generation || c.is_true(RECONCILING))
        })
        .count() as i64
}

/// Keeps `converge_queue_depth{kind}` and `converge_objects{kind}` current from the
/// controller's cache, while `K` runs.
fn sample_queue_depth<K: Managed>(store: Store<K>, ctx: &Context) -> tokio::task::JoinHandle<()> {
    let gauge = ctx
        .metrics
        .queue_depth
        .get_or_create(&crate::metrics::KindLabels { kind: K::KIND })
        .clone();
    let metrics = ctx.metrics.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            every.tick().await;
            let objects = store.state();
            gauge.set(queue_depth(&objects));
            let statuses = objects.iter().map(|o| o.status().map(K::common));
            metrics.count_objects(K::KIND, statuses);
        }
    })
}

/// Reconciles in flight per kind. Enough to keep a connection's budget busy while others wait
/// on the apiserver.
const CONCURRENCY: u16 = 64;

/// What an object's own change must touch to be reconciled: its generation (spec, deletion),
/// its finalizers, or the reconcile.converge.dev/requestedAt annotation. Status, managed by
/// this controller, is left out.
fn worth_reconciling<K: Managed>(obj: &K) -> Option<u64> {
    let meta = obj.meta();
    let mut h = std::hash::DefaultHasher::new();
    (
        meta.generation,
        &meta.finalizers,
        meta.deletion_timestamp.is_some(),
        meta.annotations
            .as_ref()
            .and_then(|a| a.get(converge_api::common::conditions::REQUESTED_AT)),
    )
        .hash(&mut h);
    Some(h.finish())
}

/// Runs the controller of `R`'s kind until `stop` resolves, then lets in-flight reconciles
/// finish.
pub async fn run<R: Reconciler>(
    client: kube::Client,
    ctx: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    run_kind::<R::Kind, R>(client, ctx, stop).await
}

async fn run_kind<K: Managed, R: Reconciler<Kind = K>>(
    client: kube::Client,
    ctx: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let writer = Writer::<K>::default();
    let store = writer.as_reader();
    ctx.stores.register(store.clone());
    let sampler = sample_queue_depth(store.clone(), &ctx);
    let index = Arc::new(Referrers::<K>::default());
    let indexing = index.clone();
    let listing = ctx.clone();
    let (wake, woken) = futures::channel::mpsc::unbounded::<ObjectRef<K>>();
    ctx.stores.wake_with::<K>(wake);
    let objects = watcher(ctx.scope.api::<K>(&client), ctx.scope.reconciled())
        .backoff(watch_backoff())
        // Nothing reads managedFields; at thousands of objects they are much of the cache.
        .modify(|o: &mut K| o.meta_mut().managed_fields = None)
        .reflect(writer)
        .inspect_ok(move |event| {
            indexing.apply(event);
            match event {
                watcher::Event::InitDone => listing.stores.listed::<K>(),
                // The deletion order: a parent being deleted waits for what names it.
                watcher::Event::Apply(o) | watcher::Event::Delete(o) => {
                    let ns = o.namespace().unwrap_or_default();
                    for (what, name) in o.references() {
                        listing.stores.wake_if_deleting(what, &ns, &name);
                    }
                    listing.stores.wake_connection(&ns, o.connection_name());
                }
                _ => {}
            }
        })
        .applied_objects()
        // Our own status writes come back as watch events; reconciling on them would re-read
        // the platform for nothing. Spec changes bump the generation, and so does a deletion.
        .predicate_filter(worth_reconciling::<K>, Default::default());
    let mut controller = Controller::for_stream(objects, store.clone());
    controller = watch_meta::<K, PlatformConnection>(controller, &ctx, index.clone(), None);
    for w in K::WATCHES {
        let s = index.clone();
        if *w == Watched::ConfigMap {
            controller = watch_meta::<K, ConfigMap>(controller, &ctx, s, Some(*w));
            continue;
        }
        // The kind that objects of this kind name as `w`, from the registry.
        let mut named: Option<WatchMeta<K>> = None;
        converge_api::for_each_kind!(N => {
            if N::REFERRED_AS == Some(*w) {
                named = Some(watch_meta::<K, N>);
            }
        });
        let watch = named.unwrap_or_else(|| panic!("{} watches {w:?}, which no kind is", K::KIND));
        controller = watch(controller, &ctx, s, Some(*w));
    }
    controller
        .reconcile_on(woken)
        .trigger_backoff(watch_backoff())
        // Bounds the reconciles in flight: under a platform rate limit every object's reconcile
        // would otherwise wait for the budget at once, each holding its object and buffers.
        .with_config(Config::default().concurrency(CONCURRENCY))
        // Objects that found their connection not yet usable try again once it is.
        .reconcile_all_on(ctx.connections.ready_events())
        .graceful_shutdown_on(stop)
        .run(
            driver::guarded::<K, R>,
            crate::error::error_policy::<K>(K::KIND),
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(kind = K::KIND, object = %obj, "reconciled"),
                Err(e) => tracing::debug!(kind = K::KIND, error = %e, "reconcile did not complete"),
            }
        })
        .await;
    sampler.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_api::project::Project;
    use serde_json::json;

    fn project(generation: i64, observed: Option<i64>, reconciling: bool) -> Arc<Project> {
        let mut conditions = vec![
            json!({"type": "Ready", "status": "False", "reason": "Progressing",
            "message": "", "lastTransitionTime": "2026-11-24T00:00:00Z"}),
        ];
        if reconciling {
            conditions.push(
                json!({"type": "Reconciling", "status": "True", "reason": "Progressing",
                "message": "", "lastTransitionTime": "2026-11-24T00:00:00Z"}),
            );
        }
        let mut p = json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project",
            "metadata": {"name": "p", "namespace": "n", "generation": generation},
            "spec": {"connectionRef": {"name": "c"}, "cycloid": {"canonical": "p", "name": "P",
                     "configRepositoryCanonical": "cfg", "environments": []}}});
        if let Some(observed) = observed {
            p["status"] = json!({"observedGeneration": observed, "conditions": conditions});
        }
        Arc::new(serde_json::from_value(p).unwrap())
    }

    #[test]
    fn queue_depth_counts_unobserved_and_reconciling_objects() {
        let objects = [
            project(1, None, false),
            project(2, Some(1), false),
            project(1, Some(1), true),
            project(1, Some(1), false),
        ];
        assert_eq!(queue_depth(&objects), 3);
        assert_eq!(queue_depth::<Project>(&[]), 0);
    }
}
