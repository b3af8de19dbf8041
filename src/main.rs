use clap::Parser;
use converge::cli::{Cli, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // `local` and `plan` print their own progress; the controller's logs would bury it.
    let quiet = !matches!(cli.command, Command::Run(_) | Command::Sandbox(_));
    converge::logging::init(cli.log_format, if quiet { "warn" } else { "info" });
    match cli.command {
        Command::Crd { write } => {
            for crd in converge_api::crds::all() {
                let yaml = converge_api::crds::to_yaml(&crd)?;
                match &write {
                    Some(dir) => {
                        std::fs::write(dir.join(converge_api::crds::file_name(&crd)), yaml)?
                    }
                    None => print!("---\n{yaml}"),
                }
            }
        }
        Command::Run(args) => converge::controller::run(args).await?,
        Command::Sandbox(args) => {
            // Signals are registered before the sandboxes start serving.
            let stop = converge_engine::shutdown_signal();
            converge_sandbox::all::run(&args, stop).await?
        }
        Command::Local(args) => {
            if !user_facing(converge_local::run(args).await) {
                std::process::exit(1);
            }
        }
        Command::Plan(args) => {
            let detailed = args.exit_code;
            let code = user_facing(converge_local::plan::run(args).await).exit_code(detailed);
            if code != 0 {
                std::process::exit(code);
            }
        }
        Command::Version => println!("{}", converge_engine::version::line()),
        Command::Completion { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "converge", &mut std::io::stdout());
        }
    }
    Ok(())
}

/// `local` and `plan` report their errors as one line (the cause chain, no backtrace even with
/// RUST_BACKTRACE set) and exit 1, as they do when an object did not converge.
fn user_facing<T>(result: anyhow::Result<T>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
