//! Consumers of the cluster (`/clusters/{cluster_id}/consumers`): who calls the gateway, with
//! their credentials and plugins.

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::envelope::null_default;
use super::{Api7Client, ClientError, EntityStatus, ListFilter, check_id};

/// What a client sets on a consumer: the body of a create and of a `PUT` (which replaces it).
/// `Debug` names the credential kinds only: their contents are secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumerSpec {
    /// Unique in the cluster (409 otherwise): the consumer's natural key. 1..100 characters
    /// of `[a-zA-Z0-9_]`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Authentication credentials by kind (key-auth, basic-auth, jwt...), as the platform
    /// takes them. Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Map<String, Value>>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Map::is_empty"
    )]
    pub plugins: Map<String, Value>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub labels: Vec<String>,
}

impl std::fmt::Debug for ConsumerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds = self
            .credentials
            .as_ref()
            .map(|c| c.keys().map(String::as_str).collect::<Vec<_>>());
        f.debug_struct("ConsumerSpec")
            .field("name", &self.name)
            .field("description", &self.description)
            .field("credentials", &kinds.map(|k| format!("{k:?} [redacted]")))
            .field("plugins", &self.plugins)
            .field("labels", &self.labels)
            .finish()
    }
}

/// A consumer as the platform answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    pub id: String,
    #[serde(default)]
    pub cluster_id: Option<String>,
    #[serde(default)]
    pub status: Option<EntityStatus>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    #[serde(flatten)]
    pub spec: ConsumerSpec,
}

impl Api7Client {
    fn consumer_path(&self, consumer_id: &str) -> Result<String, ClientError> {
        check_id("consumer id", consumer_id)?;
        Ok(self.cluster_path(&format!("/consumers/{consumer_id}")))
    }

    /// Every consumer of the cluster matching `filter`, all pages walked.
    pub async fn list_consumers(&self, filter: &ListFilter) -> Result<Vec<Consumer>, ClientError> {
        self.list_all("listConsumer", &self.cluster_path("/consumers"), filter)
            .await
    }

    /// The consumer named exactly `name`, or None.
    pub async fn find_consumer_by_name(&self, name: &str) -> Result<Option<Consumer>, ClientError> {
        let found = self.list_consumers(&ListFilter::search(name)).await?;
        Ok(found.into_iter().find(|c| c.spec.name == name))
    }

    /// One consumer. 404 when it is not in the cluster.
    pub async fn get_consumer(&self, consumer_id: &str) -> Result<Consumer, ClientError> {
        let call = Self::call(
            Method::GET,
            "getConsumer",
            &self.consumer_path(consumer_id)?,
        );
        self.payload(self.in_cluster(call)).await
    }

    /// Creates a consumer. Not retried: after an error whose effect is unknown, look it up
    /// with [`Api7Client::find_consumer_by_name`]. 409 when the name is taken; 400 on a name
    /// outside `[a-zA-Z0-9_]` and other validation failures.
    pub async fn create_consumer(&self, spec: &ConsumerSpec) -> Result<Consumer, ClientError> {
        let call = Self::call(
            Method::POST,
            "createConsumer",
            &self.cluster_path("/consumers"),
        )
        .json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Replaces the whole consumer. The docs show this answer without a payload, so the
    /// consumer is read back when the platform sends none.
    pub async fn update_consumer(
        &self,
        consumer_id: &str,
        spec: &ConsumerSpec,
    ) -> Result<Consumer, ClientError> {
        let path = self.consumer_path(consumer_id)?;
        let call = Self::call(Method::PUT, "updateConsumer", &path).json(spec);
        match self.maybe_payload(self.in_cluster(call)).await? {
            Some(consumer) => Ok(consumer),
            None => self.get_consumer(consumer_id).await,
        }
    }

    /// Deletes a consumer. 404 when already gone.
    pub async fn delete_consumer(&self, consumer_id: &str) -> Result<(), ClientError> {
        let path = self.consumer_path(consumer_id)?;
        let call = Self::call(Method::DELETE, "deleteConsumer", &path);
        self.no_payload(self.in_cluster(call)).await
    }
}
