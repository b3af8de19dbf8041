//! The Cycloid client against the Cycloid sandbox over real HTTP: every operation, paging,
//! the platform's errors, retries, throttling, timeouts, malformed answers and redaction.

use std::time::{Duration, Instant};

use converge_platforms::cycloid::{
    BuildStatus, ComponentPath, CycloidClient, EventFilter, EventType, NewComponent,
    NewEnvironment, NewEvent, NewPipeline, NewProject, PipelineFilter, Severity, Tag,
    UpdateComponent, UpdateEnvironment, UpdatePipeline, UpdateProject,
};
use converge_platforms::{ClientError, ClientMetrics, HttpConfig, Secret};
use converge_sandbox::cycloid::Cycloid;
use converge_sandbox::{Credential, Ops, OpsConfig, Sandbox, Served, Timing};
use reqwest::Method;
use serde_json::{Value, json};

const KEY: &str = "sandbox-cycloid-api-key";
const ORG: &str = "acme";
const PIPELINE: &str = "billing-api-deploy";
const CONFIG: &str = "jobs:\n  - name: deploy\n    plan:\n      - task: deploy\n        params:\n          TAG: ((image_tag))\n  - name: smoke\n    plan:\n      - task: smoke\n  - name: locked\n    disable_manual_trigger: true\n    plan:\n      - task: noop\n";

struct Api {
    served: Served,
    admin: reqwest::Client,
}

impl Api {
    async fn start() -> Api {
        Api::accepting(vec![Credential::bearer(KEY)]).await
    }

    async fn accepting(accepted: Vec<Credential>) -> Api {
        let ops = Ops::new(OpsConfig {
            accepted,
            ..Default::default()
        });
        let served = converge_sandbox::serve(
            Sandbox::<Cycloid>::new(ops, Timing::INSTANT, None),
            "127.0.0.1:0".parse().unwrap(),
        )
        .await
        .unwrap();
        Api {
            served,
            admin: reqwest::Client::new(),
        }
    }

    /// Small retry delays so the tests stay fast.
    fn config(&self) -> HttpConfig {
        let mut config = CycloidClient::config(self.served.url());
        config.min_retry_delay = Duration::from_millis(10);
        config.max_retry_delay = Duration::from_secs(2);
        config.timeout = Duration::from_secs(5);
        config
    }

    fn client_with(&self, config: HttpConfig, key: &str, metrics: ClientMetrics) -> CycloidClient {
        CycloidClient::new(config, Secret::new(key), ORG, metrics).unwrap()
    }

    fn client(&self) -> CycloidClient {
        self.client_with(self.config(), KEY, ClientMetrics::default())
    }

    async fn admin(&self, method: Method, path: &str, body: Value) {
        let status = self
            .admin
            .request(method, format!("{}{path}", self.served.url()))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "{path}: {status}");
    }

    async fn faults(&self, faults: Value) {
        self.admin(Method::PUT, "/_sandbox/faults", faults).await;
    }
}

fn new_project(canonical: &str) -> NewProject {
    NewProject {
        canonical: canonical.into(),
        name: format!("Project {canonical}"),
        description: Some("Invoicing and payments".into()),
        owner: None,
        config_repository_canonical: "acme-config".into(),
        team_canonical: None,
        color: None,
        icon: None,
    }
}

fn vars(tag: &str) -> serde_json::Map<String, Value> {
    json!({"app": {"image": {"repository": "registry.acme.test/billing-api", "tag": tag}}})
        .as_object()
        .unwrap()
        .clone()
}

