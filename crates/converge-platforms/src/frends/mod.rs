//! The Frends API management client: API specifications under
//! `/api/v1/api-management/api-specifications`, their versions (publish, deploy to agent
//! groups) and the API passthrough configurations of a version.
//!
//! Only documented response fields are relied on: a specification reads as `{id, name,
//! activeVersion, description}` and nothing says its base path, which versions are published,
//! nor where they are deployed.
//!
//! What a reconciler must know:
//! - The natural key of a specification is its base path (OpenAPI 2 `basePath`, OpenAPI 3
//!   `servers[0].url`): it never changes after creation and Frends refuses a second API on the
//!   same path ("A path is already used in an existing API"), but no read returns it. So a
//!   creator marks what it creates in a field that reads back (the description, see
//!   `apispec::frends`) and looks the mark up before creating; a create refused for its path
//!   proves that some specification serves it. Create and import are never resent, and an
//!   answer lost to a timeout may hide a specification that was created.
//! - Publishing is not idempotent: every call locks the active version and creates a new one.
//!   Compare `activeVersion` before and after a publish whose outcome is unknown.
//! - Deploying answers "Deployment started" and nothing reports how it goes on: a caller knows
//!   it requested a deployment, not that it finished. Deploying the same version to the same
//!   agent group again is a no-op (a failed deployment starts again), so it is resent on
//!   network errors and 5xx.
//! - A passthrough create answers without an id: [`FrendsClient::create_passthrough`] lists the
//!   version's configurations afterwards and returns the one with the new key.
//! - A specification is deleted permanently by removing it from the default agent group, which
//!   Frends refuses while it is in any other group: [`FrendsClient::delete_specification`]
//!   removes it from the groups the caller deployed it to first.

mod envelope;
mod problem;
mod types;

use crate::{Auth, Call, ClientError, ClientMetrics, Http, HttpConfig};
use envelope::{Data, MAX_PAGE_SIZE, Paged};
pub use problem::{error_message, is_path_in_use};
use types::PublishModel;
pub use types::{
    ApiSpecification, HeaderAction, NewPassthrough, Passthrough, PassthroughHeader, PassthroughKey,
    PassthroughSettings, TargetUrl,
};

/// Where every operation of the API management API lives, under the tenant endpoint.
const SPECIFICATIONS: &str = "/api/v1/api-management/api-specifications";

/// A client of one Frends tenant's API management API. Clones share the connection's budget,
/// credentials and connection pool.
#[derive(Clone)]
pub struct FrendsClient {
    http: Http,
    default_agent_group_id: Option<i64>,
}

impl FrendsClient {
    /// This client for a drift check, which may share collection reads ([`Http::sharing`]).
    pub fn sharing(&self, window: std::time::Duration) -> Self {
        FrendsClient {
            http: self.http.sharing(window),
            ..self.clone()
        }
    }

    /// Default HTTP settings for a tenant endpoint (`https://<tenant>.frendsapp.com`, without the
    /// API path) with Frends' problem+json messages. Imports are slow: the connection's timeout
    /// applies to them too, so give a tenant that imports a generous one (e.g. 120 s).
    pub fn config(endpoint: impl Into<String>) -> HttpConfig {
        HttpConfig::new("frends", endpoint, error_message)
    }

    /// A client over `config` (see [`FrendsClient::config`]). `default_agent_group_id` is the
    /// tenant's default agent group, where specifications are created; only
    /// [`FrendsClient::delete_specification`] needs it.
    pub fn new(
        config: HttpConfig,
        auth: Auth,
        metrics: ClientMetrics,
        default_agent_group_id: Option<i64>,
    ) -> Result<FrendsClient, ClientError> {
        Ok(FrendsClient {
            http: Http::new(config, auth, metrics)?,
            default_agent_group_id,
        })
    }

    /// The HTTP layer, to rotate credentials with [`Http::set_auth`].
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The tenant's default agent group, as the connection names it.
    pub fn default_agent_group_id(&self) -> Option<i64> {
        self.default_agent_group_id
    }

    /// Every API specification: walks all pages (`PageNumber`, `PageSize` 200) until
    /// `paging.totalCount` are read. A specification created or deleted during the walk may
    /// shift the pages by one.
    pub async fn list_specifications(&self) -> Result<Vec<ApiSpecification>, ClientError> {
        let mut all = Vec::new();
        let mut page = 1u32;
        loop {
            let call = Call::get("listApiSpecifications", SPECIFICATIONS)
                .query("PageNumber", page)
                .query("PageSize", MAX_PAGE_SIZE);
            let answer: Paged<ApiSpecification> = self.http.json(call).await?;
            let read = answer.data.len();
            all.extend(answer.data);
            if read == 0 || all.len() as i64 >= answer.paging.total_count {
                return Ok(all);
            }
            page += 1;
        }
    }

