//! Sandboxes of the five platform APIs, faithful to `shared/platform-apis/`: same paths,
//! envelopes, validation, status codes and state machines. They are product: `converge sandbox`
//! serves them for people to try Converge and test manifests; tests embed them on port 0.
//!
//! Each platform lives in its own module and implements [`Platform`]; what every platform shares
//! (authentication, rate limits, injected faults, the call log, the admin surface under
//! `/_sandbox/`, snapshots) is here and in the sibling modules.

#![forbid(unsafe_code)]

pub mod admin;
pub mod all;
pub mod api7;
pub mod capture;
pub mod choreo;
pub mod cycloid;
pub mod frends;
pub mod ops;
pub mod opschain;
pub mod snapshot;
pub mod timing;
pub mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use ops::{Credential, Ops, OpsConfig};
pub use timing::Timing;

/// One platform's API: its routes, its error envelope, and its seed data.
pub trait Platform: Sized + Send + Sync + 'static {
    /// Lowercase name: choreo, cycloid, frends, api7, opschain. Also the snapshot key.
    const NAME: &'static str;
    /// A query parameter that carries an API key when the Authorization header is absent,
    /// for platforms that document one.
    const API_KEY_QUERY: Option<&'static str> = None;
    /// Everything the platform stores. Serialized for dumps and snapshots.
    type State: Default + Serialize + DeserializeOwned + Send + 'static;

    /// The platform's own paths, as its documentation gives them (with any base path such as
    /// `/api/v1`). Authentication, rate limiting and faults are applied around them.
    fn routes() -> Router<Sandbox<Self>>;

    /// Platform-specific routes of the admin surface (under `/_sandbox/`, such as API7's
    /// simulated traffic): no authentication, faults or recording, like the shared admin routes.
    fn admin_routes() -> Router<Sandbox<Self>> {
        Router::new()
    }

    /// The platform's error response for a status and message, in its documented envelope.
    /// Used by the shared layers (401/403, 429, 5xx) and by the platform's own handlers.
    fn error(status: StatusCode, message: &str) -> Response;

    /// Whether a credential is one this sandbox accepts (`accepted` comes from the options).
    /// The refusal is boxed: a response is large and acceptance is the common path.
    fn authenticate(
        credential: Option<&Credential>,
        accepted: &[Credential],
    ) -> Result<(), Box<Response>> {
        let refuse = |message| Err(Box::new(Self::error(StatusCode::UNAUTHORIZED, message)));
        match credential {
            None => refuse("authentication required"),
            Some(c) if accepted.contains(c) => Ok(()),
            Some(_) => refuse("invalid credentials"),
        }
    }

    /// Data a fresh sandbox starts with, so the examples work out of the box (Choreo
    /// environments, API7 organization and cluster, Frends agent groups, Cycloid config
    /// repositories, OpsChain project types...).
    fn default_seed(state: &mut Self::State);

    /// Adds seed data from the admin surface (`POST /_sandbox/seed`), in a shape the platform
    /// documents in its module. Returns a message for a 400 on bad input.
    fn seed(state: &mut Self::State, seed: serde_json::Value) -> Result<(), String>;
}

/// A running platform's shared handle: its state and the shared operability machinery.
/// Cheap to clone; every handler gets one as axum state.
pub struct Sandbox<P: Platform> {
    inner: Arc<Inner<P>>,
}

