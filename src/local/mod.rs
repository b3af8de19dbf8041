//! `converge local`: converge a directory of manifests against the built-in sandboxes, with no
//! cluster and no accounts. The manifests are validated (schemas and the CRDs' CEL rules), the
//! connections are pointed at the sandboxes, and the objects are loaded into an embedded
//! apiserver that the unchanged controller reconciles: the same engine, watches, finalizers,
//! status and Events as in a cluster. Progress is printed as Events happen, then a table of
//! every object with its platform id and state. `--watch` keeps going and reloads on change.

pub mod apiserver;
pub mod objects;
pub mod plan;
pub mod report;
pub mod session;
mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifests::{self, Located};
use session::Session;

#[derive(clap::Args, Debug, Clone)]
pub struct LocalArgs {
    /// A manifest file or a directory of them (searched recursively).
    #[arg(short = 'f', long = "filename", default_value = "examples")]
    pub path: PathBuf,
    /// Namespace for manifests that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Keep running: reload when a file changes, and keep correcting drift.
    #[arg(long)]
    pub watch: bool,
    /// How long to wait for everything to settle (Ready, Stalled, or waiting for something
    /// that will not come) before printing the table anyway.
    #[arg(long, default_value = "5m", value_parser = crate::common::duration::parse)]
    pub timeout: Duration,
    /// Time each sandbox build, deployment or run spends in each intermediate state.
    #[arg(long, default_value = "1s", value_parser = crate::common::duration::parse)]
    pub step_delay: Duration,
}

/// Reads, validates and turns manifests into objects; None (after printing why) when any
/// manifest is invalid.
pub fn read(path: &Path, namespace: &str) -> anyhow::Result<Option<Vec<serde_json::Value>>> {
    let loaded: Vec<Located> = manifests::load(path)?;
    let mut problems = Vec::new();
    for l in &loaded {
        if let Err(errors) = l.manifest.validate() {
            for e in errors {
                problems.push(format!(
                    "{} ({}): {e}",
                    l.manifest.display_name(),
                    l.source.display()
                ));
            }
        }
    }
    for p in &problems {
        eprintln!("invalid: {p}");
    }
    if !problems.is_empty() {
        return Ok(None);
    }
    Ok(Some(objects::from_manifests(&loaded, namespace)))
}

/// Runs `converge local`; returns whether every object ended Ready.
pub async fn run(args: LocalArgs) -> anyhow::Result<bool> {
    let Some(mut desired) = read(&args.path, &args.namespace)? else {
        return Ok(false);
    };
    let sandboxes =
        session::start_sandboxes(args.step_delay, objects::credentials(&desired)).await?;
    let endpoints = session::endpoints(&sandboxes);
    for note in objects::point_at_sandboxes(&mut desired, &endpoints) {
        println!("connection {note}");
    }
    let count = desired
        .iter()
        .filter(|o| o["apiVersion"] == "converge.dev/v1alpha1")
        .count();
    println!(
        "converging {count} object(s) from {} with the built-in sandboxes (no cluster)\n",
        args.path.display()
    );
    let mut session = Session::start(Some(sandboxes), false).await?;
    session.sync(desired)?;
    let progress = session.print_progress();
    let mut stop = Box::pin(crate::controller::shutdown_signal());
    let all_ready = tokio::select! {
        settled = session.settle(args.timeout) => {
            if !settled {
                println!("\nstill converging after {:?}", args.timeout);
            }
            print_table(&session)
        }
        _ = &mut stop => {
            println!("\ninterrupted");
            print_table(&session);
            progress.abort();
            session.stop(Duration::from_secs(5)).await;
            return Ok(false);
        }
    };
    if args.watch {
        watch::run(&mut session, &args, stop).await?;
    }
    progress.abort();
    session.stop(Duration::from_secs(5)).await;
    Ok(all_ready)
}

/// Prints the table; returns whether every object is Ready.
fn print_table(session: &Session) -> bool {
    let objects = session.objects();
    println!("\n{}", report::table(&objects));
    let ready = objects.iter().filter(|o| report::state(o).ready).count();
    println!(
        "{ready}/{} Ready after {:.1}s",
        objects.len(),
        session.elapsed()
    );
    ready == objects.len()
}
