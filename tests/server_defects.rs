//! Every defect profile, on the wire: the same probe runs against the correct server and against
//! a server with that one defect, and each observation is compared with what it must be. The
//! expectations are one table ([`expectation`], an exhaustive match: a new defect does not
//! compile without its probe).

use pop3test::net::{Connection, NetError};
use pop3test::proto::{Expect, Response, Violation};
use pop3test::server::{seed, spawn, Defect, ServerConfig, ServerHandle};
use std::time::Duration;

/// How long a probe waits for data that a correct (or a defective) server does not send.
const SILENCE: Duration = Duration::from_millis(600);

/// `(observation on the correct server, observation with the defect)`.
fn expectation(d: Defect) -> (&'static str, &'static str) {
    use Defect::*;
    match d {
        StlsInjection => ("after TLS: silence", "after TLS: +OK Capability list follows"),
        CleartextLogin => ("capa USER=false USER=-ERR PASS=-ERR", "capa USER=false USER=+OK PASS=+OK"),
        StlsAfterLogin => ("STLS=-ERR", "STLS=+OK then in TLS: STAT=+OK"),
        AuthSurvivesStls => ("in TLS: AUTH PLAIN=+ ", "in TLS: AUTH PLAIN=+OK"),
        StlsTwice => ("STLS=-ERR", "STLS=+OK"),
        StlsReadvertised => ("STLS in CAPA after TLS: false", "STLS in CAPA after TLS: true"),
        PlaintextAfterStlsOk => ("after +OK: silence", "after +OK: +OK ready to start TLS\\r\\n"),
        NoByteStuffing => ("RETR 2 body equals the message", "RETR 2 body differs"),
        WrongOctets => ("LIST = RETR octets", "LIST < RETR octets"),
        BareLf => ("bare LF: false", "bare LF: true"),
        LowercaseStatus => ("status case violation: false", "status case violation: true"),
        LongErrorEcho => ("reply within 512: true", "reply within 512: false"),
        NumberWrap => ("RETR 4294967297=-ERR", "RETR 4294967297=+OK message 1"),
        LenientArgs => ("-ERR -ERR -ERR -ERR", "+OK +OK +OK +OK"),
        DeleTwiceOk => ("+OK -ERR", "+OK +OK"),
        DeletedStillListed => ("LIST 1=-ERR listed=5", "LIST 1=+OK listed=6"),
        RsetNoop => ("after RSET: 6", "after RSET: 5"),
        AbortCommits => ("after abort: 6", "after abort: 5"),
        UidlUnstable => ("same uid: true", "same uid: false"),
        UidlBadChars => ("uid has space: false", "uid has space: true"),
        PipeliningDrop => ("STAT, NOOP answered", "STAT, NOOP lost"),
        WrongStateOk => ("STAT=-ERR LIST=-ERR NOOP=-ERR", "STAT=+OK LIST=+OK NOOP=+OK"),
        NoLock => ("second login: -ERR [IN-USE]", "second login: +OK"),
        CapaLies => ("CAPA TOP+UIDL, TOP=+OK UIDL=+OK", "CAPA TOP+UIDL, TOP=-ERR UIDL=-ERR"),
        BadRespCode => ("code [AUTH], malformed: false", "code none, malformed: true"),
        ApopStaticTimestamp => ("same timestamp: false", "same timestamp: true"),
        UserEnumeration => ("USER unknown=+OK known=+OK", "USER unknown=-ERR known=+OK"),
        CrashOnLongLine => ("301-octet line: -ERR", "301-octet line: reset"),
        HangOnBadArg => ("RETR -1: -ERR, then CAPA=+OK", "RETR -1: silence, socket open"),
        CloseAfterErrors => (
            "-ERR unknown command | -ERR unknown command | -ERR unknown command | open",
            "-ERR unknown command | -ERR unknown command | -ERR too many errors, bye | closed",
        ),
        NoCapa => ("CAPA=+OK STLS=+OK", "CAPA=-ERR STLS=+OK"),
        GreetingTooLong => ("greeting within 512: true", "greeting within 512: false"),
        ExpireMalformed => ("EXPIRE NEVER", "EXPIRENEVER"),
        StatCountsDeleted => ("STAT after DELE: 5", "STAT after DELE: 6"),
        NoAuthCode => ("bad password code: [AUTH]", "bad password code: none"),
        UidlSignedEdge => ("UIDL 2147483647=-ERR UIDL 2147483648=-ERR", "UIDL 2147483647=-ERR UIDL 2147483648=reset"),
        TopDeletedPastEnd => ("TOP 1 0=-ERR TOP 1 100000=-ERR", "TOP 1 0=-ERR TOP 1 100000=+OK"),
        RemarkLost => ("RETR 1 after DELE, RSET, DELE=-ERR", "RETR 1 after DELE, RSET, DELE=+OK"),
        Utf8EightBitAsIs => ("RETR 5=-ERR [UTF8] 8-bit sent: false", "RETR 5=+OK 8-bit sent: true"),
        Utf8CapaImapStyle => {
            ("UTF8 lines: [UTF8 USER] then [UTF8 USER]", "UTF8 lines: [UTF8=ACCEPT] then [UTF8=ACCEPT, UTF8 USER]")
        }
        Utf8CapaChangesAfterLogin => {
            ("UTF8 lines: [UTF8 USER] then [UTF8 USER]", "UTF8 lines: [UTF8 USER] then [UTF8]")
        }
        Utf8SkipsAuthorization => ("after UTF8: STAT=-ERR", "after UTF8: STAT=+OK"),
        Utf8AcceptsArgument => ("UTF8 USER=-ERR", "UTF8 USER=+OK"),
        Utf8AfterLoginOk => ("UTF8 after login=-ERR", "UTF8 after login=+OK"),
        Utf8BreaksLogin => ("login after UTF8: +OK", "login after UTF8: -ERR"),
        Utf8Transcodes => ("in UTF-8 mode: LIST 5 = RETR 5 octets", "in UTF-8 mode: LIST 5 < RETR 5 octets"),
        Utf8LossyCredentials => {
            ("USER mrose<FF>=-ERR PASS tanstaaf<FF>=-ERR", "USER mrose<FF>=+OK PASS tanstaaf<FF>=+OK")
        }
        LangCapaAfterLoginOnly => ("LANG before login: true, after: true", "LANG before login: false, after: true"),
        LangListingBlankLine => {
            ("empty line before login: false, after: false", "empty line before login: true, after: false")
        }
        LangReplyNoTag => ("LANG de=+OK de Sprache auf Deutsch gestellt", "LANG de=+OK Language changed"),
        LangAfterLoginResets => ("LANG en after login=+OK, then STAT=+OK", "LANG en after login=+OK, then STAT=-ERR"),
        LangUnknownFallsBack => ("LANG qaa-x-pop3test=-ERR", "LANG qaa-x-pop3test=+OK en Language set to English"),
        LangLocaleNames => ("LANG en_US=-ERR LANG en de=-ERR", "LANG en_US=+OK LANG en de=+OK"),
    }
}

