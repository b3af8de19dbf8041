//! Who the token belongs to, and the organization and cluster the connection works in.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::envelope::null_default;
use super::{Api7Client, ClientError, ClusterStatus};
use reqwest::Method;

/// The user an access token belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub email: String,
    /// The organizations the user belongs to.
    #[serde(default, deserialize_with = "null_default")]
    pub org_ids: Vec<String>,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub plan_id: Option<String>,
    #[serde(default)]
    pub plan_expire_time: Option<Timestamp>,
    #[serde(default)]
    pub subscription_started_at: Option<Timestamp>,
    #[serde(default)]
    pub owner_id: String,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

/// A gateway cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub id: String,
    pub name: String,
    pub org_id: String,
    /// Writes into the cluster are refused (400) until it is `Normal`.
    pub status: ClusterStatus,
    #[serde(default)]
    pub region_id: Option<String>,
    /// Where the cluster's gateways are reached.
    #[serde(default)]
    pub domain: String,
    #[serde(default, deserialize_with = "null_default")]
    pub settings: Map<String, Value>,
    /// Cluster-wide plugins.
    #[serde(default, deserialize_with = "null_default")]
    pub policies: Map<String, Value>,
    /// Increases with every change of settings or policies.
    #[serde(default)]
    pub config_version: i64,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
}

impl Api7Client {
    /// The user the token belongs to: the cheapest authenticated call, to check a connection.
    /// 401 when the token is missing, invalid or expired.
    pub async fn me(&self) -> Result<User, ClientError> {
        self.payload(Self::call(Method::GET, "me", "/user/me"))
            .await
    }

    /// The connection's organization. 404 when it does not exist (or the user is not in it).
    pub async fn organization(&self) -> Result<Organization, ClientError> {
        let path = format!("/orgs/{}", self.scope.organization_id);
        self.payload(Self::call(Method::GET, "getOrganization", &path))
            .await
    }

    /// The connection's cluster, with its status. 404 when it does not exist.
    pub async fn cluster(&self) -> Result<Cluster, ClientError> {
        let call = Self::call(Method::GET, "getCluster", &self.cluster_path(""));
        self.payload(self.in_cluster(call)).await
    }
}
