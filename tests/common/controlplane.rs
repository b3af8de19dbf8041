//! A real Kubernetes v1.37 control plane for integration tests: kube-apiserver with embedded
//! etcd plus kube-controller-manager (namespace deletion, garbage collection, ServiceAccounts),
//! and the matching kubectl and helm. Built from Kubernetes' Go modules by
//! `tests/controlplane/build.sh` (cached outside the checkout; the first build takes minutes).
//!
//! ```ignore
//! let cp = common::controlplane::shared().await;   // one per test binary; isolate by namespace
//! let client = cp.client().await?;                  // build a client per test (per runtime)
//! let out = cp.kubectl().args(["get", "ns"]).output()?;
//! ```
//!
//! Environment:
//! - `CONVERGE_TESTPLANE_BIN_DIR`: use this bin dir (with `testplane`, `kubectl`, `helm`)
//!   instead of running build.sh.
//! - `CONVERGE_TESTPLANE_TIMEOUT`: seconds to wait for the control plane (default 120).
//! - `CONVERGE_TESTPLANE_KEEP=1`: keep the control plane's directory (logs, etcd data) after
//!   it stops, and print where it is.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

pub struct ControlPlane {
    child: Option<Child>,
    /// Our end of testplane's stdin: the process stops when it closes, so a control plane can
    /// never outlive the test process, even one held in a static (statics never drop).
    stdin: Option<ChildStdin>,
    dir: Option<tempfile::TempDir>,
    dir_path: PathBuf,
    kubeconfig: PathBuf,
    bin_dir: PathBuf,
    server: String,
}

impl ControlPlane {
    /// Builds (or finds) the binaries and starts a fresh control plane; waits until it is ready.
    /// Blocking work runs on tokio's blocking pool, so this is safe on a current-thread runtime.
    pub async fn start() -> anyhow::Result<ControlPlane> {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .context("control plane start task")?
    }

