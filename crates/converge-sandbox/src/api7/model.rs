//! What the API7 Cloud sandbox stores: the user, organizations, clusters, and in each cluster its
//! applications (with their APIs and canary releases), consumers and certificates.
//!
//! Ids are unsigned 64-bit integers that travel as decimal strings. New ones start above 2^58
//! and are always odd, so none survives a trip through an f64 (a client that parses them as JSON
//! numbers gets wrong ids at once, not one day in production).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Timing;

/// An API7 Cloud id: a `uint64` rendered as a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(pub u64);

impl Id {
    /// Parses `^[1-9][0-9]*$` within 64 bits.
    pub fn parse(s: &str) -> Option<Id> {
        let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits || s.starts_with('0') {
            return None;
        }
        s.parse().ok().map(Id)
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Id::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not an id (^[1-9][0-9]*$)")))
    }
}

/// The first id handed out (a snowflake-sized number, as the spec's example ids are).
pub const FIRST_ID: u64 = 417_355_345_116_284_929;

/// The seeded organization the examples use.
pub const SEED_ORG: Id = Id(1001);
/// The seeded cluster the examples use.
pub const SEED_CLUSTER: Id = Id(2001);

/// When state machines move, as seen by one request.
#[derive(Clone, Copy)]
pub struct Clock {
    pub now: Timestamp,
    pub timing: Timing,
}

/// `status` of applications, APIs, canary releases, consumers and certificates.
pub const UNINITIALIZED: i64 = 0;
/// See [`UNINITIALIZED`].
pub const NORMAL: i64 = 50;

impl Clock {
    /// An entity's `status`: Uninitialized (0) for one step after each write (saved, not yet
    /// delivered to the gateways), then Normal (50). An entity whose name matched a failure
    /// pattern when written stays Uninitialized: its configuration never reaches the gateways.
    pub fn entity_status(&self, since: Timestamp, never_ready: bool) -> i64 {
        if never_ready {
            return UNINITIALIZED;
        }
        match self.timing.stage(since, self.now, 2) {
            0 => UNINITIALIZED,
            _ => NORMAL,
        }
    }
}

/// The user the access token belongs to (`GET /user/me`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub org_ids: Vec<Id>,
    pub connection: String,
    pub avatar_url: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Organization {
    pub id: Id,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub plan_id: Id,
    pub plan_expire_time: Timestamp,
    pub subscription_started_at: Option<Timestamp>,
    pub owner_id: String,
}

/// Cluster `status` values.
pub mod cluster_status {
    pub const PENDING: i64 = 1;
    pub const CREATING: i64 = 2;
    pub const NORMAL: i64 = 3;
    pub const CREATE_FAILED: i64 = 4;

    pub fn name(status: i64) -> &'static str {
        match status {
            PENDING => "pending",
            CREATING => "creating",
            NORMAL => "normal",
            CREATE_FAILED => "create failed",
            _ => "unknown",
        }
    }
}

/// A cluster being built: pending, creating, then normal (or create failed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Provisioning {
    pub started_at: Timestamp,
    pub fails: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cluster {
    pub id: Id,
    pub name: String,
    pub org_id: Id,
    pub region_id: Id,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub domain: String,
    pub settings: Map<String, Value>,
    pub policies: Map<String, Value>,
    pub config_version: i64,
    /// None for a cluster that is simply there (seeded).
    pub provisioning: Option<Provisioning>,
}

impl Cluster {
    pub fn status(&self, clock: &Clock) -> i64 {
        let Some(p) = &self.provisioning else {
            return cluster_status::NORMAL;
        };
        match clock.timing.stage(p.started_at, clock.now, 3) {
            0 => cluster_status::PENDING,
            1 => cluster_status::CREATING,
            _ if p.fails => cluster_status::CREATE_FAILED,
            _ => cluster_status::NORMAL,
        }
    }

    pub fn render(&self, clock: &Clock) -> Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "org_id": self.org_id,
            "region_id": self.region_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status(clock),
            "domain": self.domain,
            "settings": self.settings,
            "policies": self.policies,
            "config_version": self.config_version,
        })
    }
}

/// What a client sets on an application (field names as the API has them).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppSpec {
    pub name: String,
    pub description: String,
    pub labels: Vec<String>,
    pub protocols: Vec<String>,
    pub path_prefix: String,
    pub hosts: Vec<String>,
    pub plugins: Map<String, Value>,
    /// `{"version", "upstream": {...}}` objects, normalized (defaults filled in).
    pub upstreams: Vec<Value>,
    pub default_upstream_version: String,
    pub active: i64,
}

