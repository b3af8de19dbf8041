//! The managed kinds' reflector stores, shared so a reconcile reads a referenced object from
//! memory rather than with a GET per reconcile.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::RwLock;

use kube::runtime::reflector::{ObjectRef, Store};

use futures::channel::mpsc::UnboundedSender;

use super::{Managed, Watched};
use converge_api::connection::PlatformConnection;

type ConnectionWaker = (
    Store<PlatformConnection>,
    UnboundedSender<ObjectRef<PlatformConnection>>,
);

#[derive(Default)]
pub struct Stores {
    by_kind: RwLock<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    /// Kinds whose watch has listed everything once: their store can say "none".
    listed: RwLock<std::collections::HashSet<TypeId>>,
    /// Per kind, the trigger of its controller that wakes one object (see `wake_if_deleting`).
    wakers: RwLock<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    /// The PlatformConnection controller's store and trigger, for `wake_connection`.
    connections: RwLock<Option<ConnectionWaker>>,
    /// Per object, the resourceVersion a reconcile started from before it wrote status: a
    /// reconcile handed that version again got a cache behind our own write.
    superseded: std::sync::Mutex<HashMap<String, (Vec<String>, u8)>>,
}

impl Stores {
    /// Called by a kind's controller once it has its store.
    pub fn register<K: Managed>(&self, store: Store<K>) {
        self.by_kind
            .write()
            .unwrap()
            .insert(TypeId::of::<K>(), Box::new(store));
    }

    /// `K`'s controller reconciles the objects sent here (`Controller::reconcile_on`).
    pub fn wake_with<K: Managed>(&self, trigger: UnboundedSender<ObjectRef<K>>) {
        self.wakers
            .write()
            .unwrap()
            .insert(TypeId::of::<K>(), Box::new(trigger));
    }

    /// An object naming `name` as `what` changed or went, and its own store already shows it:
    /// if that object is being deleted it may be waiting for this (the deletion order), or it
    /// holds something back for its dependents (`Managed::waits_for_dependents`), so it looks
    /// again now. Sent from the namer's watch after its store took the change, so the
    /// woken reconcile reads the dependents as they are.
    pub fn wake_if_deleting(&self, what: Watched, ns: &str, name: &str) {
        converge_api::for_each_kind!(K => {
            if K::REFERRED_AS == Some(what) {
                self.wake::<K>(ns, name);
            }
        });
    }

    /// The PlatformConnection controller reconciles the connections sent to `trigger`.
    pub fn wake_connections_with(
        &self,
        store: Store<PlatformConnection>,
        trigger: UnboundedSender<ObjectRef<PlatformConnection>>,
    ) {
        *self.connections.write().unwrap() = Some((store, trigger));
    }

    /// An object naming connection `name` changed or went (its store shows it): a deleted
    /// connection waits for its users, so it looks again now.
    pub fn wake_connection(&self, ns: &str, name: &str) {
        let connections = self.connections.read().unwrap();
        let Some((store, trigger)) = connections.as_ref() else {
            return;
        };
        let r = ObjectRef::new(name).within(ns);
        if store
            .get(&r)
            .is_some_and(|c| c.metadata.deletion_timestamp.is_some())
        {
            let _ = trigger.unbounded_send(r);
        }
    }

    fn wake<K: Managed>(&self, ns: &str, name: &str) {
        let waiting = self
            .get::<K>(ns, name)
            .is_some_and(|o| o.meta().deletion_timestamp.is_some() || o.waits_for_dependents());
        if !waiting {
            return;
        }
        let wakers = self.wakers.read().unwrap();
        if let Some(trigger) = wakers
            .get(&TypeId::of::<K>())
            .and_then(|t| t.downcast_ref::<UnboundedSender<ObjectRef<K>>>())
        {
            let _ = trigger.unbounded_send(ObjectRef::new(name).within(ns));
        }
    }

    /// `K`'s watch finished its first list: from now on its store holds every object.
    pub fn listed<K: Managed>(&self) {
        self.listed.write().unwrap().insert(TypeId::of::<K>());
    }

    /// A reconcile of `key` wrote status, replacing `versions` (the one it started from and
    /// any its own saves produced on the way).
    pub fn wrote(&self, key: &str, versions: Vec<String>) {
        if !versions.is_empty() {
            self.superseded
                .lock()
                .unwrap()
                .insert(key.to_string(), (versions, 0));
        }
    }

    /// Whether `version` of `key` is one our own status writes have replaced (the cache lags).
    /// At most ten times in a row: a write the apiserver found unchanged keeps the version.
    pub fn behind(&self, key: &str, version: Option<&str>) -> bool {
        let mut superseded = self.superseded.lock().unwrap();
        match superseded.get_mut(key) {
            Some((versions, tries))
                if version.is_some_and(|v| versions.iter().any(|s| s == v)) && *tries < 10 =>
            {
                *tries += 1;
                true
            }
            Some(_) => {
                superseded.remove(key);
                false
            }
            None => false,
        }
    }

    /// Every cached object of kind `K` in `ns`; None when `K`'s controller does not run here
    /// or has not listed everything yet.
    pub fn list<K: Managed>(&self, ns: &str) -> Option<Vec<std::sync::Arc<K>>> {
        if !self.listed.read().unwrap().contains(&TypeId::of::<K>()) {
            return None;
        }
        let by_kind = self.by_kind.read().unwrap();
        let store = by_kind
            .get(&TypeId::of::<K>())?
            .downcast_ref::<Store<K>>()?;
        Some(
            store
                .state()
                .into_iter()
                .filter(|o| o.meta().namespace.as_deref() == Some(ns))
                .collect(),
        )
    }

    /// The cached object, if `K`'s controller runs here and has seen it. A miss says nothing:
    /// the object may be outside this controller's shard.
    pub fn get<K: Managed>(&self, ns: &str, name: &str) -> Option<std::sync::Arc<K>> {
        let by_kind = self.by_kind.read().unwrap();
        let store = by_kind
            .get(&TypeId::of::<K>())?
            .downcast_ref::<Store<K>>()?;
        store.get(&ObjectRef::new(name).within(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reconcile_never_starts_from_a_version_its_own_writes_replaced() {
        let s = Stores::default();
        s.wrote("k", vec!["1".into(), "2".into()]);
        assert!(s.behind("k", Some("2")), "a save made half-way");
        assert!(
            s.behind("k", Some("1")),
            "the version the reconcile started from"
        );
        assert!(!s.behind("k", Some("3")), "the final write is current");
        assert!(
            !s.behind("k", Some("2")),
            "forgotten once the cache caught up"
        );
        s.wrote("k", Vec::new());
        assert!(
            !s.behind("k", Some("1")),
            "nothing replaced, nothing held back"
        );
    }
}
