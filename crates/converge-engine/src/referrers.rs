//! Which objects of a kind name which others: an index kept from the kind's own watch, so a
//! change to a Project finds the Components that name it without scanning every Component (at
//! ten thousand objects a scan per referenced change costs more than the reconciles it wakes).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;

use super::{Managed, Watched};

/// A name `K` objects may point at: namespace, what it is (`None`: a PlatformConnection) and name.
type Target = (Option<String>, Option<Watched>, String);

pub struct Referrers<K: Managed> {
    inner: Mutex<Inner<K>>,
}

struct Inner<K: Managed> {
    /// What each object names, to undo on change or delete.
    names: HashMap<ObjectRef<K>, Vec<Target>>,
    by_target: HashMap<Target, HashSet<ObjectRef<K>>>,
    /// During a relist: the objects it listed, so the ones it did not can be dropped.
    relisted: Option<HashSet<ObjectRef<K>>>,
}

impl<K: Managed> Default for Referrers<K> {
    fn default() -> Self {
        Referrers {
            inner: Mutex::new(Inner {
                names: HashMap::new(),
                by_target: HashMap::new(),
                relisted: None,
            }),
        }
    }
}

impl<K: Managed> Referrers<K> {
    /// Objects of `K` in `ns` that name `name` as `what` (`None`: as their connection).
    pub fn of(&self, ns: Option<String>, what: Option<Watched>, name: &str) -> Vec<ObjectRef<K>> {
        let inner = self.inner.lock().unwrap();
        inner
            .by_target
            .get(&(ns, what, name.to_string()))
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Follows one event of `K`'s watch.
    pub fn apply(&self, event: &watcher::Event<K>) {
        let mut inner = self.inner.lock().unwrap();
        match event {
            watcher::Event::Apply(o) => inner.set(o),
            watcher::Event::Delete(o) => inner.remove(&ObjectRef::from_obj(o)),
            watcher::Event::Init => inner.relisted = Some(HashSet::new()),
            watcher::Event::InitApply(o) => {
                inner.set(o);
                if let Some(seen) = inner.relisted.as_mut() {
                    seen.insert(ObjectRef::from_obj(o));
                }
            }
            watcher::Event::InitDone => {
                if let Some(seen) = inner.relisted.take() {
                    let gone: Vec<_> = inner
                        .names
                        .keys()
                        .filter(|r| !seen.contains(*r))
                        .cloned()
                        .collect();
                    for r in gone {
                        inner.remove(&r);
                    }
                }
            }
        }
    }
}

impl<K: Managed> Inner<K> {
    fn set(&mut self, o: &K) {
        let r = ObjectRef::from_obj(o);
        self.remove(&r);
        let ns = o.namespace();
        let mut targets = vec![(ns.clone(), None, o.connection_name().to_string())];
        targets.extend(
            o.references()
                .into_iter()
                .map(|(w, n)| (ns.clone(), Some(w), n)),
        );
        for t in &targets {
            self.by_target
                .entry(t.clone())
                .or_default()
                .insert(r.clone());
        }
        self.names.insert(r, targets);
    }

    fn remove(&mut self, r: &ObjectRef<K>) {
        for t in self.names.remove(r).unwrap_or_default() {
            if let Some(set) = self.by_target.get_mut(&t) {
                set.remove(r);
                if set.is_empty() {
                    self.by_target.remove(&t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_api::component::Component;

    fn component(name: &str, project: &str, connection: &str) -> Component {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "Component",
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"connectionRef": {"name": connection}, "projectRef": {"name": project},
                     "choreo": {"name": name, "type": "Service",
                                "repoUrl": "https://github.com/acme/x", "branch": "main"}}
        }))
        .unwrap()
    }

    fn names(refs: Vec<ObjectRef<Component>>) -> Vec<String> {
        let mut v: Vec<String> = refs.into_iter().map(|r| r.name).collect();
        v.sort();
        v
    }

    #[test]
    fn finds_referrers_and_follows_changes_and_deletes() {
        let index = Referrers::<Component>::default();
        let ns = Some("ns".to_string());
        index.apply(&watcher::Event::Apply(component("a", "shop", "choreo")));
        index.apply(&watcher::Event::Apply(component("b", "shop", "choreo")));
        assert_eq!(
            names(index.of(ns.clone(), Some(Watched::Project), "shop")),
            ["a", "b"]
        );
        assert_eq!(names(index.of(ns.clone(), None, "choreo")), ["a", "b"]);
        assert!(index.of(Some("other".into()), None, "choreo").is_empty());

        index.apply(&watcher::Event::Apply(component("b", "blog", "choreo")));
        assert_eq!(
            names(index.of(ns.clone(), Some(Watched::Project), "shop")),
            ["a"]
        );
        assert_eq!(
            names(index.of(ns.clone(), Some(Watched::Project), "blog")),
            ["b"]
        );
        index.apply(&watcher::Event::Delete(component("a", "shop", "choreo")));
        assert!(
            index
                .of(ns.clone(), Some(Watched::Project), "shop")
                .is_empty()
        );
    }

    #[test]
    fn a_relist_drops_what_it_no_longer_lists() {
        let index = Referrers::<Component>::default();
        let ns = Some("ns".to_string());
        index.apply(&watcher::Event::Apply(component("a", "shop", "choreo")));
        index.apply(&watcher::Event::Apply(component("b", "shop", "choreo")));
        index.apply(&watcher::Event::Init);
        index.apply(&watcher::Event::InitApply(component("b", "shop", "choreo")));
        index.apply(&watcher::Event::InitDone);
        assert_eq!(names(index.of(ns, Some(Watched::Project), "shop")), ["b"]);
    }
}