    /// Creates a specification from an OpenAPI document (JSON or YAML text, sent as one JSON
    /// string): version 1, in the default agent group. Refused (the sandbox answers 409, see
    /// [`is_path_in_use`]) when the base path is used by another API; 400 when the document is
    /// not one Frends can use (no title, no base path / server URL...). Never resent.
    pub async fn create_specification(
        &self,
        document: &str,
    ) -> Result<ApiSpecification, ClientError> {
        let call = Call::post("createApiSpecification", SPECIFICATIONS)
            .json(document)
            .never_repeat();
        Ok(self.http.json::<Data<_>>(call).await?.data)
    }

    /// Creates a specification by uploading the document as the multipart field `file`
    /// (`file_name` such as `openapi.yaml`). Frends documents this as very slow: it is bound by
    /// the connection's timeout, and a timeout does not mean it failed (look for the
    /// specification before trying again). Same answers as [`FrendsClient::create_specification`]. Never resent.
    pub async fn import_specification(
        &self,
        file_name: &str,
        document: &str,
    ) -> Result<ApiSpecification, ClientError> {
        let mime = if document.trim_start().starts_with('{') {
            "application/json"
        } else {
            "application/yaml"
        };
        let call = Call::post("importApiSpecification", format!("{SPECIFICATIONS}/import"))
            .multipart("file", file_name, mime, document.as_bytes().to_vec())
            .never_repeat();
        Ok(self.http.json::<Data<_>>(call).await?.data)
    }

    /// One specification. 404 when there is none with this id.
    pub async fn get_specification(&self, id: i64) -> Result<ApiSpecification, ClientError> {
        let call = Call::get("getApiSpecification", format!("{SPECIFICATIONS}/{id}"));
        Ok(self.http.json::<Data<_>>(call).await?.data)
    }

