//! Records the git commit this binary is built from, for `converge version` and the
//! `converge_build_info` metric. Without a repository (the Dockerfile's build context holds no
//! .git) the commit comes from CONVERGE_GIT_COMMIT (`docker build --build-arg`), else "unknown".

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CONVERGE_GIT_COMMIT");
    let commit = std::env::var("CONVERGE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            // Rebuild when HEAD moves: HEAD itself, the branch it names, and packed refs.
            let dir = git(&["rev-parse", "--git-dir"])?;
            let dir = Path::new(&dir);
            let mut watched = vec![dir.join("HEAD"), dir.join("packed-refs")];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(dir.join(branch));
            }
            for path in watched.iter().filter(|p| p.exists()) {
                println!("cargo:rerun-if-changed={}", path.display());
            }
            git(&["rev-parse", "--short=12", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CONVERGE_GIT_COMMIT={commit}");
}
