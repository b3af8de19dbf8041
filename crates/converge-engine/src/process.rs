//! The standard process metrics every Prometheus client exports (`process_cpu_seconds_total`,
//! memory, file descriptors, start time), read from /proc at each scrape via `procfs`.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug, Default)]
pub struct ProcessCollector;

/// One reading of the process.
#[derive(Debug)]
struct Sample {
    cpu_seconds: f64,
    resident_bytes: i64,
    virtual_bytes: i64,
    open_fds: i64,
    max_fds: Option<i64>,
    start_time_seconds: f64,
}

fn sample() -> procfs::ProcResult<Sample> {
    let me = procfs::process::Process::myself()?;
    let stat = me.stat()?;
    let ticks = procfs::ticks_per_second() as f64;
    let page = procfs::page_size() as i64;
    let boot = procfs::boot_time_secs()? as f64;
    let max_fds = me
        .limits()
        .ok()
        .and_then(|l| match l.max_open_files.soft_limit {
            procfs::process::LimitValue::Value(v) => i64::try_from(v).ok(),
            procfs::process::LimitValue::Unlimited => None,
        });
    Ok(Sample {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        resident_bytes: i64::try_from(stat.rss)
            .unwrap_or(i64::MAX)
            .saturating_mul(page),
        virtual_bytes: i64::try_from(stat.vsize).unwrap_or(i64::MAX),
        open_fds: i64::try_from(me.fd_count()?).unwrap_or(i64::MAX),
        max_fds,
        start_time_seconds: boot + stat.starttime as f64 / ticks,
    })
}

fn gauge<T>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: T,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<T>: EncodeMetric,
{
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // /proc unreadable (not Linux, or a locked-down sandbox): no process metrics, rather
        // than a failed scrape.
        let Ok(s) = sample() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(s.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let e = &mut encoder;
        gauge(
            e,
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
            s.resident_bytes,
        )?;
        gauge(
            e,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes",
            s.virtual_bytes,
        )?;
        gauge(
            e,
            "process_open_fds",
            "Number of open file descriptors",
            s.open_fds,
        )?;
        if let Some(max) = s.max_fds {
            gauge(
                e,
                "process_max_fds",
                "Maximum number of open file descriptors",
                max,
            )?;
        }
        gauge(
            e,
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds",
            s.start_time_seconds,
        )
    }
}
