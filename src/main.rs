use clap::Parser;
use converge::cli::{Cli, Command, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // `local` and `plan` print their own progress; the controller's logs would bury it.
    let quiet = matches!(cli.command, Command::Local(_) | Command::Plan(_));
    init_logging(cli.log_format, if quiet { "warn" } else { "info" });
    match cli.command {
        Command::Crd { write } => {
            for crd in converge::crds::all() {
                let yaml = converge::crds::to_yaml(&crd)?;
                match &write {
                    Some(dir) => std::fs::write(dir.join(converge::crds::file_name(&crd)), yaml)?,
                    None => print!("---\n{yaml}"),
                }
            }
        }
        Command::Run(args) => converge::controller::run(args).await?,
        Command::Sandbox(args) => converge::sandbox::all::run(&args).await?,
        Command::Bench(args) => converge::bench::run(args).await?,
        Command::Local(args) => user_facing(converge::local::run(args).await),
        Command::Plan(args) => user_facing(converge::local::plan::run(args).await),
    }
    Ok(())
}

/// `local` and `plan` report their errors as one line (the cause chain, no backtrace even with
/// RUST_BACKTRACE set) and exit 1, as they do when an object did not converge.
fn user_facing(result: anyhow::Result<bool>) {
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
