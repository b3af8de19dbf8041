//! An API7 application, which two kinds make: an ApiSpec (its definition imported as one) and
//! a GatewayApplication. Finding one and deleting one is the same for both.

use converge_engine::external::PlatformDelete;
use converge_engine::{Failure, Managed};
use converge_platforms::ClientError;
use converge_platforms::api7::{Api7Client, Application};

/// The application `by_id` names (a recorded or external id) where it exists, else the one
/// named `name`.
pub async fn find(
    client: &Api7Client,
    by_id: Option<&str>,
    name: &str,
) -> Result<Option<Application>, Failure> {
    if let Some(id) = by_id {
        match client.get_application(id).await {
            Ok(app) => return Ok(Some(app)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(client.find_application_by_name(name).await?)
}

/// The application to delete, with its APIs and canary releases: by the recorded id, else by
/// the name a create in flight used.
pub struct Deletion<'a> {
    pub client: &'a Api7Client,
}

impl<K: Managed> PlatformDelete<K> for Deletion<'_> {
    async fn made_by(&self, name: &str) -> Result<Option<String>, Failure> {
        let found = self.client.find_application_by_name(name).await?;
        Ok(found.map(|app| app.id))
    }
    async fn delete(&self, id: &str) -> Result<(), ClientError> {
        // cascade: the application's APIs and canary releases go with it.
        self.client.delete_application(id, true).await
    }
}
