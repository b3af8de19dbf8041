//! Jobs of a pipeline and their builds.

use super::envelope::ConcoursePage;
use super::{Build, ComponentPath, CycloidClient, Job, PLATFORM, get, post_empty, put_empty};
use crate::ClientError;

impl CycloidClient {
    /// `getJobs`: every job of a pipeline, all pages.
    pub async fn list_jobs(
        &self,
        at: &ComponentPath,
        pipeline: &str,
    ) -> Result<Vec<Job>, ClientError> {
        let path = self.org_path(&format!("{}/jobs", at.pipeline(pipeline)));
        self.all_pages("getJobs", &path, &[]).await
    }

    /// `getJob`: the job with its latest finished build and the next one, None when the job
    /// or one of its parents does not exist.
    pub async fn get_job(
        &self,
        at: &ComponentPath,
        pipeline: &str,
        job: &str,
    ) -> Result<Option<Job>, ClientError> {
        self.optional(get("getJob", self.org_path(&at.job(pipeline, job))))
            .await
    }

    /// `getBuilds`: every build of a job, newest first, walking Concourse's pages (each asks
    /// for the builds older than the last one seen).
    pub async fn list_builds(
        &self,
        at: &ComponentPath,
        pipeline: &str,
        job: &str,
    ) -> Result<Vec<Build>, ClientError> {
        const OPERATION: &str = "getBuilds";
        let path = self.org_path(&format!("{}/builds", at.job(pipeline, job)));
        let mut builds = Vec::new();
        let mut since = 0;
        loop {
            let mut call = get(OPERATION, &path).query("concourse_page_limit", self.page_size);
            if since > 0 {
                call = call.query("concourse_page_since", since);
            }
            let page: ConcoursePage<Build> = self.http.json(call).await?;
            let got = page.data.len();
            builds.extend(page.data);
            let next = page.pagination_concourse.next.since;
            if got == 0 || next == 0 {
                return Ok(builds);
            }
            if since > 0 && next >= since {
                // Older pages have smaller ids; anything else would loop forever.
                return Err(ClientError::Decode {
                    platform: PLATFORM,
                    operation: OPERATION,
                    message: format!(
                        "pagination_concourse.next.since: {next} after a page since {since}"
                    ),
                });
            }
            since = next;
        }
    }

    /// `createBuild`: starts a build of the job and returns it (pending while the pipeline or
    /// the job is paused). Never resent: a repeat is a second build. 409 when the job has
    /// `disable_manual_trigger`.
    pub async fn trigger_build(
        &self,
        at: &ComponentPath,
        pipeline: &str,
        job: &str,
    ) -> Result<Build, ClientError> {
        let path = self.org_path(&format!("{}/builds", at.job(pipeline, job)));
        self.data(post_empty("createBuild", path)).await
    }

    /// `getBuild`: None when the build or one of its parents does not exist.
    pub async fn get_build(
        &self,
        at: &ComponentPath,
        pipeline: &str,
        job: &str,
        build_id: u64,
    ) -> Result<Option<Build>, ClientError> {
        let path = self.org_path(&build_path(at, pipeline, job, build_id));
        self.optional(get("getBuild", path)).await
    }

    /// `abortBuild`: stops a pending or running build (it ends `aborted`); a finished build
    /// stays as it ended, so repeating it is harmless.
    pub async fn abort_build(
        &self,
        at: &ComponentPath,
        pipeline: &str,
        job: &str,
        build_id: u64,
    ) -> Result<(), ClientError> {
        let path = format!("{}/abort", build_path(at, pipeline, job, build_id));
        self.no_content(put_empty("abortBuild", self.org_path(&path)))
            .await
    }
}

/// `.../jobs/{job}/builds/{id}`.
fn build_path(at: &ComponentPath, pipeline: &str, job: &str, build_id: u64) -> String {
    format!("{}/builds/{build_id}", at.job(pipeline, job))
}
