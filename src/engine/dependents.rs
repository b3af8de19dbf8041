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
//! The lists are read from the apiserver only while something is being deleted; watches on
//! the dependents' metadata wake the waiting object when one goes.

use kube::ResourceExt;
use kube::api::{Api, ListParams};

use super::{Managed, Watched};
use crate::apispec::crd::ApiSpec;
use crate::component::crd::Component;
use crate::gateway::crd::GatewayApplication;
use crate::project::crd::Project;
use crate::workflow::crd::Workflow;

/// What the dependents name.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A PlatformConnection, by its name.
    Connection(&'a str),
    /// A managed object that others refer to (`spec.projectRef`, `componentRef`, ...).
    Reference(Watched, &'a str),
}

/// How other kinds refer to objects of kind `kind`, if they do.
pub fn referred_as(kind: &str) -> Option<Watched> {
    match kind {
        "Project" => Some(Watched::Project),
        "Component" => Some(Watched::Component),
        "ApiSpec" => Some(Watched::ApiSpec),
        _ => None,
    }
}

fn names<K: Managed>(obj: &K, target: Target<'_>) -> bool {
    match target {
        Target::Connection(name) => obj.connection_name() == name,
        Target::Reference(w, name) => obj.references().iter().any(|(k, n)| *k == w && n == name),
    }
}

/// Already released by Converge: a deleted object that only waits for someone else's
/// finalizer needs nothing from us.
fn released<K: Managed>(obj: &K) -> bool {
    obj.meta().deletion_timestamp.is_some()
        && !obj
            .finalizers()
            .iter()
            .any(|f| f == super::driver::FINALIZER)
}

async fn of_kind<K: Managed>(
    client: &kube::Client,
    ns: &str,
    target: Target<'_>,
    out: &mut Vec<String>,
) -> kube::Result<()> {
    let list = Api::<K>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?;
    out.extend(
        list.items
            .iter()
            .filter(|o| names(*o, target) && !released(*o))
            .map(|o| format!("{} {}", K::KIND, o.name_any())),
    );
    Ok(())
}

/// The managed objects in `ns` that still name `target`, as "Kind name", children first.
pub async fn of(client: &kube::Client, ns: &str, target: Target<'_>) -> kube::Result<Vec<String>> {
    let mut out = Vec::new();
    of_kind::<Workflow>(client, ns, target, &mut out).await?;
    of_kind::<Component>(client, ns, target, &mut out).await?;
    of_kind::<GatewayApplication>(client, ns, target, &mut out).await?;
    of_kind::<ApiSpec>(client, ns, target, &mut out).await?;
    of_kind::<Project>(client, ns, target, &mut out).await?;
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
        assert_eq!(referred_as("Project"), Some(Watched::Project));
        assert_eq!(referred_as("Component"), Some(Watched::Component));
        assert_eq!(referred_as("Workflow"), None);
    }
}
