//! What every reconciler shares, passed as `Arc<Context>`: the Kubernetes client, the Event
//! recorder, metrics, and the platform clients built per PlatformConnection.

use crate::events::{Recorder, Reporter};

use super::metrics::Metrics;
use crate::connections::registry::Connections;

/// Server-side apply field manager for everything Converge writes.
pub const FIELD_MANAGER: &str = "converge";

pub struct Context {
    pub client: kube::Client,
    pub backoff: super::error::Backoff,
    pub recorder: Recorder,
    pub metrics: Metrics,
    pub connections: Connections,
    /// The namespace and shard this controller reconciles.
    pub scope: super::scope::Scope,
    pub stores: crate::stores::Stores,
    /// Which controllers run, for /healthz.
    pub liveness: std::sync::Arc<super::health::Liveness>,
    /// Set for a rehearsal (`converge plan`): every reconcile's writes are journaled.
    pub journal: Option<std::sync::Arc<crate::journal::Journal>>,
    /// `converge plan`: a reference held by ObserveOnly counts as there, so what refers to it
    /// is planned as if its changes were made.
    pub planning: bool,
}

impl Context {
    pub fn new(client: kube::Client, metrics: Metrics) -> Self {
        let reporter = Reporter {
            controller: "converge".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let connections = Connections::new(metrics.clients.clone());
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            backoff: Default::default(),
            metrics,
            connections,
            scope: Default::default(),
            stores: Default::default(),
            liveness: Default::default(),
            journal: None,
            planning: false,
        }
    }

    /// For `converge plan`: platform clients send reads only.
    pub fn read_only(mut self) -> Self {
        self.connections = Connections::new(self.metrics.clients.clone()).read_only();
        self.planning = true;
        self
    }

    /// For a `converge plan` rehearsal: journal every reconcile's writes.
    pub fn journaled(mut self, journal: std::sync::Arc<crate::journal::Journal>) -> Self {
        self.journal = Some(journal);
        self
    }

    pub fn with_scope(mut self, scope: super::scope::Scope) -> Self {
        self.scope = scope;
        self
    }
}
