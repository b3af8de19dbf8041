//! The platform clients, one per PlatformConnection, built once and shared by every reconciler
//! through the context. A spec change rebuilds the client; a rotated Secret only swaps its
//! credentials, so the request budget and connection pool carry on.

use std::collections::HashMap;
use std::sync::RwLock;

use kube::ResourceExt;

use super::crd::PlatformConnection;
use crate::clients::{Auth, ClientError, ClientMetrics, PlatformClient, Settings};

struct Entry {
    settings: Settings,
    client: PlatformClient,
    /// The last check succeeded: other reconcilers may use the client.
    ready: bool,
}

pub struct Connections {
    metrics: ClientMetrics,
    entries: RwLock<HashMap<(String, String), Entry>>,
}

fn key(namespace: &str, name: &str) -> (String, String) {
    (namespace.to_string(), name.to_string())
}

impl Connections {
    pub fn new(_client: kube::Client, metrics: ClientMetrics) -> Self {
        Connections {
            metrics,
            entries: RwLock::default(),
        }
    }

    /// The client of a Ready connection, for the reconcilers of the other kinds.
    pub fn ready(&self, namespace: &str, name: &str) -> Option<PlatformClient> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(&key(namespace, name))
            .filter(|e| e.ready)
            .map(|e| e.client.clone())
    }

    /// The client for this connection's current spec, with these credentials.
    pub fn connect(
        &self,
        conn: &PlatformConnection,
        auth: Auth,
        ca_bundle: Option<Vec<u8>>,
    ) -> Result<PlatformClient, ClientError> {
        let settings = Settings::from_spec(&conn.spec, ca_bundle);
        let k = key(&conn.namespace().unwrap_or_default(), &conn.name_any());
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
            e.ready = ready;
        }
    }

    pub fn forget(&self, namespace: &str, name: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(namespace, name));
    }
}
