//! `converge run` against a real apiserver: it names missing CRDs, serves health endpoints once
//! they are installed, and stops cleanly on SIGTERM.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn converge(kubeconfig: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_converge"));
    c.env("KUBECONFIG", kubeconfig)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn get(url: &str) -> Option<u16> {
    reqwest::get(url).await.ok().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn run_names_missing_crds_then_serves_health_and_stops_on_sigterm() {
    let cp = common::controlplane::shared().await;

    // Without CRDs: a clear error that names them and says how to install them.
    let out = converge(cp.kubeconfig())
        .args(["run", "--health-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for crd in converge_api::crds::all() {
        assert!(
            stderr.contains(crd.metadata.name.as_deref().unwrap()),
            "{stderr}"
        );
    }
    assert!(stderr.contains("kubectl apply -f crds/"), "{stderr}");

    // With CRDs: healthy and ready until SIGTERM, then a clean exit.
    let crds =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("crds");
    let o = cp
        .kubectl()
        .args(["apply", "--server-side", "-f", crds.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cp
        .kubectl()
        .args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd",
            "--all",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let port = free_port();
    let mut child = converge(cp.kubeconfig())
        .args([
            "run",
            "--health-addr",
            &format!("127.0.0.1:{port}"),
            "--shutdown-grace",
            "3s",
        ])
        .spawn()
        .unwrap();
    // Drain stderr while it runs: a full pipe would block the process's logging.
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("http://127.0.0.1:{port}/readyz")).await != Some(200) {
        assert!(Instant::now() < deadline, "/readyz never answered 200");
        assert!(
            child.try_wait().unwrap().is_none(),
            "converge run exited early"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        get(&format!("http://127.0.0.1:{port}/healthz")).await,
        Some(200)
    );

    // SAFETY: kill(2) on the PID of a child we spawned and have not yet reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "converge run ignored SIGTERM:\n{}",
                stderr_reader.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = stderr_reader.join().unwrap();
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");
}