    /// One specification, or None when it does not exist (deleted, or never created).
    pub async fn find_specification(
        &self,
        id: i64,
    ) -> Result<Option<ApiSpecification>, ClientError> {
        match self.get_specification(id).await {
            Ok(s) => Ok(Some(s)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Replaces the document of the active version. 400 when the document would change the
    /// base path (Frends never allows it) or is not usable; 404 for an unknown id.
    pub async fn update_specification(&self, id: i64, document: &str) -> Result<(), ClientError> {
        let call =
            Call::put("updateApiSpecification", format!("{SPECIFICATIONS}/{id}")).json(document);
        self.http.send(call).await.map(drop)
    }

    /// One version of a specification: the documented shape, whose name and description are
    /// that version's document's. 404 for an unknown id or version.
    pub async fn get_version(
        &self,
        id: i64,
        version: i32,
    ) -> Result<ApiSpecification, ClientError> {
        let call = Call::get(
            "getApiSpecificationVersion",
            format!("{SPECIFICATIONS}/{id}/{version}"),
        );
        Ok(self.http.json::<Data<_>>(call).await?.data)
    }

    /// Publishes ("saves") the active version: it is locked and becomes deployable, and a copy
    /// (with its passthrough configurations, under new ids) becomes the new active version.
    /// NOT idempotent: every call creates a version, so it is never resent; after an unknown
    /// outcome, read `activeVersion` to see whether it happened. 404 for an unknown id.
    pub async fn publish_specification(
        &self,
        id: i64,
        change_description: Option<&str>,
    ) -> Result<(), ClientError> {
        let call = Call::post(
            "publishApiSpecification",
            format!("{SPECIFICATIONS}/{id}/publish"),
        )
        .json(&PublishModel { change_description })
        .never_repeat();
        self.http.send(call).await.map(drop)
    }

    /// Begins deploying a published version to an agent group (replacing the version there).
    /// Frends answers "Deployment started" and reports no progress: success means requested.
    /// Deploying the version a group already runs changes nothing (a failed one starts again),
    /// so it is resent after network errors and 5xx. Refused when the version is not
    /// published; 404 for an unknown specification, version or agent group.
    pub async fn deploy_version(
        &self,
        id: i64,
        version: i32,
        agent_group_id: i64,
    ) -> Result<(), ClientError> {
        let call = Call::post(
            "deployApiSpecification",
            format!("{SPECIFICATIONS}/{id}/{version}/deploy/{agent_group_id}"),
        )
        .safe_to_repeat();
        self.http.send(call).await.map(drop)
    }

    /// Removes a specification from an agent group; from the default group this deletes it
    /// permanently (linked processes stay), which Frends refuses with 409 while it is still in
    /// any other group. 404 when it is not there (or the specification or group is unknown).
    pub async fn remove_from_agent_group(
        &self,
        id: i64,
        agent_group_id: i64,
    ) -> Result<(), ClientError> {
        let call = Call::delete(
            "deleteApiSpecificationFromAgentGroup",
            format!("{SPECIFICATIONS}/{id}/agent-group/{agent_group_id}"),
        );
        self.http.send(call).await.map(drop)
    }

    /// Deletes a specification permanently: removes it from `agent_groups` (where the caller
    /// deployed it: Frends does not report deployments), then from the default agent group
    /// last. What is already gone counts as done, so this can be repeated. A Config error when
    /// the connection names no default agent group.
    pub async fn delete_specification(
        &self,
        id: i64,
        agent_groups: &[i64],
    ) -> Result<(), ClientError> {
        let default = self
            .default_agent_group_id
            .ok_or_else(|| ClientError::Config {
                platform: "frends",
                message: "deleting a specification needs the tenant's default agent group: set frends.defaultAgentGroupId on the connection".into(),
            })?;
        if self.find_specification(id).await?.is_none() {
            return Ok(());
        }
        let mut groups: Vec<i64> = agent_groups
            .iter()
            .copied()
            .filter(|g| *g != default)
            .collect();
        groups.sort_unstable();
        groups.dedup();
        for group in groups.into_iter().chain([default]) {
            match self.remove_from_agent_group(id, group).await {
                Err(e) if e.is_not_found() => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// The passthrough configurations of a version (not paged). 404 for an unknown
    /// specification or version.
    pub async fn list_passthroughs(
        &self,
        id: i64,
        version: i32,
    ) -> Result<Vec<Passthrough>, ClientError> {
        let call = Call::get(
            "listApiPassthroughs",
            format!("{SPECIFICATIONS}/{id}/{version}/api-passthrough"),
        );
        Ok(self.http.json::<Data<_>>(call).await?.data)
    }

    /// The configuration of a version with this key, if there is one.
    pub async fn find_passthrough(
        &self,
        id: i64,
        version: i32,
        key: &PassthroughKey,
    ) -> Result<Option<Passthrough>, ClientError> {
        Ok(self
            .list_passthroughs(id, version)
            .await?
            .into_iter()
            .find(|p| key.matches(p)))
    }

    /// Adds a passthrough configuration to an editable (unpublished) version and returns it as
    /// listed afterwards (Frends answers 201 without a body). 409 when the version is published
    /// or already has a configuration with this key; 400 when a field is invalid (a path or
    /// method the document does not have, a target server that is not absolute...). Never
    /// resent: look up with [`FrendsClient::find_passthrough`] after an unknown outcome.
    pub async fn create_passthrough(
        &self,
        id: i64,
        version: i32,
        passthrough: &NewPassthrough,
    ) -> Result<Passthrough, ClientError> {
        let call = Call::post(
            "createApiPassthrough",
            format!("{SPECIFICATIONS}/{id}/{version}/api-passthrough"),
        )
        .json(passthrough)
        .never_repeat();
        self.http.send(call).await?;
        let key = passthrough.key();
        self.find_passthrough(id, version, &key)
            .await?
            .ok_or_else(|| ClientError::Decode {
                platform: "frends",
                operation: "createApiPassthrough",
                message: format!(
                    "the created configuration ({key:?}) is not in version {version}'s list"
                ),
            })
    }

    /// Replaces the settings of a passthrough configuration (its path, method and default flag
    /// never change) and returns it. 409 when the version is published; 404 for an unknown
    /// configuration.
    pub async fn update_passthrough(
        &self,
        id: i64,
        version: i32,
        passthrough_id: i64,
        settings: &PassthroughSettings,
    ) -> Result<Passthrough, ClientError> {
        let call = Call::put(
            "updateApiPassthrough",
            format!("{SPECIFICATIONS}/{id}/{version}/api-passthrough/{passthrough_id}"),
        )
        .json(settings);
        Ok(self.http.json::<Data<_>>(call).await?.data)
    }

    /// Deletes a passthrough configuration. 409 when the version is published; 404 when it is
    /// already gone.
    pub async fn delete_passthrough(
        &self,
        id: i64,
        version: i32,
        passthrough_id: i64,
    ) -> Result<(), ClientError> {
        let call = Call::delete(
            "deleteApiPassthrough",
            format!("{SPECIFICATIONS}/{id}/{version}/api-passthrough/{passthrough_id}"),
        );
        self.http.send(call).await.map(drop)
    }
}
/// Every decoder of this client over one response body (see `clients::decoders`): the error
/// message, and each response type in the envelope it arrives in. How many accepted the body.
pub fn decode_every_way(body: &[u8]) -> usize {
    use crate::decoders::accepts;
    usize::from(error_message(400, body).is_some())
        + accepts::<Paged<ApiSpecification>>(body)
        + accepts::<Data<ApiSpecification>>(body)
        + accepts::<Data<Passthrough>>(body)
        + accepts::<Data<Vec<Passthrough>>>(body)
}
