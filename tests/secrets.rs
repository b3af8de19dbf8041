//! No credential ever shows: a real `converge run` at debug level (text, then JSON logs)
//! converges an object of every kind on every platform with distinctive credentials, while
//! connections with a refused token (401) and a Secret with the token under the wrong key sit
//! beside them; then every line it printed, every Event in the namespace, every object's
//! status and every condition message are searched for each secret value, as text and in
//! base64. None may appear.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use common::controlplane;
use common::converge::{apply, connection_spec, install_crds, namespace, put_secret, wait_until};
use common::every_kind::everything;
use converge_sandbox::Credential;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use kube::core::{DynamicObject, GroupVersionKind};
use serde_json::{Value, json};

const NS: &str = "secrets-scan";
const KINDS: [&str; 6] = [
    "PlatformConnection",
    "Project",
    "Component",
    "ApiSpec",
    "GatewayApplication",
    "Workflow",
];

/// (platform, Secret data the sandbox accepts, the secret values in it).
fn accepted() -> Vec<(&'static str, Value, Vec<&'static str>)> {
    vec![
        (
            "choreo",
            json!({"token": "chor-7Qx2-secret-Lm9v"}),
            vec!["chor-7Qx2-secret-Lm9v"],
        ),
        (
            "cycloid",
            json!({"token": "cycl-4Rt8-secret-Kp3w"}),
            vec!["cycl-4Rt8-secret-Kp3w"],
        ),
        (
            "frends",
            json!({"token": "frnd-9Zc1-secret-Hs6y"}),
            vec!["frnd-9Zc1-secret-Hs6y"],
        ),
        (
            "api7",
            json!({"token": "apis-2Vb5-secret-Qe7u"}),
            vec!["apis-2Vb5-secret-Qe7u"],
        ),
        (
            "opschain",
            json!({"username": "scan-operator", "password": "opsc-8Nd3-secret-Wt1r"}),
            vec!["opsc-8Nd3-secret-Wt1r"],
        ),
    ]
}

const REFUSED: &str = "refu-6Yh4-secret-Gb2n";
const REFUSED_PASSWORD: &str = "refu-3Kf9-secret-Pw5d";
const MISPLACED: &str = "misp-1Jm7-secret-Ua8c";

fn every_secret() -> Vec<String> {
    let mut all: Vec<String> = accepted()
        .into_iter()
        .flat_map(|(_, _, s)| s)
        .map(String::from)
        .collect();
    all.extend([REFUSED, REFUSED_PASSWORD, MISPLACED].map(String::from));
    // The forms that could leak: as is, base64 (a Secret's data, a Basic header) and the
    // Basic header's user:password.
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = Vec::new();
    for s in &all {
        forms.push(s.clone());
        forms.push(b64.encode(s));
    }
    forms.push(b64.encode("scan-operator:opsc-8Nd3-secret-Wt1r"));
    forms.push(b64.encode(format!("scan-operator:{REFUSED_PASSWORD}")));
    forms
}

fn controller(kubeconfig: &std::path::Path, json_logs: bool, log: &std::path::Path) -> Child {
    let file = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_converge"))
        .args([
            "run",
            "--health-addr",
            "127.0.0.1:0",
            "--shutdown-grace",
            "2s",
        ])
        .args(["--namespace", NS])
        .env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "debug")
        .env(
            "CONVERGE_LOG_FORMAT",
            if json_logs { "json" } else { "text" },
        )
        .env_remove("FAILPOINTS")
        .stdin(Stdio::null())
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap()
}

fn stop(mut child: Child) {
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

async fn api(client: &kube::Client, kind: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("converge.dev", "v1alpha1", kind);
    let (ar, _) = kube::discovery::pinned_kind(client, &gvk).await.unwrap();
    Api::namespaced_with(client.clone(), NS, &ar)
}

fn ready(o: &DynamicObject) -> Option<String> {
    o.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| format!("{}/{}", c["status"], c["reason"]))
}

/// Waits until every object of every kind has a Ready condition that says `want` (or any
/// outcome when `want` is None) and returns them.
async fn settle(client: &kube::Client, names: &[(&str, &str, Option<&str>)]) {
    for (kind, name, want) in names {
        let api = api(client, kind).await;
        wait_until(&api, name, "settled", Duration::from_secs(90), |o| {
            ready(o).is_some_and(|r| want.is_none_or(|w| r.contains(w)))
        })
        .await;
    }
}

/// Everything Converge wrote where a person can read it: status (conditions included) of every
/// object, and every Event in the namespace.
async fn written(client: &kube::Client) -> String {
    let mut text = String::new();
    for kind in KINDS {
        for o in api(client, kind)
            .await
            .list(&ListParams::default())
            .await
            .unwrap()
        {
            text.push_str(&serde_json::to_string(&o.data["status"]).unwrap());
            text.push('\n');
        }
    }
    for e in Api::<Event>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        text.push_str(&serde_json::to_string(&e).unwrap());
        text.push('\n');
    }
    text
}

fn leaks(text: &str, secrets: &[String]) -> Vec<String> {
    secrets
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .cloned()
        .collect()
}

