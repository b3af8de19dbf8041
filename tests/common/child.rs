//! A real `converge run` process for tests that kill or outlive things: its own PID, its own
//! health port, its log in a file the test can show on failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct Controller {
    child: Child,
    pub health_port: u16,
    pub log: PathBuf,
}

impl Controller {
    /// Starts `converge run` against `kubeconfig`, scoped to `namespace`, with the `fail`
    /// crate's FAILPOINTS set to `failpoints` when given.
    pub fn start(
        kubeconfig: &Path,
        namespace: &str,
        failpoints: Option<&str>,
        log: PathBuf,
    ) -> Controller {
        // Free now, almost surely still free a moment later: /readyz needs a known port.
        let health_port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut c = Command::new(env!("CARGO_BIN_EXE_converge"));
        c.args([
            "run",
            "--health-addr",
            &format!("127.0.0.1:{health_port}"),
            "--namespace",
            namespace,
            "--shutdown-grace",
            "2s",
        ])
        .env("KUBECONFIG", kubeconfig)
        // CONVERGE_TEST_CHILD_LOG: a RUST_LOG for the child, to see more of it.
        .env(
            "RUST_LOG",
            std::env::var("CONVERGE_TEST_CHILD_LOG").unwrap_or_else(|_| "info".into()),
        )
        .env_remove("FAILPOINTS")
        .stdin(Stdio::null());
        let file = std::fs::File::create(&log).unwrap();
        c.stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        if let Some(f) = failpoints {
            c.env("FAILPOINTS", f);
        }
        Controller {
            child: c.spawn().unwrap(),
            health_port,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running (not exited, not reaped).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGKILL: no graceful shutdown, no chance to finish a status write.
    pub fn kill(&mut self) {
        // SAFETY: kill(2) on the PID of our own child, not yet reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// The HTTP status of /readyz (None: no answer).
    pub async fn readyz(&self) -> Option<u16> {
        reqwest::Client::new()
            .get(format!("http://127.0.0.1:{}/readyz", self.health_port))
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16())
    }

    /// The last `lines` lines of its log, for a failure message.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if self.alive() {
            self.kill();
        }
    }
}
