//! A kind's controller and the watches that wake it: its own objects, the PlatformConnection
//! each names, and whatever else it refers to (Projects, Components, ApiSpecs, ConfigMaps).
//! Referenced objects are watched as metadata only: the mapper needs no more than a name, and
//! a metadata watch still sees every change, status included.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};

use super::referrers::Referrers;
use super::{Managed, Watched, driver};
use crate::apispec::crd::ApiSpec;
use crate::component::crd::Component;
use crate::connection::crd::PlatformConnection;
use crate::controller::context::Context;
use crate::project::crd::Project;

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

/// Reconciles in flight per kind. Enough to keep a connection's budget busy while others wait
/// on the apiserver.
const CONCURRENCY: u16 = 64;

/// What an object's own change must touch to be reconciled: its generation (spec, deletion)
/// or its finalizers. Status, managed by this controller, is left out.
fn worth_reconciling<K: Managed>(obj: &K) -> Option<u64> {
    let meta = obj.meta();
    let mut h = std::hash::DefaultHasher::new();
    (
        meta.generation,
        &meta.finalizers,
        meta.deletion_timestamp.is_some(),
    )
        .hash(&mut h);
    Some(h.finish())
}

/// Runs kind `K`'s controller until `stop` resolves, then lets in-flight reconciles finish.
pub async fn run<K: Managed>(
    client: kube::Client,
    ctx: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let writer = Writer::<K>::default();
    let store = writer.as_reader();
    ctx.stores.register(store.clone());
    let index = Arc::new(Referrers::<K>::default());
    let indexing = index.clone();
    let objects = watcher(ctx.scope.api::<K>(&client), ctx.scope.reconciled())
        .default_backoff()
        // Nothing reads managedFields; at thousands of objects they are much of the cache.
        .modify(|o: &mut K| o.meta_mut().managed_fields = None)
        .reflect(writer)
        .inspect_ok(move |event| indexing.apply(event))
        .applied_objects()
        // Our own status writes come back as watch events; reconciling on them would re-read
        // the platform for nothing. Spec changes bump the generation, and so does a deletion.
        .predicate_filter(worth_reconciling::<K>, Default::default());
    let mut controller = Controller::for_stream(objects, store);
    controller = watch_meta::<K, PlatformConnection>(controller, &ctx, index.clone(), None);
    for w in K::WATCHES {
        let s = index.clone();
        controller = match w {
            Watched::Project => watch_meta::<K, Project>(controller, &ctx, s, Some(*w)),
            Watched::Component => watch_meta::<K, Component>(controller, &ctx, s, Some(*w)),
            Watched::ApiSpec => watch_meta::<K, ApiSpec>(controller, &ctx, s, Some(*w)),
            Watched::ConfigMap => watch_meta::<K, ConfigMap>(controller, &ctx, s, Some(*w)),
        };
    }
    controller
        // Bounds the reconciles in flight: under a platform rate limit every object's reconcile
        // would otherwise wait for the budget at once, each holding its object and buffers.
        .with_config(Config::default().concurrency(CONCURRENCY))
        // Objects that found their connection not yet usable try again once it is.
        .reconcile_all_on(ctx.connections.ready_events())
        .graceful_shutdown_on(stop)
        .run(
            driver::reconcile::<K>,
            crate::controller::controllers::error_policy::<K>(K::KIND),
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(kind = K::KIND, object = %obj, "reconciled"),
                Err(e) => tracing::debug!(kind = K::KIND, error = %e, "reconcile did not complete"),
            }
        })
        .await;
}
