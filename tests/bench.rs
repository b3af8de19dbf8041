//! `converge-bench` as CI's smoke run: 100 objects against the test apiserver and the
//! sandboxes, then a second wave of 20 created while the first is drift-checked. It prints the
//! figures; nothing here asserts a timing.

mod common;

use std::process::Command;

use common::controlplane;
use common::converge::install_crds;

#[tokio::test]
async fn bench_converges_a_hundred_objects_then_a_second_wave_and_prints_its_figures() {
    let cp = controlplane::shared().await;
    install_crds(cp);
    let out = Command::new(env!("CARGO_BIN_EXE_converge-bench"))
        .args([
            "--converge",
            env!("CARGO_BIN_EXE_converge"),
            "--objects",
            "100",
            "--steady",
            "15s",
            "--drift-interval",
            "5s",
            "--second-wave",
            "20",
            "--timeout",
            "3m",
        ])
        .env("KUBECONFIG", cp.kubeconfig())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["objects"], 100);
    let mix = report["mix"].as_object().unwrap();
    assert_eq!(mix.values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 100);
    assert_eq!(mix.len(), 5, "every kind is in the mix: {mix:?}");
    for figure in [
        "seconds_to_all_ready",
        "ready_p50_seconds",
        "ready_p99_seconds",
        "platform_calls_per_object_total",
        "apiserver_writes_per_object",
        "controller_peak_rss_mib",
        "controller_cpu_seconds",
        "steady_platform_calls_per_object_per_hour",
        "steady_apiserver_writes_per_object_per_hour",
    ] {
        assert!(report[figure].is_number(), "{figure} missing: {stdout}");
    }
    assert!(report["platform_calls_per_object_total"].as_f64().unwrap() > 0.0);
    assert!(report["controller_peak_rss_mib"].as_f64().unwrap() > 0.0);

    // The second wave became Ready (the run fails otherwise) and says what it cost.
    let wave = &report["second_wave"];
    assert_eq!(wave["objects"], 20, "{stdout}");
    for figure in [
        "seconds_to_all_ready",
        "ready_p50_seconds",
        "ready_p99_seconds",
        "ready_max_seconds",
    ] {
        assert!(wave[figure].as_f64().unwrap() > 0.0, "{figure}: {stdout}");
    }
    assert!(wave["platform_calls"].as_u64().unwrap() > 0, "{stdout}");
    // Every call of the wave's first reconciles is urgent and is counted by priority.
    assert!(
        wave["budget_by_priority"]["urgent"]["calls"]
            .as_u64()
            .unwrap()
            > 0,
        "{stdout}"
    );
    assert!(wave["drift_share"].is_number(), "{stdout}");
    assert!(wave["request_budget_saturated"].is_object(), "{stdout}");
    assert!(
        wave["request_budget_saturated_events"].is_number(),
        "{stdout}"
    );
}