/// Some probes need a login before TLS, which only `--allow-cleartext` permits.
fn config_for(d: Defect) -> ServerConfig {
    ServerConfig { allow_cleartext: d == Defect::StlsAfterLogin, ..ServerConfig::default() }
}

async fn check(d: Defect) {
    let (correct, defective) = expectation(d);
    let good = spawn(config_for(d)).await.expect("spawn the correct server");
    assert_eq!(observe(d, &good).await, correct, "{d} probe against the correct server");
    let bad = spawn(ServerConfig { defects: d.into(), ..config_for(d) }).await.expect("spawn the defective server");
    assert_eq!(observe(d, &bad).await, defective, "{d} probe with the defect on");
    good.shutdown().await;
    bad.shutdown().await;
}

macro_rules! defect_tests {
    ($($test:ident => $defect:ident,)*) => {
        $(
            #[tokio::test]
            async fn $test() {
                check(Defect::$defect).await;
            }
        )*

        #[test]
        fn every_defect_has_a_wire_test() {
            let tested = [$(Defect::$defect),*];
            for d in Defect::ALL {
                assert!(tested.contains(d), "no wire test for {d}");
            }
        }
    };
}

defect_tests! {
    stls_injection => StlsInjection,
    cleartext_login => CleartextLogin,
    stls_after_login => StlsAfterLogin,
    auth_survives_stls => AuthSurvivesStls,
    stls_twice => StlsTwice,
    stls_readvertised => StlsReadvertised,
    plaintext_after_stls_ok => PlaintextAfterStlsOk,
    no_byte_stuffing => NoByteStuffing,
    wrong_octets => WrongOctets,
    bare_lf => BareLf,
    lowercase_status => LowercaseStatus,
    long_error_echo => LongErrorEcho,
    number_wrap => NumberWrap,
    lenient_args => LenientArgs,
    dele_twice_ok => DeleTwiceOk,
    deleted_still_listed => DeletedStillListed,
    rset_noop => RsetNoop,
    abort_commits => AbortCommits,
    uidl_unstable => UidlUnstable,
    uidl_bad_chars => UidlBadChars,
    pipelining_drop => PipeliningDrop,
    wrong_state_ok => WrongStateOk,
    no_lock => NoLock,
    capa_lies => CapaLies,
    bad_resp_code => BadRespCode,
    apop_static_timestamp => ApopStaticTimestamp,
    user_enumeration => UserEnumeration,
    crash_on_long_line => CrashOnLongLine,
    hang_on_bad_arg => HangOnBadArg,
    close_after_errors => CloseAfterErrors,
    no_capa => NoCapa,
    greeting_too_long => GreetingTooLong,
    expire_malformed => ExpireMalformed,
    stat_counts_deleted => StatCountsDeleted,
    uidl_signed_edge => UidlSignedEdge,
    top_deleted_past_end => TopDeletedPastEnd,
    remark_lost => RemarkLost,
    no_auth_code => NoAuthCode,
    utf8_8bit_as_is => Utf8EightBitAsIs,
    utf8_capa_imap_style => Utf8CapaImapStyle,
    utf8_capa_changes_after_login => Utf8CapaChangesAfterLogin,
    utf8_skips_authorization => Utf8SkipsAuthorization,
    utf8_accepts_argument => Utf8AcceptsArgument,
    utf8_after_login_ok => Utf8AfterLoginOk,
    utf8_breaks_login => Utf8BreaksLogin,
    utf8_transcodes => Utf8Transcodes,
    utf8_lossy_credentials => Utf8LossyCredentials,
    lang_capa_after_login_only => LangCapaAfterLoginOnly,
    lang_listing_blank_line => LangListingBlankLine,
    lang_reply_no_tag => LangReplyNoTag,
    lang_after_login_resets => LangAfterLoginResets,
    lang_unknown_falls_back => LangUnknownFallsBack,
    lang_locale_names => LangLocaleNames,
}

