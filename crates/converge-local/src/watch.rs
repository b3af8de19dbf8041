//! `converge local --watch`: one loop that listens to the files and to the objects at once.
//! An edit is read, admitted and loaded as soon as the editor is done writing (a short
//! debounce), whatever is converging at that moment — the first convergence included, a build
//! in progress or a canary in its pause: the controller sees the new generation at once. A
//! table is printed each time everything settles, so the table after a reload shows the state
//! after it. An edit the apiserver would refuse (a schema or CEL rule, an immutable field
//! changed) is refused with the same message and the last good state stays loaded.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::objects::{self, Id};
use super::session::{self, Session};
use super::{Desired, LocalArgs, print_table, read, report_sync_error};
use crate::manifests::Source;

/// Editors write a file in several steps; reload once they are done.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// File changes under a path, from the moment it is created.
pub struct Changes {
    rx: tokio::sync::mpsc::UnboundedReceiver<()>,
    _watcher: notify::RecommendedWatcher,
}

impl Changes {
    pub fn start(path: &Path) -> anyhow::Result<Changes> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                if res.is_ok_and(|e| !e.kind.is_access() && !e.kind.is_other()) {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(path, RecursiveMode::Recursive)?;
        Ok(Changes {
            rx,
            _watcher: watcher,
        })
    }

    /// The next change, once the writes around it are over.
    async fn next(&mut self) -> Option<()> {
        self.rx.recv().await?;
        tokio::time::sleep(DEBOUNCE).await;
        while self.rx.try_recv().is_ok() {}
        Some(())
    }
}

enum Step {
    Stop,
    Changed,
    Settled(bool),
}

/// Runs until a signal; returns whether every object was Ready at the last table.
pub async fn run(
    session: &mut Session,
    args: &LocalArgs,
    mut sources: BTreeMap<Id, Source>,
    mut changes: Changes,
    mut stop: Pin<Box<impl Future<Output = ()>>>,
) -> anyhow::Result<bool> {
    let endpoints = session
        .sandboxes
        .as_ref()
        .map(session::endpoints)
        .unwrap_or_default();
    println!(
        "watching {} for changes (Ctrl-C to stop)",
        args.path.display()
    );
    let mut settling = true;
    let mut all_ready = false;
    loop {
        let step = tokio::select! {
            _ = &mut stop => Step::Stop,
            Some(()) = changes.next() => Step::Changed,
            settled = session.settle(args.timeout), if settling => Step::Settled(settled),
        };
        match step {
            Step::Stop => {
                if settling {
                    println!("\ninterrupted");
                    all_ready = print_table(session);
                }
                return Ok(all_ready);
            }
            Step::Settled(settled) => {
                session.caught_up(Duration::from_secs(1)).await;
                if !settled {
                    println!("\nstill converging after {:?}", args.timeout);
                }
                all_ready = print_table(session);
                settling = false;
                println!(
                    "\nwatching {} for changes (Ctrl-C to stop)",
                    args.path.display()
                );
            }
            Step::Changed => {
                if reload(session, args, &endpoints, &mut sources) {
                    settling = true;
                }
            }
        }
    }
}

/// Reads, admits and loads the manifests again; whether anything changed.
fn reload(
    session: &mut Session,
    args: &LocalArgs,
    endpoints: &BTreeMap<String, String>,
    sources: &mut BTreeMap<Id, Source>,
) -> bool {
    let Desired {
        objects: mut desired,
        sources: new_sources,
    } = match read(&args.path, &args.namespace) {
        Ok(Some(d)) => d,
        Ok(None) => {
            println!(
                "{:>6.1}s  not reloaded: fix the manifests above; the last good ones stay in place",
                session.elapsed()
            );
            return false;
        }
        Err(e) => {
            println!(
                "{:>6.1}s  not reloaded: {e:#}; the last good manifests stay in place",
                session.elapsed()
            );
            return false;
        }
    };
    objects::point_at_sandboxes(&mut desired, endpoints);
    let synced = match session.sync(desired) {
        Ok(s) => s,
        Err(e) => {
            report_sync_error(&e, &new_sources);
            println!(
                "{:>6.1}s  not reloaded: the apiserver would refuse the change above; the last good manifests stay in place",
                session.elapsed()
            );
            return false;
        }
    };
    *sources = new_sources;
    if synced == session::Synced::default() {
        return false;
    }
    println!(
        "\n{:>6.1}s  reloaded {}: {} created, {} updated, {} deleted",
        session.elapsed(),
        args.path.display(),
        synced.created,
        synced.updated,
        synced.deleted
    );
    true
}
