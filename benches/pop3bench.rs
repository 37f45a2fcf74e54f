//! `cargo bench --bench pop3bench [-- --scale 0.1] [--json out.json]`: pop3test against the
//! physical limit of the same server, in one run. See `pop3test::bench` and the README.

fn main() {
    let mut args = std::env::args().skip(1);
    let mut config = pop3test::bench::run::BenchConfig::default();
    let mut json = Some(std::path::PathBuf::from("target/pop3bench.json"));
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scale" => config.scale = args.next().and_then(|v| v.parse().ok()).expect("--scale NUMBER"),
            "--conns" => config.conns = args.next().and_then(|v| v.parse().ok()).expect("--conns NUMBER"),
            "--json" => json = args.next().map(Into::into),
            "--bench" => {}
            other => eprintln!("pop3bench: ignoring argument `{other}`"),
        }
    }
    if let Ok(url) = std::env::var("POP3TEST_DOVECOT_CLEARTEXT") {
        if let Ok(t) = url.parse() {
            config.dovecot = Some((t, "mrose".into(), "tanstaaf".into()));
        }
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
