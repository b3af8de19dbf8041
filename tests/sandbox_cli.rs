//! `converge sandbox` as a person runs it: five platforms on their own ports, printed at start,
//! the examples' credentials accepted, state kept in a snapshot across a restart, and a clean
//! stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running {
    child: Child,
    urls: Vec<(String, String)>,
}

impl Running {
    fn url(&self, platform: &str) -> &str {
        &self.urls.iter().find(|(p, _)| p == platform).unwrap().1
    }

    /// SIGTERM by PID, then wait for the exit status.
    fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on the PID of our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "converge sandbox ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn start(extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_converge"))
        .args(["sandbox", "--step-delay", "0"])
        .args([
            "--choreo-port",
            "0",
            "--cycloid-port",
            "0",
            "--frends-port",
            "0",
            "--api7-port",
            "0",
            "--opschain-port",
            "0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut urls = Vec::new();
    for _ in 0..5 {
        let line = lines.next().expect("a line per platform").unwrap();
        let mut words = line.split_whitespace();
        let platform = words.next().unwrap().to_string();
        let admin = line
            .rsplit_once("admin: ")
            .unwrap()
            .1
            .trim_end_matches("/_sandbox/")
            .to_string();
        urls.push((platform, admin));
    }
    Running { child, urls }
}

#[tokio::test]
async fn serves_all_five_platforms_with_the_example_credentials() {
    let sb = start(&[]);
    let http = reqwest::Client::new();
    for (platform, url) in &sb.urls {
        let info: serde_json::Value = http
            .get(format!("{url}/_sandbox/info"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["platform"], platform.as_str());
    }
    let choreo = http
        .get(format!("{}/api/v1/organizations", sb.url("choreo")))
        .bearer_auth("sandbox-choreo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(choreo.status(), 200);
    let cycloid = http
        .get(format!("{}/organizations/acme/projects", sb.url("cycloid")))
        .bearer_auth("sandbox-cycloid-api-key")
        .send()
        .await
        .unwrap();
    assert_eq!(cycloid.status(), 200);
    let frends = http
        .get(format!(
            "{}/api/v1/api-management/api-specifications",
            sb.url("frends")
        ))
        .bearer_auth("sandbox-frends-token")
        .send()
        .await
        .unwrap();
    assert_eq!(frends.status(), 200);
    let api7 = http
        .get(format!("{}/api/v1/user/me", sb.url("api7")))
        .bearer_auth("sandbox-api7-token")
        .send()
        .await
        .unwrap();
    assert_eq!(api7.status(), 200);
    let opschain = http
        .get(format!("{}/api/info", sb.url("opschain")))
        .basic_auth("sandbox-user", Some("sandbox-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(opschain.status(), 200);
    let anonymous = http
        .get(format!("{}/api/info", sb.url("opschain")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let status = sb.stop();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_snapshot_keeps_state_across_a_restart_and_credentials_can_be_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("state.json");
    let snapshot = snapshot.to_str().unwrap();
    let http = reqwest::Client::new();
    let sb = start(&[
        "--snapshot",
        snapshot,
        "--credential",
        "choreo=my-own-token",
    ]);
    let old = http
        .get(format!("{}/api/v1/organizations", sb.url("choreo")))
        .bearer_auth("sandbox-choreo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401, "--credential replaces the default");
    let created = http
        .post(format!(
            "{}/api/v1/organizations/acme/projects",
            sb.url("choreo")
        ))
        .bearer_auth("my-own-token")
        .json(&serde_json::json!({"name": "survivor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let status = sb.stop();
    assert!(status.success(), "{status:?}");

    let sb = start(&[
        "--snapshot",
        snapshot,
        "--credential",
        "choreo=my-own-token",
    ]);
    let projects: serde_json::Value = http
        .get(format!(
            "{}/api/v1/organizations/acme/projects",
            sb.url("choreo")
        ))
        .bearer_auth("my-own-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = projects["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["survivor"]);
    let status = sb.stop();
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_converge"))
        .args(["sandbox", "--error-rate", "1.5"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "invalid value '1.5' for '--error-rate <ERROR_RATE>': \"1.5\" is not a share from 0 to 1"
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_converge"))
        .args(["sandbox", "--credential", "gitlab=x"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown platform \"gitlab\""));
}