/// Project billing, environment staging, component billing-api with its (paused) pipeline.
async fn billing(client: &CycloidClient) -> ComponentPath {
    client
        .create_project(&new_project("billing"))
        .await
        .unwrap();
    client
        .create_environment(
            "billing",
            &NewEnvironment {
                canonical: "staging".into(),
                name: "Staging".into(),
                color: Some("blue".into()),
            },
        )
        .await
        .unwrap();
    client
        .create_component(
            "billing",
            "staging",
            &NewComponent {
                canonical: "billing-api".into(),
                name: "Billing API".into(),
                description: None,
                service_catalog_ref: "cycloidio:stack-docker".into(),
                use_case: "default".into(),
                cloud_provider_canonical: None,
                vars: Some(vars("1.4.2")),
            },
        )
        .await
        .unwrap();
    let at = ComponentPath::new("billing", "staging", "billing-api");
    client
        .create_pipeline(
            &at,
            &NewPipeline {
                pipeline_name: PIPELINE.into(),
                passed_config: CONFIG.into(),
                yaml_vars: Some("image_tag: \"1.4.2\"\n".into()),
                check_credentials: None,
            },
        )
        .await
        .unwrap();
    at
}

fn status_of(e: &ClientError) -> (u16, String) {
    match e {
        ClientError::Status {
            status, message, ..
        } => (*status, message.clone()),
        other => panic!("not a status error: {other:?}"),
    }
}

#[tokio::test]
async fn organization_and_config_repositories() {
    let api = Api::start().await;
    let client = api.client();

    let org = client.get_organization().await.unwrap();
    assert_eq!(
        (org.canonical.as_str(), org.name.as_str()),
        ("acme", "Acme")
    );
    assert_eq!(org.ci_team_name, "acme");

    let repos = client.list_config_repositories().await.unwrap();
    assert_eq!(repos.len(), 1);
    assert_eq!(repos[0].canonical, "acme-config");
    assert!(repos[0].default);
    assert_eq!(repos[0].branch.as_deref(), Some("main"));
    let repo = client.get_config_repository("acme-config").await.unwrap();
    assert_eq!(repo.unwrap().url, "git@github.com:acme/acme-config.git");
    assert_eq!(
        client.get_config_repository("other-config").await.unwrap(),
        None
    );
    assert_eq!(client.organization(), "acme");
}