// ---- helpers ----

async fn plain(h: &ServerHandle) -> (Connection, Response) {
    let mut c = Connection::connect(&h.plain_target(), &h.connect_options()).await.expect("connect");
    let g = c.greeting().await.expect("greeting");
    (c, g)
}

/// Implicit TLS: logins are allowed there by default.
async fn tls(h: &ServerHandle) -> Connection {
    let t = h.tls_target().expect("TLS port");
    let mut c = Connection::connect(&t, &h.connect_options()).await.expect("connect TLS");
    assert!(c.greeting().await.expect("greeting").is_ok());
    c
}

async fn login(h: &ServerHandle) -> Connection {
    let mut c = tls(h).await;
    assert!(cmd(&mut c, "USER mrose").await.is_ok());
    let r = cmd(&mut c, &format!("PASS {}", seed::DEFAULT_PASSWORD)).await;
    assert!(r.is_ok(), "login: {r:?}");
    c
}

/// Sends one line and reads its reply, framed as the command says.
async fn framed(c: &mut Connection, line: &str, expect: Expect) -> Response {
    c.send_raw(format!("{line}\r\n").as_bytes()).await.expect("send");
    c.read_response(expect).await.unwrap_or_else(|e| panic!("reply to {line:?}: {e}"))
}

async fn cmd(c: &mut Connection, line: &str) -> Response {
    framed(c, line, Expect::SingleLine).await
}

async fn multi(c: &mut Connection, line: &str) -> Response {
    framed(c, line, Expect::MultiLine).await
}

