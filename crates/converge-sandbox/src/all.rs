//! Starting all five sandboxes at once: `converge sandbox`, `converge local` and the tests.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use super::api7::Api7;
use super::choreo::Choreo;
use super::cycloid::Cycloid;
use super::frends::Frends;
use super::ops::{Faults, RateLimit};
use super::opschain::OpsChain;
use super::snapshot::SnapshotFile;
use super::{Credential, Ops, OpsConfig, Platform, Sandbox, Served, Timing, serve, serve_tls};

/// The credentials each sandbox accepts unless told otherwise: the placeholders in `examples/`.
pub fn default_credentials(platform: &str) -> Vec<Credential> {
    match platform {
        "choreo" => vec![Credential::bearer("sandbox-choreo-token")],
        "cycloid" => vec![Credential::bearer("sandbox-cycloid-api-key")],
        "frends" => vec![Credential::bearer("sandbox-frends-token")],
        "api7" => vec![Credential::bearer("sandbox-api7-token")],
        "opschain" => vec![
            Credential::basic("sandbox-user", "sandbox-password"),
            Credential::bearer("sandbox-opschain-token"),
        ],
        _ => vec![],
    }
}

/// The ports `converge sandbox` uses by default; `examples/` point at them.
pub const DEFAULT_PORTS: [(&str, u16); 5] = [
    ("choreo", 18101),
    ("cycloid", 18102),
    ("frends", 18103),
    ("api7", 18104),
    ("opschain", 18105),
];

/// How to start the sandboxes.
#[derive(Clone, Debug)]
pub struct Options {
    pub bind: IpAddr,
    /// Port per platform (0 picks a free one).
    pub ports: [(&'static str, u16); 5],
    pub timing: Timing,
    pub rate_limit: Option<RateLimit>,
    pub faults: Faults,
    pub snapshot: Option<PathBuf>,
    /// Replaces the default credentials of the platforms it names.
    pub credentials: Vec<(String, Credential)>,
    /// Serve HTTPS with this certificate instead of plain HTTP.
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
}

impl Options {
    /// For tests: free loopback ports, instant state machines, no limits, no faults.
    pub fn ephemeral() -> Self {
        Options {
            bind: IpAddr::from([127, 0, 0, 1]),
            ports: DEFAULT_PORTS.map(|(p, _)| (p, 0)),
            timing: Timing::INSTANT,
            rate_limit: None,
            faults: Faults::default(),
            snapshot: None,
            credentials: vec![],
            tls: None,
        }
    }

    fn port(&self, platform: &str) -> u16 {
        self.ports
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, port)| *port)
            .unwrap_or(0)
    }

    fn ops(&self, platform: &str) -> Ops {
        let given: Vec<Credential> = self
            .credentials
            .iter()
            .filter(|(p, _)| p == platform)
            .map(|(_, c)| c.clone())
            .collect();
        Ops::new(OpsConfig {
            accepted: if given.is_empty() {
                default_credentials(platform)
            } else {
                given
            },
            rate_limit: self.rate_limit,
            faults: self.faults.clone(),
        })
    }
}

/// One running platform: its handle (to read or change state directly) and its server.
pub struct Running<P: Platform> {
    pub sandbox: Sandbox<P>,
    pub served: Served,
}

impl<P: Platform> Running<P> {
    pub fn url(&self) -> String {
        self.served.url()
    }
}

/// All five, running. Dropping it stops them.
pub struct Sandboxes {
    pub choreo: Running<Choreo>,
    pub cycloid: Running<Cycloid>,
    pub frends: Running<Frends>,
    pub api7: Running<Api7>,
    pub opschain: Running<OpsChain>,
}

impl Sandboxes {
    pub async fn start(options: Options) -> anyhow::Result<Sandboxes> {
        let snapshot = options
            .snapshot
            .clone()
            .map(SnapshotFile::open)
            .transpose()?;
        async fn one<P: Platform>(
            o: &Options,
            snapshot: &Option<SnapshotFile>,
        ) -> anyhow::Result<Running<P>> {
            let sandbox = Sandbox::<P>::new(o.ops(P::NAME), o.timing, snapshot.clone());
            let addr = SocketAddr::new(o.bind, o.port(P::NAME));
            let served = match &o.tls {
                None => serve(sandbox.clone(), addr).await,
                Some(config) => serve_tls(sandbox.clone(), addr, config.clone()).await,
            }
            .map_err(|e| anyhow::anyhow!("{} sandbox cannot listen on {addr}: {e}", P::NAME))?;
            Ok(Running { sandbox, served })
        }
        Ok(Sandboxes {
            choreo: one(&options, &snapshot).await?,
            cycloid: one(&options, &snapshot).await?,
            frends: one(&options, &snapshot).await?,
            api7: one(&options, &snapshot).await?,
            opschain: one(&options, &snapshot).await?,
        })
    }