impl<P: Platform> Clone for Sandbox<P> {
    fn clone(&self) -> Self {
        Sandbox {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<P: Platform> {
    state: Mutex<P::State>,
    ops: Ops,
    timing: Timing,
    snapshot: Option<snapshot::SnapshotFile>,
    /// A stopped clock (tests only): `now` while set.
    clock: Mutex<Option<jiff::Timestamp>>,
}

impl<P: Platform> Sandbox<P> {
    pub fn new(ops: Ops, timing: Timing, snapshot: Option<snapshot::SnapshotFile>) -> Self {
        let state = match snapshot.as_ref().and_then(|s| s.load::<P::State>(P::NAME)) {
            Some(state) => state,
            None => {
                let mut state = P::State::default();
                P::default_seed(&mut state);
                state
            }
        };
        Sandbox {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                ops,
                timing,
                snapshot,
                clock: Mutex::new(None),
            }),
        }
    }

    /// Reads the state.
    pub fn read<R>(&self, f: impl FnOnce(&P::State) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the state, then saves the snapshot if there is one.
    pub fn write<R>(&self, f: impl FnOnce(&mut P::State) -> R) -> R {
        let mut guard = self.lock();
        let out = f(&mut guard);
        if let Some(s) = &self.inner.snapshot {
            s.save(P::NAME, &*guard);
        }
        out
    }

    fn lock(&self) -> MutexGuard<'_, P::State> {
        // A handler that panicked mid-write leaves state as it was at the panic; keep serving.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// State machine timing (instant in tests, seconds in demos).
    pub fn timing(&self) -> &Timing {
        &self.inner.timing
    }

    /// The current time, as the state machines see it: the wall clock, or the test's clock
    /// once [`Sandbox::stop_clock`] was called.
    pub fn now(&self) -> jiff::Timestamp {
        let stopped = *self.inner.clock.lock().unwrap_or_else(|e| e.into_inner());
        stopped.unwrap_or_else(jiff::Timestamp::now)
    }

    /// For tests of the state machines: time stands still from now on and moves only by
    /// [`Sandbox::advance`], so a state (a build pending, then in progress) is read while it
    /// lasts however slow the machine, instead of being caught in a window of wall time.
    pub fn stop_clock(&self) {
        let mut clock = self.inner.clock.lock().unwrap_or_else(|e| e.into_inner());
        clock.get_or_insert_with(jiff::Timestamp::now);
    }

    /// Moves a stopped clock forward by `by` (see [`Sandbox::stop_clock`]).
    pub fn advance(&self, by: std::time::Duration) {
        let mut clock = self.inner.clock.lock().unwrap_or_else(|e| e.into_inner());
        let now = clock.unwrap_or_else(jiff::Timestamp::now);
        let by = jiff::SignedDuration::try_from(by).unwrap_or(jiff::SignedDuration::MAX);
        *clock = Some(now.checked_add(by).unwrap_or(now));
    }

    /// Whether a build, run or step identified by `text` (a commit, branch, job, step name...)
    /// was marked to fail through `POST /_sandbox/failures`.
    pub fn should_fail(&self, text: &str) -> bool {
        self.inner.ops.should_fail(text)
    }

    /// Whether a build identified by `text` is held under way through `POST /_sandbox/holds`.
    pub fn should_hold(&self, text: &str) -> bool {
        self.inner.ops.should_hold(text)
    }

    pub fn ops(&self) -> &Ops {
        &self.inner.ops
    }

    /// Replaces the state with a fresh, seeded one.
    pub fn reset(&self) {
        self.write(|s| {
            *s = P::State::default();
            P::default_seed(s);
        });
    }
}

/// The platform's router with the shared layers and the admin surface.
pub fn app<P: Platform>(sandbox: Sandbox<P>) -> Router {
    let platform = P::routes().layer(axum::middleware::from_fn_with_state(
        sandbox.clone(),
        ops::layer::<P>,
    ));
    platform
        .merge(admin::routes::<P>())
        .merge(P::admin_routes())
        .with_state(sandbox)
}

/// A platform sandbox listening on a port.
pub struct Served {
    pub platform: &'static str,
    pub addr: SocketAddr,
    scheme: &'static str,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    /// The base URL, e.g. http://127.0.0.1:18101 (platform paths such as /api/v1 go after it).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one platform on `addr` (port 0 picks a free port).
pub async fn serve<P: Platform>(sandbox: Sandbox<P>, addr: SocketAddr) -> std::io::Result<Served> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let app = app(sandbox);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Served {
        platform: P::NAME,
        addr,
        scheme: "http",
        task,
    })
}

/// Serves one platform over HTTPS on `addr` with this certificate (see `tls`).
pub async fn serve_tls<P: Platform>(
    sandbox: Sandbox<P>,
    addr: SocketAddr,
    config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
) -> std::io::Result<Served> {
    let listener = tls::TlsListener::new(tokio::net::TcpListener::bind(addr).await?, config)?;
    let addr = axum::serve::Listener::local_addr(&listener)?;
    let app = app(sandbox);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Served {
        platform: P::NAME,
        addr,
        scheme: "https",
        task,
    })
}
