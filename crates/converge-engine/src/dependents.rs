//! The deletion order: what must be gone before an object may release its finalizer.
//!
//! A platform object often cannot outlive its parent (a Cycloid component without its
//! project), and deleting anything needs a usable PlatformConnection. So, when a namespace is
//! deleted (everything at once) or a person deletes a parent first:
//! - a Project (or Component, ApiSpec) whose deletion would remove a platform object waits
//!   until no managed object in its namespace still names it, so children go first;
//! - a PlatformConnection waits until no managed object in its namespace names it, so every
//!   object can still delete its platform object through it.
//!
//! Dependents are looked up only while something is being deleted, in the controllers' caches
//! once each kind has listed. Each change of a dependent wakes the deleting object it names,
//! sent from the dependent's own watch after its cache took the change (`Stores::wake_*`), so
//! the woken object never reads a cache older than the news that woke it.

use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::stores::Stores;
use super::{Managed, Watched};
use crate::context::Context;

/// What the dependents name.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A PlatformConnection, by its name.
    Connection(&'a str),
    /// A managed object that others refer to (`spec.projectRef`, `componentRef`, ...).
    Reference(Watched, &'a str),
}

fn names<K: Managed>(obj: &K, target: Target<'_>) -> bool {
    match target {
        Target::Connection(name) => obj.connection_name() == name,
        Target::Reference(w, name) => obj.references().iter().any(|(k, n)| *k == w && n == name),
    }
}

/// Already released by Converge: a deleted object that only waits for someone else's
/// finalizer needs nothing from us.
pub fn released<K: Managed>(obj: &K) -> bool {
    obj.meta().deletion_timestamp.is_some()
        && !obj
            .finalizers()
            .iter()
            .any(|f| f == super::driver::FINALIZER)
}

fn matching<'o, K: Managed + 'o>(
    objects: impl IntoIterator<Item = &'o K>,
    target: Target<'_>,
    out: &mut Vec<String>,
) {
    out.extend(
        objects
            .into_iter()
            .filter(|o| names(*o, target) && !released(*o))
            .map(|o| format!("{} {}", K::KIND, o.name_any())),
    );
}

async fn listed<K: Managed>(
    client: &kube::Client,
    ns: &str,
    target: Target<'_>,
    out: &mut Vec<String>,
) -> kube::Result<()> {
    let list = Api::<K>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?;
    matching(&list.items, target, out);
    Ok(())
}

/// From the controllers' caches; None when one of the kinds has none here.
fn cached(stores: &Stores, ns: &str, target: Target<'_>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    converge_api::for_each_kind!(K => {
        matching(stores.list::<K>(ns)?.iter().map(|o| &**o), target, &mut out);
    });
    Some(out)
}

/// The managed objects in `ns` that still name `target`, as "Kind name", children first.
///
/// The controllers' caches answer once each kind has listed everything: while a namespace
/// empties, a list of every kind per deleting object would cost the apiserver quadratically.
/// A cache can lag behind a create, but a child whose platform object exists was reconciled
/// from that cache, so it is there; one created this instant waits for its parent to be
/// Ready, which a parent being deleted never is again. Before the first list, the apiserver
/// answers.
pub async fn of(ctx: &Context, ns: &str, target: Target<'_>) -> kube::Result<Vec<String>> {
    if let Some(waiting) = cached(&ctx.stores, ns, target) {
        return Ok(waiting);
    }
    let client = &ctx.client;
    let mut out = Vec::new();
    converge_api::for_each_kind!(K => {
        listed::<K>(client, ns, target, &mut out).await?;
    });
    Ok(out)
}

/// "waiting for Component a to be deleted first", naming at most three.
pub fn waiting_message(dependents: &[String]) -> String {
    const NAMED: usize = 3;
    let mut named = dependents
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if dependents.len() > NAMED {
        named.push_str(&format!(" and {} more", dependents.len() - NAMED));
    }
    match dependents.len() {
        1 => format!("waiting for {named} to be deleted first (it is still using this)"),
        n => format!(
            "waiting for {n} objects: {named} to be deleted first (they are still using this)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_a_few_and_counts_the_rest() {
        assert_eq!(
            waiting_message(&["Component a".into()]),
            "waiting for Component a to be deleted first (it is still using this)"
        );
        let many: Vec<String> = (0..5).map(|i| format!("Component c{i}")).collect();
        assert_eq!(
            waiting_message(&many),
            "waiting for 5 objects: Component c0, Component c1, Component c2 and 2 more to be \
             deleted first (they are still using this)"
        );
    }

    #[test]
    fn only_referred_kinds_make_others_wait() {
        use converge_api::kind::Kind;
        assert_eq!(
            converge_api::project::Project::REFERRED_AS,
            Some(Watched::Project)
        );
        assert_eq!(
            converge_api::component::Component::REFERRED_AS,
            Some(Watched::Component)
        );
        assert_eq!(converge_api::workflow::Workflow::REFERRED_AS, None);
    }
}
