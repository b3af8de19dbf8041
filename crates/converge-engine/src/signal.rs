//! The end of a process: what `converge run`, `local` and the benchmark wait for.

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C). The handlers are
/// registered when this is called, not when it is first polled: a signal that arrives right
/// after the process says it is ready must not kill it with the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).expect("installing a SIGTERM handler cannot fail on Unix");
    let mut int =
        signal(SignalKind::interrupt()).expect("installing a SIGINT handler cannot fail on Unix");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
