//! Components of an environment and their pipelines, and the organization's pipelines.

use serde_json::Value;

use super::envelope::{data_or_bare, decode_value};
use super::{
    Component, ComponentPath, CycloidClient, FormVariables, NewComponent, NewPipeline, Pipeline,
    PipelineFilter, PipelineVariables, UpdateComponent, UpdatePipeline, delete, environment_path,
    get, post, put, put_empty,
};
use crate::ClientError;

impl CycloidClient {
    /// `getComponents`: every component of an environment (the list does not page).
    pub async fn list_components(
        &self,
        project: &str,
        environment: &str,
    ) -> Result<Vec<Component>, ClientError> {
        let path = self.org_path(&format!(
            "{}/components",
            environment_path(project, environment)
        ));
        let items: Option<Vec<Component>> = self.data(get("getComponents", path)).await?;
        Ok(items.unwrap_or_default())
    }

    /// `getComponent`: None when the component or one of its parents does not exist.
    pub async fn get_component(
        &self,
        at: &ComponentPath,
    ) -> Result<Option<Component>, ClientError> {
        self.optional(get("getComponent", self.org_path(&at.path())))
            .await
    }

    /// `getComponentConfig`: the component's form variables (empty when it has none), None
    /// when the component does not exist.
    pub async fn get_component_config(
        &self,
        at: &ComponentPath,
    ) -> Result<Option<FormVariables>, ClientError> {
        let path = self.org_path(&format!("{}/config", at.path()));
        self.optional(get("getComponentConfig", path)).await
    }

    /// `createComponent` (never resent). 409 when the canonical exists in the environment;
    /// 422 when the stack does not exist or has no such use case.
    pub async fn create_component(
        &self,
        project: &str,
        environment: &str,
        component: &NewComponent,
    ) -> Result<Component, ClientError> {
        let path = self.org_path(&format!(
            "{}/components",
            environment_path(project, environment)
        ));
        self.data(post("createComponent", path, component)).await
    }

    /// `updateComponent`: name, description (cleared when not sent), use case (422 when the
    /// stack has no such use case) and variables (kept when not sent).
    pub async fn update_component(
        &self,
        at: &ComponentPath,
        update: &UpdateComponent,
    ) -> Result<Component, ClientError> {
        const OPERATION: &str = "updateComponent";
        // The docs' sample shows the component bare, the spec's schema enveloped.
        let answer: Value = self
            .http
            .json(put(OPERATION, self.org_path(&at.path()), update))
            .await?;
        decode_value(OPERATION, data_or_bare(answer))
    }

    /// `deleteComponent`, with its pipelines. 404 when it is already gone.
    pub async fn delete_component(&self, at: &ComponentPath) -> Result<(), ClientError> {
        self.no_content(delete("deleteComponent", self.org_path(&at.path())))
            .await
    }

    /// `createPipeline` (never resent). The pipeline starts paused. 409 when the name is taken
    /// anywhere in the organization; 422 when the configuration does not parse as a Concourse
    /// pipeline.
    pub async fn create_pipeline(
        &self,
        at: &ComponentPath,
        pipeline: &NewPipeline,
    ) -> Result<Pipeline, ClientError> {
        let path = self.org_path(&format!("{}/pipelines", at.path()));
        self.data(post("createPipeline", path, pipeline)).await
    }

    /// `getPipeline`: None when the pipeline or one of its parents does not exist.
    pub async fn get_pipeline(
        &self,
        at: &ComponentPath,
        name: &str,
    ) -> Result<Option<Pipeline>, ClientError> {
        self.optional(get("getPipeline", self.org_path(&at.pipeline(name))))
            .await
    }

    /// `getPipelineConfig`: the configuration with its variables interpolated, as JSON (the
    /// platform sends it as a JSON string), None when the pipeline does not exist.
    pub async fn get_pipeline_config(
        &self,
        at: &ComponentPath,
        name: &str,
    ) -> Result<Option<Value>, ClientError> {
        const OPERATION: &str = "getPipelineConfig";
        let path = self.org_path(&format!("{}/config", at.pipeline(name)));
        match self.optional::<Value>(get(OPERATION, path)).await? {
            Some(Value::String(text)) => {
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| ClientError::Decode {
                        platform: super::PLATFORM,
                        operation: OPERATION,
                        message: format!("data: not a JSON configuration: {e}"),
                    })
            }
            other => Ok(other),
        }
    }

    /// `getPipelineVariables`: the `yaml_vars` last sent, None when the pipeline does not
    /// exist.
    pub async fn get_pipeline_variables(
        &self,
        at: &ComponentPath,
        name: &str,
    ) -> Result<Option<PipelineVariables>, ClientError> {
        let path = self.org_path(&format!("{}/variables", at.pipeline(name)));
        self.optional(get("getPipelineVariables", path)).await
    }

    /// `updatePipeline`: a new configuration and variables (cleared when not sent). Jobs that
    /// keep their name keep their builds; the pause state does not change. 422 when the
    /// configuration does not parse.
    pub async fn update_pipeline(
        &self,
        at: &ComponentPath,
        name: &str,
        update: &UpdatePipeline,
    ) -> Result<Pipeline, ClientError> {
        self.data(put(
            "updatePipeline",
            self.org_path(&at.pipeline(name)),
            update,
        ))
        .await
    }

    /// `deletePipeline`, with its jobs and builds. 404 when it is already gone.
    pub async fn delete_pipeline(&self, at: &ComponentPath, name: &str) -> Result<(), ClientError> {
        self.no_content(delete("deletePipeline", self.org_path(&at.pipeline(name))))
            .await
    }

    /// `pausePipeline`: no new build starts; idempotent.
    pub async fn pause_pipeline(&self, at: &ComponentPath, name: &str) -> Result<(), ClientError> {
        let path = self.org_path(&format!("{}/pause", at.pipeline(name)));
        self.no_content(put_empty("pausePipeline", path)).await
    }

    /// `unpausePipeline`: pending builds start; idempotent.
    pub async fn unpause_pipeline(
        &self,
        at: &ComponentPath,
        name: &str,
    ) -> Result<(), ClientError> {
        let path = self.org_path(&format!("{}/unpause", at.pipeline(name)));
        self.no_content(put_empty("unpausePipeline", path)).await
    }

    /// `getPipelines`: the organization's pipelines the filter keeps, all pages.
    pub async fn list_organization_pipelines(
        &self,
        filter: &PipelineFilter,
    ) -> Result<Vec<Pipeline>, ClientError> {
        let mut query: Vec<(&'static str, String)> = Vec::new();
        for (key, values) in [
            ("concourse_pipeline_name", &filter.names),
            ("project_canonical", &filter.projects),
            ("environment_canonical", &filter.environments),
            ("statuses", &filter.statuses),
        ] {
            query.extend(values.iter().map(|v| (key, v.clone())));
        }
        self.all_pages("getPipelines", &self.org_path("/pipelines"), &query)
            .await
    }

    /// A pipeline by name wherever it is in the organization (names are unique there): the
    /// lookup before `create_pipeline`, which answers 409 for a name taken elsewhere.
    pub async fn find_pipeline(&self, name: &str) -> Result<Option<Pipeline>, ClientError> {
        let filter = PipelineFilter {
            names: vec![name.to_string()],
            ..PipelineFilter::default()
        };
        let found = self.list_organization_pipelines(&filter).await?;
        Ok(found.into_iter().find(|p| p.name == name))
    }
}
