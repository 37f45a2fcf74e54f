//! `cargo bench --bench pop3bench [-- --scale 0.1] [--json out.json]`: pop3test against the
//! physical limit of the same server, in one run. See `pop3test::bench` and the README.
//! `-- --fleet 10,100,1000 [--fleet-jobs N]` runs the fleet benchmark instead (`bench::fleet`):
//! N built-in servers audited by the `pop3test` binary with `audit --targets`.

fn main() {
    let mut args = std::env::args().skip(1);
    let mut config = pop3test::bench::run::BenchConfig::default();
    let mut json = Some(std::path::PathBuf::from("target/pop3bench.json"));
    let mut fleet: Option<Vec<usize>> = None;
    let mut fleet_cfg = pop3test::bench::fleet::FleetBench::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scale" => config.scale = args.next().and_then(|v| v.parse().ok()).expect("--scale NUMBER"),
            "--conns" => config.conns = args.next().and_then(|v| v.parse().ok()).expect("--conns NUMBER"),
            "--json" => json = args.next().map(Into::into),
            "--fleet" => {
                let sizes = args.next().expect("--fleet N[,N...]");
                fleet = Some(sizes.split(',').map(|n| n.trim().parse().expect("--fleet N[,N...]")).collect());
            }
            "--fleet-jobs" => fleet_cfg.jobs = args.next().and_then(|v| v.parse().ok()).expect("--fleet-jobs N"),
            "--bench" => {}
            other => eprintln!("pop3bench: ignoring argument `{other}`"),
        }
    }
    if let Ok(url) = std::env::var("POP3TEST_DOVECOT_CLEARTEXT") {
        if let Ok(t) = url.parse() {
            config.dovecot = Some((t, "mrose".into(), "tanstaaf".into()));
        }
    }
    if let Some(sizes) = fleet {
        let mut report = pop3test::bench::BenchReport {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            started_at: pop3test::results::now_rfc3339(),
            scale: 1.0,
            rows: Vec::new(),
        };
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_pop3test"));
        pop3test::bench::fleet::run(bin, &sizes, fleet_cfg, &mut report).expect("fleet benchmark");
        println!("{}", report.table());
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let report = rt.block_on(pop3test::bench::run::run(&config));
    println!("{}", report.table());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("json");
        std::fs::write(&path, text).expect("write bench json");
        println!("JSON written to {}", path.display());
    }
}