impl AppSpec {
    /// The upstream versions, in order.
    pub fn versions(&self) -> Vec<String> {
        self.upstreams
            .iter()
            .filter_map(|u| u.get("version").and_then(Value::as_str))
            .map(String::from)
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Application {
    pub id: Id,
    pub cluster_id: Id,
    pub spec: AppSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub never_ready: bool,
}

/// What a client sets on an API.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ApiSpec {
    pub name: String,
    pub description: String,
    pub labels: Vec<String>,
    pub methods: Vec<String>,
    /// `{"path", "path_type"}` objects.
    pub paths: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fine_grained_route_control: Option<Value>,
    pub strip_path_prefix: bool,
    pub plugins: Map<String, Value>,
    pub active: i64,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Api {
    pub id: Id,
    pub app_id: Id,
    pub spec: ApiSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub never_ready: bool,
}

/// Canary release `state` values.
pub mod canary_state {
    pub const PAUSED: &str = "paused";
    pub const IN_PROGRESS: &str = "in_progress";
    pub const FINISHED: &str = "finished";
    pub const ALL: [&str; 3] = [PAUSED, IN_PROGRESS, FINISHED];
}

/// What a client sets on a canary release.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CanarySpec {
    pub name: String,
    pub state: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub canary_upstream_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expressions: Option<Vec<Value>>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CanaryRelease {
    pub id: Id,
    pub app_id: Id,
    pub spec: CanarySpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub never_ready: bool,
}

impl CanaryRelease {
    /// Paused and in-progress releases hold their upstream version; finished ones do not.
    pub fn is_open(&self) -> bool {
        self.spec.state != canary_state::FINISHED
    }
}

/// What a client sets on a consumer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsumerSpec {
    pub name: String,
    pub description: String,
    /// Absent when none were given: the documented shape is an object, never null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Value>,
    pub plugins: Map<String, Value>,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Consumer {
    pub id: Id,
    pub cluster_id: Id,
    pub spec: ConsumerSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the sandbox reads out of an uploaded certificate.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CertificateMetadata {
    pub snis: Vec<String>,
    pub not_before: Option<Timestamp>,
    pub not_after: Option<Timestamp>,
    pub subject: String,
    pub issuer: String,
    pub serial_number: String,
    pub signature_algorithm: String,
}

/// What a client sets on a certificate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CertSpec {
    pub certificate: String,
    /// Kept to answer like the platform; never rendered.
    pub private_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
    pub labels: Vec<String>,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Certificate {
    pub id: Id,
    pub cluster_id: Id,
    pub spec: CertSpec,
    pub metadata: CertificateMetadata,
    pub ca_metadata: Option<CertificateMetadata>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Everything the API7 sandbox stores.
#[derive(Default, Serialize, Deserialize)]
pub struct State {
    /// The last id handed out (0 before the first).
    pub last_id: u64,
    pub user: Option<User>,
    pub organizations: BTreeMap<Id, Organization>,
    pub clusters: BTreeMap<Id, Cluster>,
    pub applications: BTreeMap<Id, Application>,
    pub apis: BTreeMap<Id, Api>,
    pub canary_releases: BTreeMap<Id, CanaryRelease>,
    pub consumers: BTreeMap<Id, Consumer>,
    pub certificates: BTreeMap<Id, Certificate>,
    /// Simulated traffic settings, by application name (see `traffic`).
    #[serde(default)]
    pub traffic: BTreeMap<String, super::traffic::AppTraffic>,
}

impl State {
    /// A fresh id: larger than every earlier one, odd, and far above 2^53.
    pub fn new_id(&mut self) -> Id {
        let step = rand::random_range(1..=512u64);
        let mut id = self.last_id.max(FIRST_ID - 1) + step;
        if id.is_multiple_of(2) {
            id += 1;
        }
        self.last_id = id;
        Id(id)
    }

    /// Whether `id` is free for an object given an explicit id (seeds).
    pub fn id_taken(&self, id: Id) -> bool {
        self.organizations.contains_key(&id)
            || self.clusters.contains_key(&id)
            || self.applications.contains_key(&id)
            || self.apis.contains_key(&id)
            || self.canary_releases.contains_key(&id)
            || self.consumers.contains_key(&id)
            || self.certificates.contains_key(&id)
    }

    /// Keeps generated ids above an explicit one.
    pub fn claim_id(&mut self, id: Id) {
        if id.0 >= FIRST_ID {
            self.last_id = self.last_id.max(id.0);
        }
    }

    pub fn open_canaries(&self, app: Id) -> impl Iterator<Item = &CanaryRelease> {
        self.canary_releases
            .values()
            .filter(move |c| c.app_id == app && c.is_open())
    }
}
