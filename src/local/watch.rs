//! `converge local --watch`: reload the manifests whenever a file under the path changes, and
//! keep the controller running (drift checks included) until a signal.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use super::session::{self, Session};
use super::{LocalArgs, objects, print_table, read};

/// Editors write a file in several steps; reload once they are done.
const DEBOUNCE: Duration = Duration::from_millis(300);

pub async fn run(
    session: &mut Session,
    args: &LocalArgs,
    mut stop: Pin<Box<impl Future<Output = ()>>>,
) -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if res.is_ok_and(|e| !e.kind.is_access() && !e.kind.is_other()) {
            let _ = tx.send(());
        }
    })?;
    watcher.watch(&args.path, RecursiveMode::Recursive)?;
    let endpoints = session
        .sandboxes
        .as_ref()
        .map(session::endpoints)
        .unwrap_or_default();
    println!(
        "\nwatching {} for changes (Ctrl-C to stop)",
        args.path.display()
    );
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(()),
            Some(()) = rx.recv() => {}
        }
        tokio::time::sleep(DEBOUNCE).await;
        while rx.try_recv().is_ok() {}
        let mut desired = match read(&args.path, &args.namespace) {
            Ok(Some(d)) => d,
            Ok(None) => {
                println!("not reloaded: fix the manifests above; the last good ones stay in place");
                continue;
            }
            Err(e) => {
                println!("not reloaded: {e:#}");
                continue;
            }
        };
        objects::point_at_sandboxes(&mut desired, &endpoints);
        let synced = match session.sync(desired) {
            Ok(s) => s,
            Err(e) => {
                println!("not reloaded: {e:#}");
                continue;
            }
        };
        if synced == session::Synced::default() {
            continue;
        }
        println!(
            "\n{:>6.1}s  reloaded {}: {} created, {} updated, {} deleted",
            session.elapsed(),
            args.path.display(),
            synced.created,
            synced.updated,
            synced.deleted
        );
        tokio::select! {
            _ = &mut stop => return Ok(()),
            settled = session.settle(args.timeout) => {
                if !settled {
                    println!("\nstill converging after {:?}", args.timeout);
                }
                print_table(session);
            }
        }
    }
}
