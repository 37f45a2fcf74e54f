//! The benchmark is not a timed test: this only checks that it runs at a tiny scale and that its
//! table and JSON are well-formed, so `cargo bench` keeps working.

use pop3test::bench::run::{run, BenchConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn benchmark_runs_at_tiny_scale_and_output_is_well_formed() {
    let report = run(&BenchConfig { scale: 0.002, conns: 2, dovecot: None }).await;
    let names: Vec<&str> = report.rows.iter().map(|r| r.name.as_str()).collect();
    for expected in [
        "raw NOOP round trips, 1 connection",
        "pop3test NOOP round trips, 1 connection",
        "raw pipelined NOOPs (batches of 64)",
        "raw fresh sessions (connect+greeting+login+QUIT)",
        "fuzz cases, single-command, 1 session reused, lock-step",
        "fuzz cases, single-command, 1 session reused, --batch 8",
        "same cases through pop3test's fuzz session, lock-step",
        "scenario engine, time per NOOP step",
        "RETR body with byte-stuffing, decoded whole",
        "peak RSS of the benchmark process",
    ] {
        assert!(names.contains(&expected), "missing row `{expected}` in {names:?}");
    }
    for r in &report.rows {
        assert!(r.value.is_finite() && r.value > 0.0, "{}: {}", r.name, r.value);
        if let Some(ratio) = r.ratio {
            assert!(ratio.is_finite() && ratio > 0.0, "{}: ratio {ratio}", r.name);
        }
    }
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["rows"].as_array().unwrap().len(), report.rows.len());
    let table = report.table();
    assert!(table.lines().count() >= report.rows.len() + 2, "{table}");
}
