//! One client for whichever platform a PlatformConnection names, built from its spec, with the
//! cheap authenticated call that checks the connection.

use std::time::Duration;

use converge_core::Platform;

use super::api7::{Api7Client, Api7Scope, ClusterStatus};
use super::choreo::ChoreoClient;
use super::cycloid::CycloidClient;
use super::frends::FrendsClient;
use super::opschain::OpsChainClient;
use super::{Auth, Call, ClientError, ClientMetrics, HttpConfig, Secret};

/// Everything from a connection's spec that shapes its client; a change rebuilds the client.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// The PlatformConnection as namespace/name, for metrics.
    pub connection: String,
    pub endpoint: String,
    pub timeout: Duration,
    pub requests_per_second: u32,
    pub burst: u32,
    pub ca_bundle: Option<Vec<u8>>,
    pub scope: Scope,
    /// Refuse every request that could change something (`converge plan`).
    pub read_only: bool,
}

/// Where on the platform the connection works.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Choreo {
        organization_id: String,
    },
    Cycloid {
        organization: String,
    },
    Frends {
        default_agent_group_id: Option<i64>,
    },
    Api7 {
        organization_id: String,
        cluster_id: String,
        /// Where "Get Cluster Metrics" lives; None: the default (unconfirmed) path.
        metrics_path: Option<String>,
    },
    OpsChain,
    /// No platform block: the CRD's CEL rules refuse this, but an old object may predate them.
    None,
}

impl Settings {
    fn apply(&self, mut config: HttpConfig) -> HttpConfig {
        config.connection = self.connection.clone();
        config.timeout = self.timeout;
        config.requests_per_second = self.requests_per_second;
        config.burst = self.burst;
        config.ca_bundle_pem = self.ca_bundle.clone();
        config.read_only = self.read_only;
        config
    }
}

/// What the connection check learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformInfo {
    /// The platform's version, where its API reports one.
    pub version: Option<String>,
    /// What was checked, for the Ready condition's message.
    pub detail: String,
}

/// The client of one connection. Clones share the budget, pool and credentials.
#[derive(Clone)]
pub enum PlatformClient {
    Choreo(ChoreoClient),
    Cycloid(CycloidClient),
    Frends(FrendsClient),
    Api7(Api7Client),
    OpsChain(OpsChainClient),
}

fn token(platform: &'static str, auth: Auth) -> Result<Secret, ClientError> {
    match auth {
        Auth::Bearer(token) => Ok(token),
        Auth::Basic { .. } => Err(ClientError::Config {
            platform,
            message: "this platform takes a token, not basic credentials".into(),
        }),
    }
}

impl std::fmt::Debug for PlatformClient {
    // The platform clients hold credentials; print only what identifies the connection.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlatformClient({})", self.platform())
    }
}

impl PlatformClient {
    /// This connection's client for a drift check (see `shared_reads`).
    pub fn sharing(&self, window: Duration) -> PlatformClient {
        match self {
            PlatformClient::Choreo(c) => PlatformClient::Choreo(c.sharing(window)),
            PlatformClient::Cycloid(c) => PlatformClient::Cycloid(c.sharing(window)),
            PlatformClient::Frends(c) => PlatformClient::Frends(c.sharing(window)),
            PlatformClient::Api7(c) => PlatformClient::Api7(c.sharing(window)),
            PlatformClient::OpsChain(c) => PlatformClient::OpsChain(c.sharing(window)),
        }
    }

    pub fn new(
        settings: &Settings,
        auth: Auth,
        metrics: ClientMetrics,
    ) -> Result<PlatformClient, ClientError> {
        let endpoint = settings.endpoint.as_str();
        Ok(match &settings.scope {
            Scope::Choreo { organization_id } => PlatformClient::Choreo(ChoreoClient::new(
                settings.apply(ChoreoClient::config(endpoint)),
                token("choreo", auth)?,
                organization_id.clone(),
                metrics,
            )?),
            Scope::Cycloid { organization } => PlatformClient::Cycloid(CycloidClient::new(
                settings.apply(CycloidClient::config(endpoint)),
                token("cycloid", auth)?,
                organization.clone(),
                metrics,
            )?),
            Scope::Frends {
                default_agent_group_id,
            } => PlatformClient::Frends(FrendsClient::new(
                settings.apply(FrendsClient::config(endpoint)),
                auth,
                metrics,
                *default_agent_group_id,
            )?),
            Scope::Api7 {
                organization_id,
                cluster_id,
                metrics_path,
            } => {
                let client = Api7Client::new(
                    settings.apply(Api7Client::config(endpoint)),
                    auth,
                    metrics,
                    Api7Scope {
                        organization_id: organization_id.clone(),
                        cluster_id: cluster_id.clone(),
                    },
                )?;
                PlatformClient::Api7(match metrics_path {
                    Some(path) => client.with_metrics_path(path),
                    None => client,
                })
            }
            Scope::OpsChain => PlatformClient::OpsChain(OpsChainClient::new(
                settings.apply(OpsChainClient::config(endpoint)),
                auth,
                metrics,
            )?),
            Scope::None => {
                return Err(ClientError::Config {
                    platform: "none",
                    message: "the connection sets no platform block".into(),
                });
            }
        })
    }

