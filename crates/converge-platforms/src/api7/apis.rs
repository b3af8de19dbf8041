//! APIs (routes) of an application: `/apps/{app_id}/apis`, in the cluster the header names.

use jiff::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::envelope::null_default;
use super::{
    Active, Api7Client, ApiType, ClientError, EntityStatus, ListFilter, LogicalRelationship,
    PathType, check_id,
};

/// What a client sets on an API: the body of a create and of a `PUT` (which replaces it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiSpec {
    /// Unique in the application (409 otherwise): the API's natural key. 1..64 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Allowed HTTP methods (GET, POST...); empty allows all.
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub methods: Vec<String>,
    /// 1..64 paths, below the application's path prefix.
    #[serde(deserialize_with = "null_default")]
    pub paths: Vec<ApiPath>,
    /// Strip the application's path prefix before forwarding.
    #[serde(default)]
    pub strip_path_prefix: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fine_grained_route_control: Option<FineGrainedRouteControl>,
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
    /// Rest when not given.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ApiType>,
    /// Published (0) serves traffic.
    #[serde(default)]
    pub active: Active,
}

/// A path an API matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiPath {
    /// Starts with `/`; "" stands for the application's prefix itself.
    pub path: String,
    /// Prefix when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_type: Option<PathType>,
}

/// Matching on more than the path: headers, query, cookies, variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FineGrainedRouteControl {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_relationship: Option<LogicalRelationship>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub expressions: Vec<RouteExpression>,
}

/// A route match expression, as APIs and rule canary releases take them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteExpression {
    /// header, query, cookie, path or variable.
    pub subject: String,
    /// The header, parameter, cookie or variable name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// equal, not_equal, regex_match, present, larger_than...
    pub operator: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// An API as the platform answers it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Api {
    pub id: String,
    pub app_id: String,
    /// Whether the last change has reached the gateways.
    pub status: EntityStatus,
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    #[serde(default)]
    pub updated_at: Option<Timestamp>,
    #[serde(flatten)]
    pub spec: ApiSpec,
}

impl Api7Client {
    fn apis_path(app_id: &str) -> Result<String, ClientError> {
        check_id("application id", app_id)?;
        Ok(format!("/apps/{app_id}/apis"))
    }

    fn api_path(app_id: &str, api_id: &str) -> Result<String, ClientError> {
        check_id("API id", api_id)?;
        Ok(format!("{}/{api_id}", Self::apis_path(app_id)?))
    }

    /// Every API of an application matching `filter`, all pages walked. 404 when the
    /// application is not in the cluster.
    pub async fn list_apis(
        &self,
        app_id: &str,
        filter: &ListFilter,
    ) -> Result<Vec<Api>, ClientError> {
        self.list_all("listAPI", &Self::apis_path(app_id)?, filter)
            .await
    }

    /// The API of an application named exactly `name`, or None.
    pub async fn find_api_by_name(
        &self,
        app_id: &str,
        name: &str,
    ) -> Result<Option<Api>, ClientError> {
        let found = self.list_apis(app_id, &ListFilter::search(name)).await?;
        Ok(found.into_iter().find(|a| a.spec.name == name))
    }

    /// One API. 404 when it (or its application) is not there.
    pub async fn get_api(&self, app_id: &str, api_id: &str) -> Result<Api, ClientError> {
        let call = Self::call(Method::GET, "getAPI", &Self::api_path(app_id, api_id)?);
        self.payload(self.in_cluster(call)).await
    }

    /// Creates an API in an application. Not retried: after an error whose effect is
    /// unknown, look it up with [`Api7Client::find_api_by_name`]. 409 when the name is taken
    /// in the application; 400 on a validation failure.
    pub async fn create_api(&self, app_id: &str, spec: &ApiSpec) -> Result<Api, ClientError> {
        let call = Self::call(Method::POST, "createAPI", &Self::apis_path(app_id)?).json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Replaces the whole API. 409 when renamed to a taken name.
    pub async fn update_api(
        &self,
        app_id: &str,
        api_id: &str,
        spec: &ApiSpec,
    ) -> Result<Api, ClientError> {
        let call =
            Self::call(Method::PUT, "updateAPI", &Self::api_path(app_id, api_id)?).json(spec);
        self.payload(self.in_cluster(call)).await
    }

    /// Deletes an API. 404 when already gone.
    pub async fn delete_api(&self, app_id: &str, api_id: &str) -> Result<(), ClientError> {
        let call = Self::call(
            Method::DELETE,
            "deleteAPI",
            &Self::api_path(app_id, api_id)?,
        );
        self.no_payload(self.in_cluster(call)).await
    }
}
