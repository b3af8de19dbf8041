//! `converge local`: converge a directory of manifests against the built-in sandboxes, with no
//! cluster and no accounts. The manifests are validated (schemas and the CRDs' CEL rules), the
//! connections are pointed at the sandboxes, and the objects are loaded into an embedded
//! apiserver that the unchanged controller reconciles: the same engine, watches, finalizers,
//! status and Events as in a cluster. Progress is printed as Events happen, then a table of
//! every object with its platform id and state. `--watch` keeps going and reloads on change.

#![forbid(unsafe_code)]

pub mod apiserver;
pub mod manifests;
pub mod objects;
pub mod plan;
pub mod report;
pub mod session;
pub mod validation;
mod watch;

use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

use crate::manifests::Source;
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
    #[arg(long, default_value = "5m", value_parser = converge_core::duration::parse)]
    pub timeout: Duration,
    /// Time each sandbox build, deployment or run spends in each intermediate state.
    #[arg(long, default_value = "1s", value_parser = converge_core::duration::parse)]
    pub step_delay: Duration,
}

/// Manifests read and admitted, ready to load.
pub struct Desired {
    /// In load order, as the apiserver would store them.
    pub objects: Vec<serde_json::Value>,
    /// Where each object was declared, to locate a refusal of an update.
    pub sources: BTreeMap<objects::Id, Source>,
}

/// Reads and admits the manifests under `path` as `kubectl apply` would, printing what was
/// skipped, warnings and every refusal (located: file, document, line). None when anything was
/// refused or nothing was found: nothing is loaded then.
pub fn read(path: &Path, namespace: &str) -> anyhow::Result<Option<Desired>> {
    let loaded = manifests::load(path, namespace)?;
    for s in &loaded.skipped {
        println!(
            "skipped {} at {}: converge local uses Converge's kinds, Secrets, ConfigMaps and Namespaces",
            s.what, s.source
        );
    }
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    for e in &loaded.errors {
        eprintln!("error: {e}");
    }
    if !loaded.is_ok() {
        eprintln!(
            "{} error(s) in {}: nothing was loaded",
            loaded.errors.len(),
            path.display()
        );
        return Ok(None);
    }
    if let Some(why) = loaded.nothing_found(path) {
        eprintln!("error: {why}");
        return Ok(None);
    }
    let sources = loaded
        .objects
        .iter()
        .map(|l| (objects::id(&l.object), l.source.clone()))
        .collect();
    Ok(Some(Desired {
        objects: objects::from_manifests(&loaded.objects),
        sources,
    }))
}

/// Runs `converge local`; returns whether every object ended Ready.
pub async fn run(args: LocalArgs) -> anyhow::Result<bool> {
    // Under --watch, files are watched before they are first read: an edit made while the
    // first convergence runs is never missed.
    let changes = if args.watch {
        Some(watch::Changes::start(&args.path)?)
    } else {
        None
    };
    let Some(Desired {
        objects: mut desired,
        sources,
    }) = read(&args.path, &args.namespace)?
    else {
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
    if let Err(e) = session.sync(desired) {
        report_sync_error(&e, &sources);
        session.stop(Duration::from_secs(5)).await;
        return Ok(false);
    }
    let progress = session.print_progress();
    let mut stop = Box::pin(converge_engine::shutdown_signal());
    let all_ready = match changes {
        Some(changes) => watch::run(&mut session, &args, sources, changes, stop).await?,
        None => {
            let settled = tokio::select! {
                settled = session.settle(args.timeout) => Some(settled),
                _ = &mut stop => None,
            };
            // The reconciles in flight finish, and every Event they wrote is printed, before
            // the table.
            session.stop_controller(Duration::from_secs(5)).await;
            session.caught_up(Duration::from_secs(2)).await;
            match settled {
                Some(false) => println!("\nstill converging after {:?}", args.timeout),
                None => println!("\ninterrupted"),
                Some(true) => {}
            }
            print_table(&session) && settled.is_some()
        }
    };
    progress.abort();
    session.stop(Duration::from_secs(5)).await;
    Ok(all_ready)
}

/// Prints why a load changed nothing: each refusal located in the manifests.
fn report_sync_error(e: &session::SyncError, sources: &BTreeMap<objects::Id, Source>) {
    match e {
        session::SyncError::Refused(refused) => {
            for (id, refusal) in refused {
                let what = format!("{}/{}", id.0, id.2);
                let mut located = manifests::Loaded::default();
                match sources.get(id) {
                    Some(source) => located.refused(source, &what, refusal),
                    None => located.errors.push(format!("{what}: {refusal}")),
                }
                for line in located.errors {
                    eprintln!("error: {line}");
                }
            }
        }
        session::SyncError::Other(e) => eprintln!("error: {e:#}"),
    }
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
