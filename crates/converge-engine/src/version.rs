//! What this build is: the crate version and the git commit it was built from (`build.rs`).

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The short git commit, or "unknown" when built without a repository or build argument.
pub const COMMIT: &str = match option_env!("CONVERGE_GIT_COMMIT") {
    Some(c) => c,
    None => "unknown",
};

/// `converge version`'s line: "converge 0.1.0 (commit 1a2b3c4d5e6f)".
pub fn line() -> String {
    format!("converge {VERSION} (commit {COMMIT})")
}
