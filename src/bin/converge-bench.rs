//! `converge-bench` (crates/converge-bench): a binary of its own, so that the benchmark's
//! process probes (the workspace's only `unsafe`) never ship in the controller.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    converge_bench::run(converge_bench::BenchArgs::parse()).await
}
