//! The platform clients, one per PlatformConnection, built once and shared by every reconciler
//! through the context. A spec change rebuilds the client; a rotated Secret only swaps its
//! credentials, so the request budget and connection pool carry on.

use std::collections::HashMap;
use std::sync::RwLock;

use kube::ResourceExt;

use converge_api::connection::PlatformConnection;
use converge_platforms::{Auth, ClientError, ClientMetrics, PlatformClient, Settings};

struct Entry {
    settings: Settings,
    client: PlatformClient,
    /// The last check succeeded: other reconcilers may use the client.
    ready: bool,
    /// When a deleted connection last wrote how many objects it waits for.
    progress_written: Option<std::time::Instant>,
}

pub struct Connections {
    metrics: ClientMetrics,
    entries: RwLock<HashMap<(String, String), Entry>>,
    /// Bumped whenever a connection's client becomes usable. A restarted controller finds
    /// every connection already Ready in status, so no watch event follows the first check:
    /// this is what wakes the objects that were waiting for it.
    became_ready: tokio::sync::watch::Sender<u64>,
    /// Clients refuse every write (`converge plan`).
    read_only: bool,
}

fn key(namespace: &str, name: &str) -> (String, String) {
    (namespace.to_string(), name.to_string())
}

impl Connections {
    pub fn new(metrics: ClientMetrics) -> Self {
        Connections {
            metrics,
            entries: RwLock::default(),
            became_ready: tokio::sync::watch::Sender::new(0),
            read_only: false,
        }
    }

    /// Every client this registry builds refuses requests that could change something.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The client of a Ready connection, for the reconcilers of the other kinds.
    pub fn ready(&self, namespace: &str, name: &str) -> Option<PlatformClient> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&key(namespace, name))
            .filter(|e| e.ready)
            .map(|e| e.client.clone())
    }

    /// The client last built for a connection, usable or not: a connection being deleted
    /// keeps it (and the credentials it last read) for the deletes of the objects using it.
    pub fn known(&self, namespace: &str, name: &str) -> Option<PlatformClient> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(&key(namespace, name)).map(|e| e.client.clone())
    }

    /// The client for this connection's current spec, with these credentials.
    pub fn connect(
        &self,
        conn: &PlatformConnection,
        auth: Auth,
        ca_bundle: Option<Vec<u8>>,
    ) -> Result<PlatformClient, ClientError> {
        let mut settings = super::settings::from_spec(&conn.spec, ca_bundle);
        settings.read_only = self.read_only;
        let k = key(&conn.namespace().unwrap_or_default(), &conn.name_any());
        settings.connection = format!("{}/{}", k.0, k.1);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.get(&k).filter(|e| e.settings == settings) {
            e.client.set_auth(auth);
            return Ok(e.client.clone());
        }
        let client = PlatformClient::new(&settings, auth, self.metrics.clone())?;
        entries.insert(
            k,
            Entry {
                settings,
                client: client.clone(),
                ready: false,
                progress_written: None,
            },
        );
        Ok(client)
    }

    pub fn mark(&self, conn: &PlatformConnection, ready: bool) {
        let k = key(&conn.namespace().unwrap_or_default(), &conn.name_any());
        if let Some(e) = self
            .entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&k)
        {
            let now_usable = ready && !e.ready;
            e.ready = ready;
            if now_usable {
                self.became_ready.send_modify(|n| *n = n.wrapping_add(1));
            }
        }
    }

    /// Yields each time some connection's client becomes usable (not for the state at the
    /// time of the call).
    pub fn ready_events(&self) -> impl futures::Stream<Item = ()> + Send + 'static {
        let mut rx = self.became_ready.subscribe();
        rx.mark_unchanged();
        futures::stream::unfold(rx, |mut rx| async move {
            rx.changed().await.ok().map(|()| ((), rx))
        })
    }

    /// Whether a deleted connection may write its waiting progress now: at most once per
    /// `every`, since while a namespace empties it changes with each object gone.
    pub fn progress_due(&self, namespace: &str, name: &str, every: std::time::Duration) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let Some(e) = entries.get_mut(&key(namespace, name)) else {
            return true;
        };
        let now = std::time::Instant::now();
        let due = e
            .progress_written
            .is_none_or(|t| now.duration_since(t) >= every);
        if due {
            e.progress_written = Some(now);
        }
        due
    }

    /// Drops the clients of connections that no longer exist: deletion reaches no reconcile,
    /// so the controller calls this with the connections it still watches.
    pub fn retain(&self, existing: &std::collections::HashSet<(String, String)>) -> usize {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let before = entries.len();
        entries.retain(|k, _| existing.contains(k));
        before - entries.len()
    }

    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn forget(&self, namespace: &str, name: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(namespace, name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_api::connection::{Credentials, OpsChainConnection, PlatformConnectionSpec};

    fn conn(ns: &str, name: &str) -> PlatformConnection {
        let mut c = PlatformConnection::new(
            name,
            PlatformConnectionSpec {
                endpoint: "http://127.0.0.1:9".into(),
                allow_insecure_http: None,
                credentials: Credentials {
                    secret_name: "s".into(),
                    type_: None,
                    token_key: None,
                    username_key: None,
                    password_key: None,
                },
                tls: None,
                request_budget: None,
                timeout_seconds: None,
                choreo: None,
                cycloid: None,
                frends: None,
                api7: None,
                opschain: Some(OpsChainConnection {}),
            },
        );
        c.metadata.namespace = Some(ns.into());
        c
    }

    #[test]
    fn a_client_is_reused_until_the_spec_changes_and_pruned_once_its_connection_is_gone() {
        let registry = Connections::new(ClientMetrics::default());
        let a = conn("ns", "a");
        registry
            .connect(&a, Auth::basic("u", "password1"), None)
            .unwrap();
        registry.mark(&a, true);
        assert!(registry.ready("ns", "a").is_some());
        // A rotated credential keeps the client (and its ready mark).
        registry
            .connect(&a, Auth::basic("u", "password2"), None)
            .unwrap();
        assert!(registry.ready("ns", "a").is_some());
        // A changed spec builds a new client that is not ready until checked.
        let mut changed = a.clone();
        changed.spec.timeout_seconds = Some(5);
        registry
            .connect(&changed, Auth::basic("u", "password2"), None)
            .unwrap();
        assert!(registry.ready("ns", "a").is_none());

        registry
            .connect(&conn("ns", "b"), Auth::basic("u", "password1"), None)
            .unwrap();
        assert_eq!(registry.len(), 2);
        let existing = [("ns".to_string(), "b".to_string())].into_iter().collect();
        assert_eq!(registry.retain(&existing), 1);
        assert_eq!(registry.len(), 1);
    }

    #[tokio::test]
    async fn becoming_usable_is_announced_once() {
        use futures::StreamExt;
        let registry = Connections::new(ClientMetrics::default());
        let mut events = Box::pin(registry.ready_events());
        let a = conn("ns", "a");
        registry.connect(&a, Auth::basic("u", "p"), None).unwrap();
        registry.mark(&a, true);
        let next = tokio::time::timeout(std::time::Duration::from_secs(1), events.next());
        assert_eq!(next.await.unwrap(), Some(()));
        registry.mark(&a, true);
        let none = tokio::time::timeout(std::time::Duration::from_millis(50), events.next());
        assert!(none.await.is_err(), "still usable is not news");
    }
}