    /// (platform, base URL, API base URL as a PlatformConnection's endpoint takes it).
    pub fn endpoints(&self) -> Vec<(&'static str, String, String)> {
        vec![
            (
                "choreo",
                self.choreo.url(),
                format!("{}/api/v1", self.choreo.url()),
            ),
            ("cycloid", self.cycloid.url(), self.cycloid.url()),
            ("frends", self.frends.url(), self.frends.url()),
            ("api7", self.api7.url(), self.api7.url()),
            ("opschain", self.opschain.url(), self.opschain.url()),
        ]
    }
}

/// Parses "2s", "500ms", "0" into a duration (for --step-delay).
pub use converge_core::duration::parse as parse_duration;

impl Options {
    /// The options `converge sandbox` was started with.
    pub fn from_args(a: &SandboxArgs) -> anyhow::Result<Options> {
        let mut credentials = Vec::new();
        for c in &a.credentials {
            let (platform, secret) = c
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--credential takes PLATFORM=SECRET"))?;
            if !DEFAULT_PORTS.iter().any(|(p, _)| *p == platform) {
                anyhow::bail!("--credential: unknown platform {platform:?}");
            }
            let credential = match secret.split_once(':') {
                Some((user, password)) if platform == "opschain" => {
                    Credential::basic(user, password)
                }
                _ => Credential::bearer(secret),
            };
            credentials.push((platform.to_string(), credential));
        }
        for (name, rate) in [
            ("error", a.error_rate),
            ("throttle", a.throttle_rate),
            ("reset", a.reset_rate),
            ("malformed", a.malformed_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                anyhow::bail!("--{name}-rate must be between 0 and 1");
            }
        }
        Ok(Options {
            bind: a.bind,
            ports: [
                ("choreo", a.choreo_port),
                ("cycloid", a.cycloid_port),
                ("frends", a.frends_port),
                ("api7", a.api7_port),
                ("opschain", a.opschain_port),
            ],
            timing: Timing { step: a.step_delay },
            rate_limit: (a.rate_limit > 0).then(|| RateLimit {
                per_second: a.rate_limit,
                burst: a.rate_burst.unwrap_or(a.rate_limit),
            }),
            faults: Faults {
                error_rate: a.error_rate,
                throttle_rate: a.throttle_rate,
                latency_ms: a.latency_ms,
                reset_rate: a.reset_rate,
                malformed_rate: a.malformed_rate,
                ..Faults::default()
            },
            snapshot: a.snapshot.clone(),
            credentials,
            tls: match (&a.tls_cert, &a.tls_key) {
                (Some(cert), Some(key)) => Some(super::tls::load(cert, key)?),
                _ => None,
            },
        })
    }
}

/// `converge sandbox`: serve until `stop` resolves (the binary passes SIGINT or SIGTERM).
pub async fn run(
    args: &SandboxArgs,
    stop: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let sandboxes = Sandboxes::start(Options::from_args(args)?).await?;
    for (platform, base, api) in sandboxes.endpoints() {
        println!("{platform:<9} {api:<32} admin: {base}/_sandbox/");
    }
    stop.await;
    drop(sandboxes);
    Ok(())
}

/// `converge sandbox`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    #[arg(long, default_value_t = 18101)]
    pub choreo_port: u16,
    #[arg(long, default_value_t = 18102)]
    pub cycloid_port: u16,
    #[arg(long, default_value_t = 18103)]
    pub frends_port: u16,
    #[arg(long, default_value_t = 18104)]
    pub api7_port: u16,
    #[arg(long, default_value_t = 18105)]
    pub opschain_port: u16,
    /// Time each build, deployment or run spends in each intermediate state (0 = instant).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub step_delay: std::time::Duration,
    /// Requests per second allowed per credential (429 with Retry-After beyond); 0 = no limit.
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u32,
    /// Bucket size of the rate limit (default: the rate).
    #[arg(long)]
    pub rate_burst: Option<u32>,
    /// Share of requests answered with a 5xx (0..1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub error_rate: f64,
    /// Share of requests answered 429 with Retry-After (0..1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub throttle_rate: f64,
    /// Latency added to every request, in milliseconds (at most 600000).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub latency_ms: u64,
    /// Share of requests whose connection is cut after they took effect (0..1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub reset_rate: f64,
    /// Share of responses with a truncated JSON body (0..1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    pub malformed_rate: f64,
    /// Keep state in this JSON file, so the sandboxes survive a restart.
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Accept this token instead of the default, as PLATFORM=TOKEN (repeatable). OpsChain also
    /// takes basic credentials as opschain=USER:PASSWORD.
    #[arg(long = "credential", value_name = "PLATFORM=SECRET")]
    pub credentials: Vec<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first) instead of plain HTTP, to try
    /// a connection's tls.caBundle. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// A share of requests, from 0 to 1.
fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.0..=1.0).contains(&x) => Ok(x),
        _ => Err(format!("{s:?} is not a share from 0 to 1")),
    }
}
