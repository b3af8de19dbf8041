//! The managed kinds' reflector stores, shared so a reconcile reads a referenced object from
//! memory rather than with a GET per reconcile.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::RwLock;

use kube::runtime::reflector::{ObjectRef, Store};

use super::Managed;

#[derive(Default)]
pub struct Stores {
    by_kind: RwLock<HashMap<TypeId, Box<dyn Any + Send + Sync>>>,
    /// Per object, the resourceVersion a reconcile started from before it wrote status: a
    /// reconcile handed that version again got a cache behind our own write.
    superseded: std::sync::Mutex<HashMap<String, (String, u8)>>,
}

impl Stores {
    /// Called by a kind's controller once it has its store.
    pub fn register<K: Managed>(&self, store: Store<K>) {
        self.by_kind
            .write()
            .unwrap()
            .insert(TypeId::of::<K>(), Box::new(store));
    }

    /// A reconcile of `key` that started from `version` wrote status.
    pub fn wrote(&self, key: &str, version: Option<String>) {
        if let Some(v) = version {
            self.superseded
                .lock()
                .unwrap()
                .insert(key.to_string(), (v, 0));
        }
    }

    /// Whether `version` of `key` is one our own status write has replaced (the cache lags).
    /// At most ten times in a row: a write the apiserver found unchanged keeps the version.
    pub fn behind(&self, key: &str, version: Option<&str>) -> bool {
        let mut superseded = self.superseded.lock().unwrap();
        match superseded.get_mut(key) {
            Some((v, tries)) if Some(v.as_str()) == version && *tries < 10 => {
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