fn st(r: &Response) -> &'static str {
    if r.is_ok() {
        "+OK"
    } else if r.is_err() {
        "-ERR"
    } else {
        "?"
    }
}

fn body_lines(r: &Response) -> Vec<String> {
    r.body.as_ref().map(|b| b.lines().map(|l| String::from_utf8_lossy(l).into_owned()).collect()).unwrap_or_default()
}

/// The CAPA listing in AUTHORIZATION (implicit TLS) and after logging in on the same session.
async fn capa_before_and_after_login(h: &ServerHandle) -> (Vec<String>, Vec<String>) {
    let mut c = tls(h).await;
    let before = body_lines(&multi(&mut c, "CAPA").await);
    assert!(cmd(&mut c, "USER mrose").await.is_ok());
    assert!(cmd(&mut c, &format!("PASS {}", seed::DEFAULT_PASSWORD)).await.is_ok());
    (before, body_lines(&multi(&mut c, "CAPA").await))
}

/// Sends raw bytes (one line) and reads a single-line reply.
async fn raw_cmd(c: &mut Connection, line: &[u8]) -> Response {
    c.send_raw(line).await.expect("send");
    c.read_response(Expect::SingleLine).await.expect("reply")
}

async fn stat_count(c: &mut Connection) -> String {
    let r = cmd(c, "STAT").await;
    r.text.split(' ').next().unwrap_or("?").to_string()
}

// ---- the probes ----

