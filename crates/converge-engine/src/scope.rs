//! Which objects this controller owns: every namespace or one (`--namespace`), and every
//! object or a label-selected shard (`--selector`).
//!
//! The selector applies to what is reconciled: PlatformConnections and the managed kinds. The
//! watches that only wake them (Secrets, ConfigMaps and the metadata of referenced objects) are
//! narrowed to the namespace but not to the shard, because a Secret or a referenced Project
//! need not carry the shard's label. A shard's objects wait for their connection to be Ready,
//! so a connection must carry the label of every shard whose objects use it.

use kube::Resource;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub namespace: Option<String>,
    pub selector: Option<String>,
}

impl Scope {
    /// An Api over the scope's namespace, or over all of them.
    pub fn api<K>(&self, client: &kube::Client) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }

    /// The watcher of reconciled objects: the shard's selector, when there is one.
    pub fn reconciled(&self) -> watcher::Config {
        match &self.selector {
            Some(s) => watcher::Config::default().labels(s),
            None => watcher::Config::default(),
        }
    }

    /// The watcher of objects that only wake reconciled ones: no selector.
    pub fn wakers(&self) -> watcher::Config {
        watcher::Config::default()
    }

    /// Fails at startup, with the apiserver's words, on a selector it refuses, rather than
    /// leaving every watch retrying it for ever.
    pub async fn check(&self, client: &kube::Client) -> anyhow::Result<()> {
        let Some(selector) = &self.selector else {
            return Ok(());
        };
        let api = self.api::<converge_api::connection::PlatformConnection>(client);
        api.list_metadata(&ListParams::default().labels(selector).limit(1))
            .await
            .map_err(|e| anyhow::anyhow!("--selector {selector:?} is refused: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selector_narrows_reconciled_objects_only() {
        let scope = Scope {
            namespace: Some("team-a".into()),
            selector: Some("converge.dev/shard=1".into()),
        };
        assert_eq!(
            scope.reconciled().label_selector.as_deref(),
            Some("converge.dev/shard=1")
        );
        assert_eq!(scope.wakers().label_selector, None);
        assert_eq!(Scope::default().reconciled().label_selector, None);
    }
}