#[tokio::test]
async fn projects_and_environments_span_pages_and_update_with_updated_at() {
    let api = Api::start().await;
    let metrics = ClientMetrics::default();
    let client = api
        .client_with(api.config(), KEY, metrics.clone())
        .with_page_size(2);

    for canonical in ["billing", "payments", "search"] {
        let created = client
            .create_project(&new_project(canonical))
            .await
            .unwrap();
        assert_eq!(created.canonical, canonical);
        assert_eq!(
            created.config_repository_canonical.as_deref(),
            Some("acme-config")
        );
        assert_eq!(created.owner.as_ref().unwrap().username, "admin");
    }
    let projects = client.list_projects().await.unwrap();
    let canonicals: Vec<&str> = projects.iter().map(|p| p.canonical.as_str()).collect();
    assert_eq!(canonicals, ["billing", "payments", "search"]);
    assert_eq!(
        metrics.count("cycloid", "getProjects", "200"),
        2,
        "two pages"
    );

    let duplicate = client
        .create_project(&new_project("billing"))
        .await
        .unwrap_err();
    let (status, message) = status_of(&duplicate);
    assert_eq!(status, 409);
    assert!(message.contains("AlreadyExists"), "{message}");
    assert!(
        message.contains(r#"project "billing" already exists"#),
        "{message}"
    );
    let invalid = client
        .create_project(&NewProject {
            config_repository_canonical: "nope-config".into(),
            ..new_project("orphan")
        })
        .await
        .unwrap_err();
    let (status, message) = status_of(&invalid);
    assert_eq!(status, 422);
    assert!(
        message.contains(r#"config repository "nope-config" not found"#),
        "{message}"
    );

    for (canonical, name) in [
        ("staging", "Staging"),
        ("prod", "Production"),
        ("dev", "Dev"),
    ] {
        let env = client
            .create_environment(
                "billing",
                &NewEnvironment {
                    canonical: canonical.into(),
                    name: name.into(),
                    color: Some("blue".into()),
                },
            )
            .await
            .unwrap();
        assert_eq!(env.name.as_deref(), Some(name));
    }
    let envs = client.list_environments("billing").await.unwrap();
    let canonicals: Vec<&str> = envs.iter().map(|e| e.canonical.as_str()).collect();
    assert_eq!(canonicals, ["staging", "prod", "dev"]);
    assert_eq!(metrics.count("cycloid", "getProjectEnvironments", "200"), 2);
    let updated = client
        .update_environment(
            "billing",
            "prod",
            &UpdateEnvironment {
                name: "Prod".into(),
                color: Some("red".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.name.as_deref(), updated.color.as_str()),
        (Some("Prod"), "red")
    );
    let prod = client
        .get_environment("billing", "prod")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prod.color, "red");
    assert_eq!(client.get_environment("billing", "qa").await.unwrap(), None);
    assert_eq!(client.get_environment("nope", "prod").await.unwrap(), None);

    let project = client.get_project("billing").await.unwrap().unwrap();
    let env_canonicals: Vec<&str> = project
        .environments
        .iter()
        .map(|e| e.canonical.as_str())
        .collect();
    assert_eq!(env_canonicals, ["staging", "prod", "dev"]);
    let stale = UpdateProject {
        updated_at: project.updated_at - 1,
        ..UpdateProject::from_current(&project)
    };
    let (status, message) = status_of(&client.update_project("billing", &stale).await.unwrap_err());
    assert_eq!(status, 409);
    assert!(message.contains("read it again"), "{message}");
    let change = UpdateProject {
        description: Some("Invoices only".into()),
        cloud_provider: Some("aws".into()),
        ..UpdateProject::from_current(&project)
    };
    let changed = client.update_project("billing", &change).await.unwrap();
    assert_eq!(changed.description, "Invoices only");
    assert_eq!(changed.cloud_provider.unwrap().canonical, "aws");
    assert_eq!(changed.name, project.name, "from_current keeps the rest");
    assert_eq!(changed.color, project.color);

    client.delete_environment("billing", "dev").await.unwrap();
    assert_eq!(
        client.get_environment("billing", "dev").await.unwrap(),
        None
    );
    client.delete_project("search").await.unwrap();
    assert_eq!(client.get_project("search").await.unwrap(), None);
    assert!(
        client
            .delete_project("search")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn components_and_pipelines() {
    let api = Api::start().await;
    let client = api.client();
    let at = billing(&client).await;

    let component = client.get_component(&at).await.unwrap().unwrap();
    assert_eq!(component.name, "Billing API");
    assert_eq!(
        component.service_catalog.reference,
        "cycloidio:stack-docker"
    );
    assert_eq!(component.use_case.as_deref(), Some("default"));
    assert!(component.is_configured);
    assert_eq!(
        (
            component.project.canonical.as_str(),
            component.environment.canonical.as_str()
        ),
        ("billing", "staging")
    );
    let listed = client.list_components("billing", "staging").await.unwrap();
    assert_eq!(listed, vec![component.clone()]);
    assert_eq!(
        client.get_component_config(&at).await.unwrap(),
        Some(vars("1.4.2"))
    );
    let updated = client
        .update_component(
            &at,
            &UpdateComponent {
                name: "Billing service".into(),
                description: Some("Invoices".into()),
                use_case: "default".into(),
                vars: Some(vars("1.5.0")),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.description.as_str()),
        ("Billing service", "Invoices")
    );
    assert_eq!(
        client.get_component_config(&at).await.unwrap(),
        Some(vars("1.5.0"))
    );
    let wrong_use_case = client
        .update_component(
            &at,
            &UpdateComponent {
                name: "Billing service".into(),
                description: None,
                use_case: "high-availability".into(),
                vars: None,
            },
        )
        .await
        .unwrap_err();
    let (status, message) = status_of(&wrong_use_case);
    assert_eq!(status, 422);
    assert!(
        message.contains("use_case in body should be one of [default]"),
        "{message}"
    );
    let missing = ComponentPath::new("billing", "staging", "worker");
    assert_eq!(client.get_component(&missing).await.unwrap(), None);
    assert_eq!(client.get_component_config(&missing).await.unwrap(), None);

    let pipeline = client.get_pipeline(&at, PIPELINE).await.unwrap().unwrap();
    assert!(pipeline.paused, "pipelines start paused");
    assert_eq!(pipeline.team_name, "acme");
    assert_eq!(pipeline.component.canonical, "billing-api");
    let jobs: Vec<&str> = pipeline.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(jobs, ["deploy", "smoke", "locked"]);
    let found = client.find_pipeline(PIPELINE).await.unwrap().unwrap();
    assert_eq!(found.id, pipeline.id);
    assert_eq!(found.project.canonical, "billing");
    assert_eq!(
        client.find_pipeline("billing-api-other").await.unwrap(),
        None
    );
    assert_eq!(
        client.get_pipeline(&at, "billing-api-other").await.unwrap(),
        None
    );

    let variables = client
        .get_pipeline_variables(&at, PIPELINE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(variables.yaml_vars, "image_tag: \"1.4.2\"\n");
    let config = client
        .get_pipeline_config(&at, PIPELINE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(config["jobs"][0]["plan"][0]["params"]["TAG"], "1.4.2");

    let update = UpdatePipeline {
        passed_config: CONFIG.into(),
        yaml_vars: Some("image_tag: \"1.5.0\"\n".into()),
        check_credentials: None,
    };
    let updated = client
        .update_pipeline(&at, PIPELINE, &update)
        .await
        .unwrap();
    assert!(updated.paused, "an update keeps the pause state");
    let config = client
        .get_pipeline_config(&at, PIPELINE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(config["jobs"][0]["plan"][0]["params"]["TAG"], "1.5.0");
    let broken = UpdatePipeline {
        passed_config: "jobs: [".into(),
        ..update.clone()
    };
    let (status, message) = status_of(
        &client
            .update_pipeline(&at, PIPELINE, &broken)
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 422);
    assert!(
        message.contains("passed_config in body: invalid YAML"),
        "{message}"
    );

    // Names are unique in the organization, not only in the component.
    client
        .create_environment(
            "billing",
            &NewEnvironment {
                canonical: "prod".into(),
                name: "Production".into(),
                color: None,
            },
        )
        .await
        .unwrap();
    let prod = ComponentPath::new("billing", "prod", "billing-api");
    client
        .create_component(
            "billing",
            "prod",
            &NewComponent {
                canonical: "billing-api".into(),
                name: "Billing API".into(),
                description: None,
                service_catalog_ref: "cycloidio:stack-docker".into(),
                use_case: "default".into(),
                cloud_provider_canonical: None,
                vars: None,
            },
        )
        .await
        .unwrap();
    let taken = client
        .create_pipeline(
            &prod,
            &NewPipeline {
                pipeline_name: PIPELINE.into(),
                passed_config: CONFIG.into(),
                yaml_vars: None,
                check_credentials: None,
            },
        )
        .await
        .unwrap_err();
    let (status, message) = status_of(&taken);
    assert_eq!(status, 409);
    assert!(
        message.contains("already exists in organization"),
        "{message}"
    );

    client.unpause_pipeline(&at, PIPELINE).await.unwrap();
    client.unpause_pipeline(&at, PIPELINE).await.unwrap();
    assert!(
        !client
            .get_pipeline(&at, PIPELINE)
            .await
            .unwrap()
            .unwrap()
            .paused
    );
    let unpaused = PipelineFilter {
        statuses: vec!["paused".into()],
        ..PipelineFilter::default()
    };
    assert!(
        client
            .list_organization_pipelines(&unpaused)
            .await
            .unwrap()
            .is_empty()
    );
    client.pause_pipeline(&at, PIPELINE).await.unwrap();
    let paused = client.list_organization_pipelines(&unpaused).await.unwrap();
    assert_eq!(paused.len(), 1);
    assert_eq!(paused[0].name, PIPELINE);
    let in_prod = PipelineFilter {
        environments: vec!["prod".into()],
        ..PipelineFilter::default()
    };
    assert!(
        client
            .list_organization_pipelines(&in_prod)
            .await
            .unwrap()
            .is_empty()
    );

    client.delete_pipeline(&at, PIPELINE).await.unwrap();
    assert_eq!(client.get_pipeline(&at, PIPELINE).await.unwrap(), None);
    client.delete_component(&at).await.unwrap();
    assert_eq!(client.get_component(&at).await.unwrap(), None);
    assert!(
        client
            .delete_component(&at)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn jobs_and_builds_walk_every_page() {
    let api = Api::start().await;
    let metrics = ClientMetrics::default();
    let client = api
        .client_with(api.config(), KEY, metrics.clone())
        .with_page_size(2);
    let at = billing(&client).await;

    let jobs = client.list_jobs(&at, PIPELINE).await.unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["deploy", "smoke", "locked"]);
    assert_eq!(metrics.count("cycloid", "getJobs", "200"), 2);
    assert!(jobs[2].disable_manual_trigger);

    // Paused pipeline: the build waits, pending, and can be aborted.
    let waiting = client.trigger_build(&at, PIPELINE, "deploy").await.unwrap();
    assert_eq!(waiting.status, BuildStatus::Pending);
    assert_eq!(waiting.name, "1");
    assert_eq!(waiting.job_name.as_deref(), Some("deploy"));
    let job = client
        .get_job(&at, PIPELINE, "deploy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.next_build.unwrap().id, waiting.id);
    client
        .abort_build(&at, PIPELINE, "deploy", waiting.id)
        .await
        .unwrap();
    let aborted = client
        .get_build(&at, PIPELINE, "deploy", waiting.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(aborted.status, BuildStatus::Aborted);
    assert!(aborted.status.is_final());

    client.unpause_pipeline(&at, PIPELINE).await.unwrap();
    let mut ids = vec![waiting.id];
    for _ in 0..4 {
        let build = client.trigger_build(&at, PIPELINE, "deploy").await.unwrap();
        assert_eq!(build.status, BuildStatus::Succeeded, "instant timing");
        ids.push(build.id);
    }
    let builds = client.list_builds(&at, PIPELINE, "deploy").await.unwrap();
    let listed: Vec<u64> = builds.iter().map(|b| b.id).collect();
    ids.reverse();
    assert_eq!(listed, ids, "every build, newest first");
    assert_eq!(
        metrics.count("cycloid", "getBuilds", "200"),
        3,
        "pages of 2, 2 and 1"
    );
    let job = client
        .get_job(&at, PIPELINE, "deploy")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.finished_build.unwrap().id, ids[0]);
    assert!(job.next_build.is_none());
    assert!(
        client
            .list_builds(&at, PIPELINE, "smoke")
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        client
            .get_build(&at, PIPELINE, "deploy", 999_999)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        client.get_job(&at, PIPELINE, "missing").await.unwrap(),
        None
    );
    let locked = client
        .trigger_build(&at, PIPELINE, "locked")
        .await
        .unwrap_err();
    let (status, message) = status_of(&locked);
    assert_eq!(status, 409);
    assert!(
        message.contains("manual triggering is disabled"),
        "{message}"
    );
}

#[tokio::test]
async fn events_are_sent_and_listed() {
    let api = Api::start().await;
    let client = api.client();
    let event = client
        .send_event(&NewEvent {
            kind: EventType::Custom,
            title: "Billing API deployed".into(),
            message: "Build 3 of billing-api-deploy succeeded".into(),
            severity: Severity::Info,
            tags: vec![Tag::new("team", "payments")],
            icon: None,
            color: Some("green".into()),
        })
        .await
        .unwrap();
    assert_eq!(event.kind, EventType::Custom);
    assert_eq!(event.title, "Billing API deployed");
    assert_eq!(event.tags, vec![Tag::new("team", "payments")]);
    assert_eq!(event.color.as_deref(), Some("green"));
    assert!(event.timestamp > 1_600_000_000_000, "milliseconds");

    let around = EventFilter {
        begin: event.timestamp - 1_000,
        end: event.timestamp + 1_000,
        types: vec![EventType::Custom],
        severities: vec![Severity::Info, Severity::Warn],
    };
    let listed = client.list_events(&around).await.unwrap();
    assert_eq!(listed, vec![event.clone()]);
    let other_type = EventFilter {
        types: vec![EventType::Aws],
        ..around.clone()
    };
    assert!(client.list_events(&other_type).await.unwrap().is_empty());

    let invalid = client
        .send_event(&NewEvent {
            kind: EventType::Custom,
            title: "t".into(),
            message: "m".into(),
            severity: Severity::Crit,
            tags: vec![],
            icon: None,
            color: Some("chartreuse".into()),
        })
        .await
        .unwrap_err();
    let (status, message) = status_of(&invalid);
    assert_eq!(status, 422);
    assert!(
        message.contains("color in body should be one of"),
        "{message}"
    );
}

#[tokio::test]
async fn wrong_keys_and_unknown_organizations() {
    let api = Api::start().await;
    let wrong = api.client_with(api.config(), "not-the-key", ClientMetrics::default());
    let e = wrong.get_organization().await.unwrap_err();
    assert!(e.is_unauthorized());
    assert_eq!(
        status_of(&e),
        (401, "Unauthenticated: invalid credentials".to_string())
    );

    let other = CycloidClient::new(
        api.config(),
        Secret::new(KEY),
        "globex",
        ClientMetrics::default(),
    )
    .unwrap();
    let e = other.get_organization().await.unwrap_err();
    assert!(e.is_not_found());
    assert!(!e.is_retryable());
    assert!(
        e.message().contains(r#"organization "globex" not found"#),
        "{e}"
    );

    // A rotated key applies to every clone.
    let clone = wrong.clone();
    wrong.set_api_key(Secret::new(KEY));
    assert_eq!(clone.get_organization().await.unwrap().canonical, "acme");
}

#[tokio::test]
async fn throttled_reads_wait_for_retry_after() {
    let api = Api::start().await;
    let metrics = ClientMetrics::default();
    let client = api.client_with(api.config(), KEY, metrics.clone());
    api.admin(
        Method::PUT,
        "/_sandbox/rate-limit",
        json!({"perSecond": 1, "burst": 1}),
    )
    .await;
    client.get_organization().await.unwrap();
    let started = Instant::now();
    let org = client.get_organization().await.unwrap();
    assert_eq!(org.canonical, "acme");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
    assert!(metrics.count("cycloid", "getOrg", "429") >= 1);
    api.admin(Method::DELETE, "/_sandbox/rate-limit", json!({}))
        .await;

    // A Retry-After beyond the client's longest wait is handed to the caller.
    api.faults(json!({"throttleRate": 1.0, "retryAfterSeconds": 30}))
        .await;
    let started = Instant::now();
    let e = client.list_projects().await.unwrap_err();
    assert_eq!(e.status(), Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert!(e.is_retryable());
    assert!(e.message().contains("RetryOperation"), "{e}");
    assert!(started.elapsed() < Duration::from_secs(2));
    api.faults(json!({})).await;
}

#[tokio::test]
async fn server_errors_are_retried_for_reads_only() {
    let api = Api::start().await;
    let metrics = ClientMetrics::default();
    let client = api.client_with(api.config(), KEY, metrics.clone());

    api.faults(json!({"failNext": 2})).await;
    assert_eq!(client.get_organization().await.unwrap().canonical, "acme");
    assert_eq!(metrics.count("cycloid", "getOrg", "503"), 2);
    assert_eq!(metrics.count("cycloid", "getOrg", "200"), 1);

    api.faults(json!({"failNext": 1})).await;
    let e = client
        .create_project(&new_project("billing"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert!(
        e.message().contains("service unavailable (injected)"),
        "{e}"
    );
    assert_eq!(metrics.count("cycloid", "createProject", "503"), 1);
    assert_eq!(
        metrics.count("cycloid", "createProject", "200"),
        0,
        "not resent"
    );
    assert_eq!(client.get_project("billing").await.unwrap(), None);

    api.faults(json!({"failNext": 1})).await;
    let at = ComponentPath::new("billing", "staging", "billing-api");
    assert_eq!(
        client
            .trigger_build(&at, PIPELINE, "deploy")
            .await
            .unwrap_err()
            .status(),
        Some(503)
    );
    assert_eq!(metrics.count("cycloid", "createBuild", "503"), 1);
    assert_eq!(
        metrics.count("cycloid", "createBuild", "404"),
        0,
        "not resent"
    );
}

#[tokio::test]
async fn slow_answers_time_out() {
    let api = Api::start().await;
    let mut config = api.config();
    config.timeout = Duration::from_millis(300);
    config.max_retries = 1;
    let client = api.client_with(config, KEY, ClientMetrics::default());
    api.faults(json!({"latencyMs": 1500})).await;
    let started = Instant::now();
    let e = client.get_organization().await.unwrap_err();
    assert!(
        matches!(e, ClientError::Transport { timeout: true, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn malformed_answers_are_decode_errors() {
    let api = Api::start().await;
    let client = api.client();
    api.faults(json!({"malformedRate": 1.0})).await;
    let e = client.get_organization().await.unwrap_err();
    assert!(matches!(e, ClientError::Decode { .. }), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("cycloid getOrg: unexpected response"),
        "{e}"
    );
    api.faults(json!({})).await;
    assert_eq!(client.get_organization().await.unwrap().canonical, "acme");
}

#[tokio::test]
async fn the_api_key_never_shows_in_errors() {
    const TOKEN: &str = "cyc-TOKEN-7f3a9c-distinctive";
    const WRONG: &str = "cyc-WRONG-41b7e2-distinctive";
    let api = Api::accepting(vec![Credential::bearer(TOKEN)]).await;
    let metrics = ClientMetrics::default();
    let client = api.client_with(api.config(), TOKEN, metrics.clone());
    let mut errors = Vec::new();

    errors.push(
        api.client_with(api.config(), WRONG, metrics.clone())
            .get_organization()
            .await
            .unwrap_err(),
    );
    errors.push(client.delete_project("missing").await.unwrap_err());
    errors.push(
        client
            .create_project(&NewProject {
                config_repository_canonical: "x".into(),
                ..new_project("billing")
            })
            .await
            .unwrap_err(),
    );
    api.faults(json!({"failNext": 1})).await;
    errors.push(
        client
            .create_project(&new_project("billing"))
            .await
            .unwrap_err(),
    );
    api.faults(json!({"malformedRate": 1.0})).await;
    errors.push(client.get_organization().await.unwrap_err());
    api.faults(json!({"latencyMs": 1000})).await;
    let mut slow = api.config();
    slow.timeout = Duration::from_millis(100);
    slow.max_retries = 0;
    errors.push(
        api.client_with(slow, TOKEN, metrics.clone())
            .get_organization()
            .await
            .unwrap_err(),
    );
    api.faults(json!({})).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut refused = CycloidClient::config(format!("http://{closed}"));
    refused.max_retries = 0;
    errors.push(
        api.client_with(refused, TOKEN, metrics.clone())
            .get_organization()
            .await
            .unwrap_err(),
    );

    let kinds: Vec<&str> = errors.iter().map(|e| e.metric_label()).collect();
    assert_eq!(
        kinds,
        [
            "unauthorized",
            "not_found",
            "client_error",
            "server_error",
            "decode",
            "timeout",
            "transport"
        ]
    );
    for e in &errors {
        for text in [format!("{e}"), format!("{e:?}")] {
            assert!(!text.contains(TOKEN) && !text.contains(WRONG), "{text}");
        }
    }
    let debug = format!("{client:?}");
    assert!(debug.contains("acme") && !debug.contains(TOKEN), "{debug}");
}