async fn observe(d: Defect, h: &ServerHandle) -> String {
    use Defect::*;
    match d {
        StlsInjection => {
            let (mut c, _) = plain(h).await;
            c.send_raw(b"STLS\r\nCAPA\r\n").await.unwrap();
            assert!(c.read_response(Expect::SingleLine).await.unwrap().is_ok());
            c.start_tls().await.expect("handshake");
            match c.read_unsolicited(SILENCE).await.unwrap() {
                None => "after TLS: silence".into(),
                Some(data) => format!("after TLS: {}", String::from_utf8_lossy(&data).lines().next().unwrap_or("")),
            }
        }
        CleartextLogin => {
            let (mut c, _) = plain(h).await;
            let capa = multi(&mut c, "CAPA").await;
            let user = cmd(&mut c, "USER mrose").await;
            let pass = cmd(&mut c, "PASS tanstaaf").await;
            format!("capa USER={} USER={} PASS={}", body_lines(&capa).contains(&"USER".into()), st(&user), st(&pass))
        }
        StlsAfterLogin => {
            let (mut c, _) = plain(h).await;
            cmd(&mut c, "USER mrose").await;
            assert!(cmd(&mut c, "PASS tanstaaf").await.is_ok());
            let r = cmd(&mut c, "STLS").await;
            if !r.is_ok() {
                return format!("STLS={}", st(&r));
            }
            c.start_tls().await.expect("handshake");
            format!("STLS=+OK then in TLS: STAT={}", st(&cmd(&mut c, "STAT").await))
        }
        AuthSurvivesStls => {
            // Cleartext AUTH PLAIN with the real credentials: refused before TLS either way.
            let (mut c, _) = plain(h).await;
            let refused = framed(&mut c, "AUTH PLAIN AG1yb3NlAHRhbnN0YWFm", Expect::Sasl).await;
            assert!(refused.is_err());
            assert!(cmd(&mut c, "STLS").await.is_ok());
            c.start_tls().await.expect("handshake");
            let r = framed(&mut c, "AUTH PLAIN", Expect::Sasl).await;
            let status = if r.status == pop3test::proto::Status::Continue { "+ " } else { st(&r) };
            format!("in TLS: AUTH PLAIN={status}")
        }
        StlsTwice => format!("STLS={}", st(&cmd(&mut tls(h).await, "STLS").await)),
        StlsReadvertised => {
            let (mut c, _) = plain(h).await;
            assert!(cmd(&mut c, "STLS").await.is_ok());
            c.start_tls().await.expect("handshake");
            let capa = multi(&mut c, "CAPA").await;
            format!("STLS in CAPA after TLS: {}", body_lines(&capa).contains(&"STLS".into()))
        }
        PlaintextAfterStlsOk => {
            let (mut c, _) = plain(h).await;
            assert!(cmd(&mut c, "STLS").await.is_ok());
            match c.read_unsolicited(SILENCE).await.unwrap() {
                None => "after +OK: silence".into(),
                Some(data) => format!("after +OK: {}", String::from_utf8_lossy(&data).escape_debug()),
            }
        }
        NoByteStuffing => {
            let mut c = login(h).await;
            let r = multi(&mut c, "RETR 2").await;
            let same = r.body.map(|b| b.data) == Some(seed::default_messages()[1].clone());
            format!("RETR 2 body {}", if same { "equals the message" } else { "differs" })
        }
        WrongOctets => {
            let mut c = login(h).await;
            let list: usize = cmd(&mut c, "LIST 1").await.text.split(' ').nth(1).unwrap().parse().unwrap();
            let retr = multi(&mut c, "RETR 1").await.body.unwrap().data.len();
            let rel = match list.cmp(&retr) {
                std::cmp::Ordering::Equal => "=",
                std::cmp::Ordering::Less => "<",
                std::cmp::Ordering::Greater => ">",
            };
            format!("LIST {rel} RETR octets")
        }
        BareLf => {
            let (mut c, g) = plain(h).await;
            let capa = multi(&mut c, "CAPA").await;
            let bare = [g, capa].iter().all(|r| r.violations.contains(&Violation::BareLf));
            format!("bare LF: {bare}")
        }
        LowercaseStatus => {
            let (mut c, g) = plain(h).await;
            let capa = multi(&mut c, "CAPA").await;
            let bad = [g, capa].iter().all(|r| r.violations.iter().any(|v| matches!(v, Violation::StatusCase { .. })));
            format!("status case violation: {bad}")
        }
        LongErrorEcho => {
            let (mut c, _) = plain(h).await;
            let r = cmd(&mut c, &format!("FOO {}", "A".repeat(600))).await;
            assert!(r.is_err());
            format!("reply within 512: {}", r.wire_len <= 512)
        }
        NumberWrap => {
            let mut c = login(h).await;
            let r = multi(&mut c, "RETR 4294967297").await;
            match r.body {
                Some(b) if b.data == seed::default_messages()[0] => "RETR 4294967297=+OK message 1".into(),
                _ => format!("RETR 4294967297={}", st(&r)),
            }
        }
        LenientArgs => {
            let mut c = login(h).await;
            let mut out = Vec::new();
            for line in ["LIST 1a", "LIST +1", "LIST 1 2", "RETR 1x"] {
                let expect = if line.starts_with("RETR") { Expect::MultiLine } else { Expect::SingleLine };
                out.push(st(&framed(&mut c, line, expect).await));
            }
            out.join(" ")
        }
        UidlSignedEdge => {
            let mut c = login(h).await;
            let below = cmd(&mut c, "UIDL 2147483647").await;
            let edge = match c.command(&pop3test::proto::Command::Uidl(Some(1 << 31))).await {
                Ok(r) => st(&r).to_string(),
                Err(NetError::Reset { .. } | NetError::Closed { .. }) => "reset".into(),
                Err(e) => format!("{e}"),
            };
            format!("UIDL 2147483647={} UIDL 2147483648={edge}", st(&below))
        }
        TopDeletedPastEnd => {
            let mut c = login(h).await;
            assert!(cmd(&mut c, "DELE 1").await.is_ok());
            let zero = framed(&mut c, "TOP 1 0", Expect::MultiLine).await;
            let past = framed(&mut c, "TOP 1 100000", Expect::MultiLine).await;
            format!("TOP 1 0={} TOP 1 100000={}", st(&zero), st(&past))
        }
        RemarkLost => {
            let mut c = login(h).await;
            for line in ["DELE 1", "RSET", "DELE 1"] {
                assert!(cmd(&mut c, line).await.is_ok(), "{line}");
            }
            format!("RETR 1 after DELE, RSET, DELE={}", st(&framed(&mut c, "RETR 1", Expect::MultiLine).await))
        }
        DeleTwiceOk => {
            let mut c = login(h).await;
            format!("{} {}", st(&cmd(&mut c, "DELE 1").await), st(&cmd(&mut c, "DELE 1").await))
        }
        DeletedStillListed => {
            let mut c = login(h).await;
            assert!(cmd(&mut c, "DELE 1").await.is_ok());
            let one = cmd(&mut c, "LIST 1").await;
            let all = multi(&mut c, "LIST").await;
            format!("LIST 1={} listed={}", st(&one), body_lines(&all).len())
        }
        RsetNoop => {
            let mut c = login(h).await;
            assert!(cmd(&mut c, "DELE 1").await.is_ok());
            assert!(cmd(&mut c, "RSET").await.is_ok());
            format!("after RSET: {}", stat_count(&mut c).await)
        }
        AbortCommits => {
            let mut c = login(h).await;
            assert!(cmd(&mut c, "DELE 1").await.is_ok());
            drop(c.close(false).await);
            assert!(h.wait_idle(Duration::from_secs(5)).await, "server noticed the close");
            let mut again = login(h).await;
            format!("after abort: {}", stat_count(&mut again).await)
        }
        UidlUnstable => {
            let mut uids = Vec::new();
            for _ in 0..2 {
                let mut c = login(h).await;
                uids.push(cmd(&mut c, "UIDL 1").await.text);
                assert!(cmd(&mut c, "QUIT").await.is_ok());
                assert!(h.wait_idle(Duration::from_secs(5)).await);
            }
            format!("same uid: {}", uids[0] == uids[1])
        }
        UidlBadChars => {
            let mut c = login(h).await;
            let r = cmd(&mut c, "UIDL 1").await;
            let uid = r.text.split_once(' ').map(|(_, u)| u.to_string()).unwrap_or_default();
            format!("uid has space: {}", uid.contains(' '))
        }
        PipeliningDrop => {
            let mut c = tls(h).await;
            c.send_raw(b"USER mrose\r\nPASS tanstaaf\r\nSTAT\r\nNOOP\r\n").await.unwrap();
            assert!(c.read_response(Expect::SingleLine).await.unwrap().is_ok());
            assert!(c.read_response(Expect::SingleLine).await.unwrap().is_ok());
            match c.read_unsolicited(SILENCE).await.unwrap() {
                Some(data) if data.starts_with(b"+OK ") => "STAT, NOOP answered".into(),
                Some(data) => format!("unexpected {:?}", String::from_utf8_lossy(&data)),
                None => "STAT, NOOP lost".into(),
            }
        }
        WrongStateOk => {
            let mut c = tls(h).await;
            let stat = cmd(&mut c, "STAT").await;
            let list = framed(&mut c, "LIST", Expect::MultiLine).await;
            let noop = cmd(&mut c, "NOOP").await;
            format!("STAT={} LIST={} NOOP={}", st(&stat), st(&list), st(&noop))
        }
        NoLock => {
            let _first = login(h).await;
            let mut second = tls(h).await;
            cmd(&mut second, "USER mrose").await;
            let r = cmd(&mut second, "PASS tanstaaf").await;
            match &r.code {
                Some(code) => format!("second login: {} {code}", st(&r)),
                None => format!("second login: {}", st(&r)),
            }
        }
        CapaLies => {
            let mut c = login(h).await;
            let caps = body_lines(&multi(&mut c, "CAPA").await);
            assert!(caps.contains(&"TOP".into()) && caps.contains(&"UIDL".into()));
            let top = multi(&mut c, "TOP 1 0").await;
            let uidl = multi(&mut c, "UIDL").await;
            format!("CAPA TOP+UIDL, TOP={} UIDL={}", st(&top), st(&uidl))
        }
        BadRespCode => {
            let mut c = tls(h).await;
            cmd(&mut c, "USER mrose").await;
            let r = cmd(&mut c, "PASS wrong").await;
            let malformed = r.violations.iter().any(|v| matches!(v, Violation::MalformedRespCode { .. }));
            let code = r.code.map_or("none".to_string(), |c| c.to_string());
            format!("code {code}, malformed: {malformed}")
        }
        ApopStaticTimestamp => {
            let (_, a) = plain(h).await;
            let (_, b) = plain(h).await;
            let ts = |r: &Response| pop3test::proto::apop::greeting_timestamp(&r.text).map(str::to_string);
            assert!(ts(&a).is_some());
            format!("same timestamp: {}", ts(&a) == ts(&b))
        }
        UserEnumeration => {
            let unknown = cmd(&mut tls(h).await, "USER nobody-here").await;
            let known = cmd(&mut tls(h).await, "USER mrose").await;
            format!("USER unknown={} known={}", st(&unknown), st(&known))
        }
        CrashOnLongLine => {
            let (mut c, _) = plain(h).await;
            let line = format!("NOOP {}\r\n", "A".repeat(301 - 7));
            assert_eq!(line.len(), 301);
            c.send_raw(line.as_bytes()).await.unwrap();
            match c.read_response(Expect::SingleLine).await {
                Ok(r) => format!("301-octet line: {}", st(&r)),
                Err(NetError::Reset { .. }) => "301-octet line: reset".into(),
                Err(e) => format!("301-octet line: {e}"),
            }
        }
        HangOnBadArg => {
            let (mut c, _) = plain(h).await;
            c.send_raw(b"RETR -1\r\n").await.unwrap();
            match c.read_unsolicited(SILENCE).await {
                Ok(Some(data)) => {
                    let capa = multi(&mut c, "CAPA").await;
                    let first = String::from_utf8_lossy(&data).split(' ').next().unwrap_or("").to_string();
                    format!("RETR -1: {first}, then CAPA={}", st(&capa))
                }
                Ok(None) => {
                    // Still open: the server neither answers nor closes.
                    c.send_raw(b"CAPA\r\n").await.unwrap();
                    match c.read_unsolicited(SILENCE).await {
                        Ok(None) => "RETR -1: silence, socket open".into(),
                        other => format!("RETR -1: silence, then {other:?}"),
                    }
                }
                Err(e) => format!("RETR -1: {e}"),
            }
        }
        CloseAfterErrors => {
            let (mut c, _) = plain(h).await;
            let mut seen = Vec::new();
            for _ in 0..3 {
                let r = cmd(&mut c, "FOO").await;
                seen.push(format!("{} {}", st(&r), r.text));
            }
            c.send_raw(b"CAPA\r\n").await.ok();
            let open = match c.read_response(Expect::MultiLine).await {
                Ok(r) if r.is_ok() => "open",
                Err(e) if e.is_disconnect() => "closed",
                _ => "?",
            };
            seen.push(open.into());
            seen.join(" | ")
        }
        NoCapa => {
            let (mut c, _) = plain(h).await;
            let capa = multi(&mut c, "CAPA").await;
            let stls = cmd(&mut c, "STLS").await;
            format!("CAPA={} STLS={}", st(&capa), st(&stls))
        }
        GreetingTooLong => {
            let (_, g) = plain(h).await;
            format!("greeting within 512: {}", g.wire_len <= 512)
        }
        ExpireMalformed => {
            let (mut c, _) = plain(h).await;
            let caps = body_lines(&multi(&mut c, "CAPA").await);
            caps.into_iter().find(|l| l.starts_with("EXPIRE")).unwrap_or_default()
        }
        StatCountsDeleted => {
            let mut c = login(h).await;
            assert!(cmd(&mut c, "DELE 1").await.is_ok());
            format!("STAT after DELE: {}", stat_count(&mut c).await)
        }
        NoAuthCode => {
            let mut c = tls(h).await;
            cmd(&mut c, "USER mrose").await;
            let r = cmd(&mut c, "PASS wrong").await;
            assert!(r.is_err());
            format!("bad password code: {}", r.code.map_or("none".to_string(), |c| c.to_string()))
        }
        Utf8EightBitAsIs => {
            // The server offers UTF8 (the default); the client never sends it.
            let mut c = login(h).await;
            c.send_raw(b"RETR 5\r\n").await.expect("send");
            let r = c.read_response(Expect::MultiLine).await.expect("RETR 5");
            let code = r.code.as_ref().map(|c| format!(" {c}")).unwrap_or_default();
            let eight = r.body.as_ref().is_some_and(|b| b.lines().any(|l| !l.is_ascii()));
            format!("RETR 5={}{code} 8-bit sent: {eight}", st(&r))
        }
        LangCapaAfterLoginOnly => {
            let line = "LANG";
            let (before, after) = capa_before_and_after_login(h).await;
            let has = |l: &[String]| l.iter().any(|x| x == line);
            format!("{line} before login: {}, after: {}", has(&before), has(&after))
        }
        Utf8CapaImapStyle | Utf8CapaChangesAfterLogin => {
            let (before, after) = capa_before_and_after_login(h).await;
            let utf8 =
                |l: &[String]| l.iter().filter(|x| x.starts_with("UTF8")).cloned().collect::<Vec<_>>().join(", ");
            format!("UTF8 lines: [{}] then [{}]", utf8(&before), utf8(&after))
        }
        Utf8SkipsAuthorization => {
            let mut c = tls(h).await;
            assert!(cmd(&mut c, "UTF8").await.is_ok());
            format!("after UTF8: STAT={}", st(&cmd(&mut c, "STAT").await))
        }
        Utf8AcceptsArgument => format!("UTF8 USER={}", st(&cmd(&mut tls(h).await, "UTF8 USER").await)),
        Utf8AfterLoginOk => format!("UTF8 after login={}", st(&cmd(&mut login(h).await, "UTF8").await)),
        Utf8BreaksLogin => {
            let mut c = tls(h).await;
            assert!(cmd(&mut c, "UTF8").await.is_ok());
            cmd(&mut c, "USER mrose").await;
            format!("login after UTF8: {}", st(&cmd(&mut c, "PASS tanstaaf").await))
        }
        Utf8Transcodes => {
            let mut c = tls(h).await;
            assert!(cmd(&mut c, "UTF8").await.is_ok());
            cmd(&mut c, "USER mrose").await;
            assert!(cmd(&mut c, "PASS tanstaaf").await.is_ok());
            let list: usize = cmd(&mut c, "LIST 5").await.text.split(' ').nth(1).unwrap().parse().unwrap();
            let retr = multi(&mut c, "RETR 5").await.body.unwrap().data.len();
            let rel = match list.cmp(&retr) {
                std::cmp::Ordering::Equal => "=",
                std::cmp::Ordering::Less => "<",
                std::cmp::Ordering::Greater => ">",
            };
            format!("in UTF-8 mode: LIST 5 {rel} RETR 5 octets")
        }
        Utf8LossyCredentials => {
            let mut c = tls(h).await;
            let user = raw_cmd(&mut c, b"USER mrose\xff\r\n").await;
            let pass = raw_cmd(&mut c, b"PASS tanstaaf\xff\r\n").await;
            format!("USER mrose<FF>={} PASS tanstaaf<FF>={}", st(&user), st(&pass))
        }
        LangListingBlankLine => {
            let mut c = tls(h).await;
            let before = body_lines(&multi(&mut c, "LANG").await);
            cmd(&mut c, "USER mrose").await;
            assert!(cmd(&mut c, "PASS tanstaaf").await.is_ok());
            let after = body_lines(&multi(&mut c, "LANG").await);
            assert!(before.len() >= 2 && after.len() >= 2, "{before:?} {after:?}");
            let empty = |l: &[String]| l.iter().any(String::is_empty);
            format!("empty line before login: {}, after: {}", empty(&before), empty(&after))
        }
        LangReplyNoTag => {
            let r = cmd(&mut tls(h).await, "LANG de").await;
            format!("LANG de={} {}", st(&r), r.text)
        }
        LangAfterLoginResets => {
            let mut c = login(h).await;
            let lang = cmd(&mut c, "LANG en").await;
            format!("LANG en after login={}, then STAT={}", st(&lang), st(&cmd(&mut c, "STAT").await))
        }
        LangUnknownFallsBack => {
            let r = cmd(&mut tls(h).await, "LANG qaa-x-pop3test").await;
            if r.is_ok() {
                format!("LANG qaa-x-pop3test=+OK {}", r.text)
            } else {
                format!("LANG qaa-x-pop3test={}", st(&r))
            }
        }
        LangLocaleNames => {
            let mut c = tls(h).await;
            let locale = cmd(&mut c, "LANG en_US").await;
            let two = cmd(&mut c, "LANG en de").await;
            format!("LANG en_US={} LANG en de={}", st(&locale), st(&two))
        }
    }
}
