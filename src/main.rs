use clap::Parser;
use converge::cli::{Cli, Command, LogFormat};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
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
        Command::Local { path } => {
            if !converge::local::run(&path)? {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
