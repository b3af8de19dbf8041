//! The command line: every subcommand and its flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "converge",
    version,
    about = "Converge delivery platforms to what Kubernetes declares"
)]
pub struct Cli {
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "CONVERGE_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print every CRD as YAML, or write one file per CRD into a directory.
    Crd {
        /// Write `<plural>.converge.dev.yaml` files into this directory instead of printing.
        #[arg(long)]
        write: Option<PathBuf>,
    },
    /// Run the controller against the cluster of the current kubeconfig (or in-cluster).
    Run(RunArgs),
    /// Serve sandboxes of the five platform APIs on loopback, each on its own port, until a
    /// signal. `examples/` point at the default ports.
    Sandbox(converge_sandbox::all::SandboxArgs),
    /// Converge a directory of manifests against the built-in sandboxes, with no cluster and
    /// no accounts: the same engine in one process, progress as it happens, then a table of
    /// every object with its platform id and state.
    Local(converge_local::LocalArgs),
    /// Show the platform calls converging a directory of manifests would make, without
    /// making them (a preview for a pull request).
    Plan(converge_local::plan::PlanArgs),
    /// Print the version and the git commit this binary was built from.
    Version,
    /// Print a shell completion script, e.g. `source <(converge completion bash)`.
    Completion {
        /// bash, zsh, fish, elvish or powershell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Address of the /healthz and /readyz endpoints. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", env = "CONVERGE_HEALTH_ADDR")]
    pub health_addr: SocketAddr,
    /// After SIGTERM, how long in-flight reconciles may take to finish before the process exits
    /// anyway (every reconcile is safe to interrupt). Keep it below the pod's
    /// terminationGracePeriodSeconds.
    #[arg(long, default_value = "10s", value_parser = converge_sandbox::all::parse_duration)]
    pub shutdown_grace: std::time::Duration,
    /// Reconcile only this namespace (every watch and request is namespaced); default: all.
    #[arg(long, env = "CONVERGE_NAMESPACE")]
    pub namespace: Option<String>,
    /// Reconcile only PlatformConnections and objects with these labels (a shard), e.g.
    /// `converge.dev/shard=a`. Label a connection for every shard whose objects use it.
    #[arg(long, env = "CONVERGE_SELECTOR")]
    pub selector: Option<String>,
    #[command(flatten)]
    pub election: ElectionArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ElectionArgs {
    /// Run the controllers only while holding a Lease, so that replicas never reconcile twice.
    #[arg(long, env = "CONVERGE_LEADER_ELECTION")]
    pub leader_election: bool,
    /// Name of the Lease.
    #[arg(long, default_value = "converge", env = "CONVERGE_LEASE_NAME")]
    pub lease_name: String,
    /// Namespace of the Lease; default: the pod's namespace (POD_NAMESPACE), else --namespace,
    /// else `default`.
    #[arg(long, env = "CONVERGE_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// How long a Lease stays held without renewal, so about how long a takeover waits after
    /// a leader dies without releasing it (whole seconds).
    #[arg(long, default_value = "15s", value_parser = converge_sandbox::all::parse_duration)]
    pub lease_duration: std::time::Duration,
    /// The leader renews this long before its Lease expires (whole seconds; below the duration).
    #[arg(long, default_value = "5s", value_parser = converge_sandbox::all::parse_duration)]
    pub lease_renew_before: std::time::Duration,
    /// This replica's identity in the Lease; default: POD_NAME, else a random one.
    #[arg(long, env = "POD_NAME")]
    pub lease_identity: Option<String>,
}