    /// The HTTP layer every clone of this client shares (budget, pool, credentials).
    pub fn http(&self) -> &super::Http {
        match self {
            PlatformClient::Choreo(c) => c.http(),
            PlatformClient::Cycloid(c) => c.http(),
            PlatformClient::Frends(c) => c.http(),
            PlatformClient::Api7(c) => c.http(),
            PlatformClient::OpsChain(c) => c.http(),
        }
    }

    pub fn platform(&self) -> Platform {
        match self {
            PlatformClient::Choreo(_) => Platform::Choreo,
            PlatformClient::Cycloid(_) => Platform::Cycloid,
            PlatformClient::Frends(_) => Platform::Frends,
            PlatformClient::Api7(_) => Platform::Api7,
            PlatformClient::OpsChain(_) => Platform::OpsChain,
        }
    }

    /// New credentials from a rotated Secret, for every following request of every clone.
    pub fn set_auth(&self, auth: Auth) {
        match self {
            PlatformClient::Choreo(c) => {
                if let Ok(t) = token("choreo", auth) {
                    c.set_token(t)
                }
            }
            PlatformClient::Cycloid(c) => {
                if let Ok(t) = token("cycloid", auth) {
                    c.set_api_key(t)
                }
            }
            PlatformClient::Frends(c) => c.http().set_auth(auth),
            PlatformClient::Api7(c) => c.http().set_auth(auth),
            PlatformClient::OpsChain(c) => c.http().set_auth(auth),
        }
    }

    /// One cheap authenticated call that also proves the configured scope exists.
    pub async fn check(&self) -> Result<PlatformInfo, ClientError> {
        match self {
            PlatformClient::Choreo(c) => {
                let orgs = c.list_organizations().await?;
                let wanted = c.organization_id();
                match orgs
                    .iter()
                    .find(|o| o.id == wanted || o.handle.as_deref() == Some(wanted))
                {
                    Some(o) => Ok(PlatformInfo {
                        version: None,
                        detail: format!("organization {:?}", o.name),
                    }),
                    None => Err(ClientError::Status {
                        platform: "choreo",
                        operation: "listOrganizations",
                        status: 404,
                        message: format!(
                            "the token's user is not a member of organization {wanted:?}"
                        ),
                        retry_after: None,
                    }),
                }
            }
            PlatformClient::Cycloid(c) => {
                let org = c.get_organization().await?;
                Ok(PlatformInfo {
                    version: None,
                    detail: format!("organization {:?}", org.name),
                })
            }
            PlatformClient::Frends(c) => {
                // One page of one item: authenticated and cheap however many specifications exist.
                let call = Call::get(
                    "listApiSpecifications",
                    "/api/v1/api-management/api-specifications",
                )
                .query("PageSize", 1);
                let page: serde_json::Value = c.http().json(call).await?;
                let total = page["paging"]["totalCount"].as_i64().unwrap_or(0);
                Ok(PlatformInfo {
                    version: None,
                    detail: format!("{total} API specification(s)"),
                })
            }
            PlatformClient::Api7(c) => {
                c.me().await?;
                let cluster = c.cluster().await?;
                let ready = if cluster.status == ClusterStatus::Normal {
                    "ready"
                } else {
                    "not ready for changes yet"
                };
                Ok(PlatformInfo {
                    version: None,
                    detail: format!("cluster {:?} {ready}", cluster.name),
                })
            }
            PlatformClient::OpsChain(c) => {
                let info = c.info().await?;
                Ok(PlatformInfo {
                    detail: format!("OpsChain {} (API {})", info.version, info.api_version),
                    version: Some(info.version),
                })
            }
        }
    }
}
