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
}

impl Stores {
    /// Called by a kind's controller once it has its store.
    pub fn register<K: Managed>(&self, store: Store<K>) {
        self.by_kind
            .write()
            .unwrap()
            .insert(TypeId::of::<K>(), Box::new(store));
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