    /// Synchronous form of [`ControlPlane::start`], for use outside an async context.
    pub fn start_blocking() -> anyhow::Result<ControlPlane> {
        let bin_dir = bin_dir()?;
        let timeout = std::env::var("CONVERGE_TESTPLANE_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(120));
        let keep = std::env::var_os("CONVERGE_TESTPLANE_KEEP").is_some_and(|v| v == "1");

        let dir = tempfile::Builder::new()
            .prefix("converge-testplane-")
            .tempdir()
            .context("creating temp dir")?;
        let dir_path = dir.path().to_path_buf();
        let stderr_path = dir_path.join("testplane.stderr");
        let stderr = File::create(&stderr_path).context("creating testplane.stderr")?;

        let mut cmd = Command::new(bin_dir.join("testplane"));
        cmd.arg("up")
            .arg("--dir")
            .arg(&dir_path)
            .arg(format!("--timeout={}s", timeout.as_secs()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        if !keep {
            // testplane deletes its directory itself after a clean stop: needed for the shared
            // control plane, whose TempDir (in a static) is never dropped.
            cmd.arg("--remove-dir-on-exit");
        }
        let started = Instant::now();
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {}", bin_dir.join("testplane").display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");

        // Read stdout on a plain thread (no dependency on any tokio runtime), hand over the
        // READY line, then keep draining so testplane never writes into a closed pipe.
        let (tx, rx) = mpsc::channel::<Result<String, String>>();
        std::thread::Builder::new()
            .name("testplane-stdout".into())
            .spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stdout).lines() {
                    match line {
                        Ok(line) if line.starts_with("READY ") => {
                            if let Some(tx) = tx.take() {
                                let _ = tx.send(Ok(line));
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            if let Some(tx) = tx.take() {
                                let _ = tx.send(Err(format!("reading testplane stdout: {e}")));
                            }
                            return;
                        }
                    }
                }
                if let Some(tx) = tx.take() {
                    let _ = tx.send(Err(
                        "testplane closed its stdout before printing READY".into()
                    ));
                }
            })
            .context("spawning stdout reader thread")?;

        let mut cp = ControlPlane {
            child: Some(child),
            stdin,
            dir: Some(dir),
            dir_path: dir_path.clone(),
            kubeconfig: PathBuf::new(),
            bin_dir,
            server: String::new(),
        };
        // testplane has its own --timeout; allow a little more before giving up on it here.
        let outcome = match rx.recv_timeout(timeout + Duration::from_secs(15)) {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no READY line within {}s", timeout.as_secs() + 15)),
        };
        match outcome {
            Ok(line) => {
                let mut parts = line.split_whitespace().skip(1);
                let (Some(server), Some(kubeconfig)) = (parts.next(), parts.next()) else {
                    let diag = cp.diagnostics();
                    cp.stop();
                    bail!("unexpected READY line {line:?}\n{diag}");
                };
                cp.server = server.to_string();
                cp.kubeconfig = PathBuf::from(kubeconfig);
                if keep {
                    let dir = cp.dir.take().expect("dir is set").keep();
                    eprintln!("controlplane: keeping {}", dir.display());
                }
                eprintln!(
                    "controlplane: {} ready in {:.1}s",
                    cp.server,
                    started.elapsed().as_secs_f64()
                );
                Ok(cp)
            }
            Err(why) => {
                // Stop first so testplane's stderr is complete, then report with the logs.
                cp.stop();
                let diag = cp.diagnostics();
                if keep {
                    let _ = cp.dir.take().map(|d| d.keep());
                }
                Err(anyhow!("test control plane failed to start: {why}\n{diag}"))
            }
        }
    }

    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The apiserver URL, `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.server
    }

    /// The control plane's working directory (kubeconfig, pki/, *.log, etcd/).
    pub fn dir(&self) -> &Path {
        &self.dir_path
    }

    /// A new client for the current tokio runtime (clients must not cross runtimes, and each
    /// `#[tokio::test]` has its own).
    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        kube::Client::try_from(self.config().await?).context("building kube client")
    }

    /// A client that impersonates `user` (admin credentials + `Impersonate-User`), e.g.
    /// `"system:serviceaccount:NS:NAME"` to act with exactly a ServiceAccount's RBAC rights
    /// (for a ServiceAccount the apiserver adds its groups when `groups` is empty).
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> anyhow::Result<kube::Client> {
        let mut config = self.config().await?;
        config.auth_info.impersonate = Some(user.to_string());
        if !groups.is_empty() {
            config.auth_info.impersonate_groups =
                Some(groups.iter().map(|g| g.to_string()).collect());
        }
        kube::Client::try_from(config).context("building impersonating kube client")
    }

    /// The admin `kube::Config` for this control plane.
    pub async fn config(&self) -> anyhow::Result<kube::Config> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .with_context(|| format!("reading {}", self.kubeconfig.display()))?;
        kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .context("loading kubeconfig")
    }

    /// The built kubectl, pointed at this control plane (admin credentials), isolated from the
    /// user's ~/.kube.
    pub fn kubectl(&self) -> Command {
        let mut c = Command::new(self.bin_dir.join("kubectl"));
        c.arg(format!("--kubeconfig={}", self.kubeconfig.display()))
            .arg(format!(
                "--cache-dir={}",
                self.dir_path.join("kubectl-cache").display()
            ))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBERC", "off");
        c
    }

    /// The built helm, pointed at this control plane, with its cache/config/data dirs inside the
    /// control plane's directory.
    pub fn helm(&self) -> Command {
        let mut c = Command::new(self.bin_dir.join("helm"));
        let h = self.dir_path.join("helm");
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HELM_CACHE_HOME", h.join("cache"))
            .env("HELM_CONFIG_HOME", h.join("config"))
            .env("HELM_DATA_HOME", h.join("data"))
            .env_remove("HELM_KUBECONTEXT")
            .env_remove("HELM_NAMESPACE")
            .env_remove("HELM_KUBEAPISERVER")
            .env_remove("HELM_KUBETOKEN");
        c
    }

    /// The PID of the running kube-apiserver (None while it is stopped).
    pub fn apiserver_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir_path.join("apiserver.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Stops kube-apiserver (SIGTERM) and leaves it down; etcd and the controller-manager keep
    /// running, so everything stored survives. Use a control plane of the test's own
    /// ([`ControlPlane::start`]): every client of it loses the apiserver.
    pub fn stop_apiserver(&self) -> anyhow::Result<()> {
        self.signal_testplane(libc::SIGUSR1)?;
        self.wait_apiserver("stop", Duration::from_secs(30), |pid| pid.is_none())
    }

    /// Starts kube-apiserver again on the same port, and waits until its /readyz is OK.
    pub fn start_apiserver(&self) -> anyhow::Result<()> {
        self.signal_testplane(libc::SIGUSR2)?;
        self.wait_apiserver("start", Duration::from_secs(120), |pid| pid.is_some())
    }

    fn signal_testplane(&self, signal: libc::c_int) -> anyhow::Result<()> {
        let child = self
            .child
            .as_ref()
            .context("the control plane is stopped")?;
        // SAFETY: kill(2) on the PID of our own child, not yet reaped.
        if unsafe { libc::kill(child.id() as libc::pid_t, signal) } != 0 {
            bail!("signalling testplane: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    fn wait_apiserver(
        &self,
        what: &str,
        timeout: Duration,
        done: impl Fn(Option<u32>) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while !done(self.apiserver_pid()) {
            if Instant::now() >= deadline {
                bail!(
                    "kube-apiserver did not {what} within {timeout:?}\n{}",
                    self.diagnostics()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Stops the control plane: SIGTERM, up to 10s for a clean shutdown, then SIGKILL.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if matches!(child.try_wait(), Ok(None)) {
                // SAFETY: kill(2) on the PID of a child we have not yet reaped.
                unsafe {
                    libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
                }
                let deadline = Instant::now() + Duration::from_secs(10);
                while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if matches!(child.try_wait(), Ok(None)) {
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
        }
        self.stdin.take();
    }

    /// testplane's stderr and the tails of the component logs, for error messages.
    fn diagnostics(&self) -> String {
        let mut out = format!("control plane dir: {}\n", self.dir_path.display());
        for (name, lines) in [
            ("testplane.stderr", 40),
            ("up.log", 20),
            ("apiserver.log", 40),
            ("kcm.log", 30),
            ("etcd.log", 10),
        ] {
            let path = self.dir_path.join(name);
            if let Ok(text) = std::fs::read_to_string(&path) {
                let all: Vec<&str> = text.lines().collect();
                let start = all.len().saturating_sub(lines);
                out.push_str(&format!(
                    "--- {name} (last {} lines) ---\n",
                    all.len() - start
                ));
                for l in &all[start..] {
                    out.push_str(l);
                    out.push('\n');
                }
            }
        }
        out
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One control plane per test binary, started on first use and shared by all its tests (tests
/// isolate by namespace). It stops when the test process exits (testplane sees EOF on stdin).
/// A startup failure is remembered, so every test reports it without retrying.
pub async fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();
    let res = tokio::task::spawn_blocking(|| {
        SHARED.get_or_init(|| ControlPlane::start_blocking().map_err(|e| format!("{e:#}")))
    })
    .await
    .expect("control plane start task panicked");
    match res {
        Ok(cp) => cp,
        Err(e) => panic!("shared test control plane is unavailable: {e}"),
    }
}

/// The directory with `testplane`, `kubectl` and `helm`: `$CONVERGE_TESTPLANE_BIN_DIR`, or the
/// last line printed by `tests/controlplane/build.sh` (which builds once, then only looks up).
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    static BIN_DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN_DIR
        .get_or_init(|| find_or_build().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn find_or_build() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CONVERGE_TESTPLANE_BIN_DIR") {
        let dir = PathBuf::from(dir);
        if !dir.join("testplane").is_file() {
            bail!(
                "CONVERGE_TESTPLANE_BIN_DIR={} has no testplane binary",
                dir.display()
            );
        }
        return Ok(dir);
    }
    let script =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"))
            .join("tests/controlplane/build.sh");
    // build.sh reports progress on stderr (inherited: a cold build takes minutes, so show it)
    // and prints the bin dir as its last stdout line.
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed with {}", script.display(), out.status);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let dir = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| PathBuf::from(l.trim()))
        .ok_or_else(|| anyhow!("{} printed no bin dir", script.display()))?;
    if !dir.join("testplane").is_file() {
        bail!(
            "{} printed {}, which has no testplane binary",
            script.display(),
            dir.display()
        );
    }
    Ok(dir)
}