#[tokio::test]
async fn no_credential_appears_in_logs_events_status_or_errors() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let mut options = converge_sandbox::all::Options::ephemeral();
    for (platform, data, _) in accepted() {
        let credential = match platform {
            "opschain" => Credential::Basic {
                username: data["username"].as_str().unwrap().into(),
                password: data["password"].as_str().unwrap().into(),
            },
            _ => Credential::bearer(data["token"].as_str().unwrap()),
        };
        options.credentials.push((platform.to_string(), credential));
    }
    let sandboxes = converge_sandbox::all::Sandboxes::start(options)
        .await
        .unwrap();
    let endpoint = |platform: &str| {
        sandboxes
            .endpoints()
            .into_iter()
            .find(|e| e.0 == platform)
            .unwrap()
            .2
    };
    let client = cp.client().await.unwrap();
    namespace(&client, NS).await;
    let connection = |name: &str, platform: &str, secret: &str, extra: Value| {
        let mut spec = connection_spec(platform, &endpoint(platform), secret);
        common::converge::merge(&mut spec, extra);
        json!({"apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
               "metadata": {"name": name}, "spec": spec})
    };

    // The connections every object uses, with credentials the sandboxes accept.
    for (platform, data, _) in accepted() {
        let secret = format!("{platform}-credentials");
        put_secret(&client, NS, &secret, data).await;
        apply(
            &client,
            NS,
            connection(platform, platform, &secret, json!({})),
        )
        .await;
    }
    // Refused credentials (401 from the platform), token and Basic.
    put_secret(&client, NS, "refused-token", json!({"token": REFUSED})).await;
    apply(
        &client,
        NS,
        connection("refused-cycloid", "cycloid", "refused-token", json!({})),
    )
    .await;
    put_secret(
        &client,
        NS,
        "refused-basic",
        json!({"username": "scan-operator", "password": REFUSED_PASSWORD}),
    )
    .await;
    apply(
        &client,
        NS,
        connection("refused-opschain", "opschain", "refused-basic", json!({})),
    )
    .await;
    // The token under another key than the connection reads.
    put_secret(&client, NS, "misplaced", json!({"api-token": MISPLACED})).await;
    apply(
        &client,
        NS,
        connection("misplaced-api7", "api7", "misplaced", json!({})),
    )
    .await;
    let objects = everything("scan", "Delete");
    for o in &objects {
        apply(&client, NS, o.clone()).await;
    }
    // An object on a refused connection: it waits, and says so.
    let mut waiting = objects[3].clone();
    waiting["metadata"]["name"] = json!("on-refused");
    waiting["spec"]["connectionRef"]["name"] = json!("refused-opschain");
    waiting["spec"]["opschain"]["code"] = json!("scan_refused");
    apply(&client, NS, waiting).await;

    let mut expected: Vec<(&str, &str, Option<&str>)> = objects
        .iter()
        .map(|o| {
            (
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap(),
                Some("True"),
            )
        })
        .collect();
    expected.push(("Project", "on-refused", Some("WaitingForReference")));
    expected.push((
        "PlatformConnection",
        "refused-cycloid",
        Some("AuthenticationFailed"),
    ));
    expected.push((
        "PlatformConnection",
        "refused-opschain",
        Some("AuthenticationFailed"),
    ));
    expected.push((
        "PlatformConnection",
        "misplaced-api7",
        Some("CredentialsMissing"),
    ));

    let logs = tempfile::tempdir().unwrap();
    let secrets = every_secret();
    let mut printed = 0;
    for (round, json_logs) in [(1, false), (2, true)] {
        let log = logs.path().join(format!("run-{round}.log"));
        let child = controller(cp.kubeconfig(), json_logs, &log);
        settle(&client, &expected).await;
        // Round 2 starts on settled objects: rotate the refused token so the error path runs
        // again under JSON logs.
        if round == 2 {
            put_secret(
                &client,
                NS,
                "refused-token",
                json!({"token": format!("{REFUSED}-2")}),
            )
            .await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop(child);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("DEBUG") || text.contains("\"level\":\"DEBUG\""),
            "round {round} logged at debug level"
        );
        if json_logs {
            assert!(
                text.lines()
                    .all(|l| l.trim().is_empty() || l.starts_with('{')),
                "JSON lines"
            );
        }
        let found = leaks(&text, &secrets);
        assert!(
            found.is_empty(),
            "round {round}: the controller's output shows {} secret value(s)",
            found.len()
        );
        printed += text.lines().count();
    }
    let mut all_secrets = secrets.clone();
    let b64 = base64::engine::general_purpose::STANDARD;
    all_secrets.push(format!("{REFUSED}-2"));
    all_secrets.push(b64.encode(format!("{REFUSED}-2")));
    let text = written(&client).await;
    let found = leaks(&text, &all_secrets);
    assert!(
        found.is_empty(),
        "status or Events show {} secret value(s)",
        found.len()
    );
    // The scan can see them: the Secrets themselves hold every one (in base64).
    let stored: String = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), NS)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|s| serde_json::to_string(s).unwrap())
        .collect();
    let seen = leaks(&stored, &all_secrets).len();
    assert!(
        seen >= 9,
        "the scan finds the values where they are ({seen})"
    );
    // The refusals and the missing key are explained, without the values.
    for (name, words) in [
        ("refused-cycloid", "AuthenticationFailed"),
        ("misplaced-api7", "has no key \\\"token\\\""),
    ] {
        assert!(text.contains(words), "{name}: {words} not shown:\n{text}");
    }
    eprintln!(
        "scanned {printed} log lines, {} bytes of status and Events for {} secret forms: none found",
        text.len(),
        all_secrets.len()
    );
}
