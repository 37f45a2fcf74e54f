//! Unit tests of the sans-IO session: byte literals in, byte literals out.

use super::transaction::top;
use super::*;
use crate::proto::{apop, stuffing};
use crate::server::seed;

fn shared(defects: DefectSet, allow_cleartext: bool) -> Arc<Shared> {
    let users = crate::server::default_users();
    let names: Vec<String> = users.iter().map(|(u, _)| u.clone()).collect();
    Arc::new(Shared {
        defects,
        allow_cleartext,
        users,
        store: Arc::new(Store::memory(&names)),
        stls: true,
        utf8: false,
    })
}

/// A session as if on the implicit-TLS port (logins allowed), of a server without RFC 6856
/// (`session/tests_utf8.rs` tests that part).
fn tls_session(defects: DefectSet) -> Session {
    Session::new(shared(defects, false), true)
}

fn x(s: &mut Session, input: &str) -> String {
    let (out, _) = s.exchange(input.as_bytes());
    String::from_utf8_lossy(&out).into_owned()
}

fn logged_in(defects: DefectSet) -> Session {
    let mut s = tls_session(defects);
    assert_eq!(x(&mut s, "USER mrose\r\nPASS tanstaaf\r\n"), "+OK send PASS\r\n+OK maildrop locked and ready\r\n");
    s
}

fn msgs() -> Vec<Vec<u8>> {
    seed::default_messages()
}

fn total() -> usize {
    msgs().iter().map(Vec::len).sum()
}

#[test]
fn greeting_has_a_unique_apop_timestamp() {
    let sh = shared(DefectSet::none(), false);
    let (a, b) = (Session::new(Arc::clone(&sh), false), Session::new(sh, false));
    let mut g = Vec::new();
    a.greeting(&mut g);
    let g = String::from_utf8(g).unwrap();
    assert!(g.starts_with("+OK ") && g.ends_with("\r\n") && g.len() <= 512, "{g}");
    assert_eq!(apop::greeting_timestamp(&g), Some(a.timestamp()));
    assert!(a.timestamp().ends_with("@pop3test>"));
    assert_ne!(a.timestamp(), b.timestamp());
}

#[test]
fn cleartext_login_refused_before_tls_and_not_advertised() {
    let mut s = Session::new(shared(DefectSet::none(), false), false);
    let capa = x(&mut s, "CAPA\r\n");
    assert!(capa.contains("\r\nSTLS\r\n") && !capa.contains("USER") && !capa.contains("SASL"), "{capa}");
    for line in
        ["USER mrose\r\n", "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n", "AUTH PLAIN AG1yb3NlAHRhbnN0YWFm\r\n"]
    {
        assert_eq!(x(&mut s, line), "-ERR [AUTH] cleartext login disallowed before TLS: use STLS first\r\n");
    }
    assert_eq!(x(&mut s, "AUTH X-UNKNOWN\r\n"), "-ERR unsupported SASL mechanism\r\n");
    assert_eq!(s.state(), SessionState::Authorization);
}

#[test]
fn allow_cleartext_advertises_and_accepts() {
    let mut s = Session::new(shared(DefectSet::none(), true), false);
    let capa = x(&mut s, "CAPA\r\n");
    assert!(capa.contains("\r\nUSER\r\n") && capa.contains("\r\nSASL PLAIN LOGIN\r\n") && capa.contains("STLS"));
    assert_eq!(x(&mut s, "USER mrose\r\nPASS tanstaaf\r\n"), "+OK send PASS\r\n+OK maildrop locked and ready\r\n");
}

#[test]
fn capa_lists_per_state() {
    let mut s = tls_session(DefectSet::none());
    let before = x(&mut s, "CAPA\r\n");
    let want = format!(
        "+OK Capability list follows\r\nUSER\r\nSASL PLAIN LOGIN\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n\
         PIPELINING\r\nEXPIRE NEVER\r\nLOGIN-DELAY 0\r\nIMPLEMENTATION pop3test-{}\r\n.\r\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(before, want);
    x(&mut s, "USER mrose\r\nPASS tanstaaf\r\n");
    let after = x(&mut s, "capa\r\n");
    assert_eq!(after, want.replace("USER\r\nSASL PLAIN LOGIN\r\n", ""));
}

#[test]
fn stls_discards_pipelined_plaintext_and_is_refused_inside_tls() {
    let mut s = Session::new(shared(DefectSet::none(), false), false);
    let (out, step) = s.exchange(b"STLS\r\nCAPA\r\nUSER mrose\r\n");
    assert_eq!((out.as_slice(), step), (&b"+OK Begin TLS negotiation\r\n"[..], Step::StartTls));
    s.tls_started();
    // Nothing of the injected plaintext runs inside TLS.
    assert_eq!(s.exchange(b""), (Vec::new(), Step::Read));
    assert_eq!(x(&mut s, "STLS\r\n"), "-ERR TLS is already active\r\n");
    let capa = x(&mut s, "CAPA\r\n");
    assert!(!capa.contains("STLS") && capa.contains("USER"), "{capa}");
    // STLS after login is refused.
    let mut t = logged_in(DefectSet::none());
    assert_eq!(x(&mut t, "STLS\r\n"), "-ERR command not valid in this state\r\n");
}

#[test]
fn user_pass_sequencing() {
    let mut s = tls_session(DefectSet::none());
    assert_eq!(x(&mut s, "PASS tanstaaf\r\n"), "-ERR PASS must directly follow a successful USER\r\n");
    // Unknown users are not revealed at USER.
    assert_eq!(x(&mut s, "USER nobody\r\n"), "+OK send PASS\r\n");
    assert_eq!(x(&mut s, "PASS x\r\n"), "-ERR [AUTH] invalid user name or password\r\n");
    assert_eq!(x(&mut s, "USER mrose\r\n"), "+OK send PASS\r\n");
    assert_eq!(x(&mut s, "USER mrose\r\n"), "-ERR USER already given: send PASS\r\n");
    // Another command between USER and PASS breaks the sequence.
    x(&mut s, "USER mrose\r\n");
    x(&mut s, "CAPA\r\n");
    assert_eq!(x(&mut s, "PASS tanstaaf\r\n"), "-ERR PASS must directly follow a successful USER\r\n");
    assert_eq!(
        x(&mut s, "USER mrose\r\nPASS wrong\r\n"),
        "+OK send PASS\r\n-ERR [AUTH] invalid user name or password\r\n"
    );
    // Passwords may contain spaces; the rest of the line is the password.
    assert_eq!(
        x(&mut s, "USER mrose\r\nPASS tanstaaf \r\n"),
        "+OK send PASS\r\n-ERR [AUTH] invalid user name or password\r\n"
    );
    assert_eq!(x(&mut s, "user mrose\r\npass tanstaaf\r\n"), "+OK send PASS\r\n+OK maildrop locked and ready\r\n");
    assert_eq!(s.state(), SessionState::Transaction);
    assert_eq!(x(&mut s, "USER mrose\r\n"), "-ERR command not valid in this state\r\n");
    assert_eq!(x(&mut s, "PASS tanstaaf\r\n"), "-ERR command not valid in this state\r\n");
}

#[test]
fn apop_checks_the_digest_of_this_greeting() {
    let mut s = tls_session(DefectSet::none());
    let bad = apop::digest("<other@pop3test>", seed::DEFAULT_PASSWORD);
    assert_eq!(x(&mut s, &format!("APOP mrose {bad}\r\n")), "-ERR [AUTH] invalid user name or password\r\n");
    let good = apop::digest(s.timestamp(), seed::DEFAULT_PASSWORD);
    assert_eq!(x(&mut s, &format!("APOP nobody {good}\r\n")), "-ERR [AUTH] invalid user name or password\r\n");
    assert_eq!(x(&mut s, &format!("APOP mrose {good}\r\n")), "+OK maildrop locked and ready\r\n");
}

#[test]
fn sasl_plain_and_login() {
    let cases: &[(&str, &str)] = &[
        ("AUTH PLAIN AG1yb3NlAHRhbnN0YWFm\r\n", "+OK maildrop locked and ready\r\n"),
        ("AUTH PLAIN\r\nAG1yb3NlAHRhbnN0YWFm\r\n", "+ \r\n+OK maildrop locked and ready\r\n"),
        ("auth plain bXJvc2UAbXJvc2UAdGFuc3RhYWY=\r\n", "+OK maildrop locked and ready\r\n"),
        ("AUTH PLAIN =\r\n", "-ERR [AUTH] invalid user name or password\r\n"),
        ("AUTH PLAIN\r\n*\r\n", "+ \r\n-ERR authentication cancelled\r\n"),
        ("AUTH PLAIN !!notbase64\r\n", "-ERR invalid base64\r\n"),
        ("AUTH PLAIN\r\n%%%\r\n", "+ \r\n-ERR invalid base64\r\n"),
        ("AUTH PLAIN AG1yb3NlAHdyb25n\r\n", "-ERR [AUTH] invalid user name or password\r\n"),
        (
            "AUTH LOGIN\r\nbXJvc2U=\r\ndGFuc3RhYWY=\r\n",
            "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n+OK maildrop locked and ready\r\n",
        ),
        ("AUTH LOGIN bXJvc2U=\r\ndGFuc3RhYWY=\r\n", "+ UGFzc3dvcmQ6\r\n+OK maildrop locked and ready\r\n"),
        ("AUTH LOGIN\r\nbXJvc2U=\r\n*\r\n", "+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n-ERR authentication cancelled\r\n"),
        ("AUTH CRAM-MD5\r\n", "-ERR unsupported SASL mechanism\r\n"),
        ("AUTH\r\n", "+OK SASL mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n"),
    ];
    for (input, want) in cases {
        let mut s = tls_session(DefectSet::none());
        assert_eq!(&x(&mut s, input), want, "{input:?}");
        // After a failed or cancelled exchange the session is usable and still in AUTHORIZATION.
        if !want.ends_with("ready\r\n") {
            assert_eq!(s.state(), SessionState::Authorization);
            assert_eq!(x(&mut s, "NOOP\r\n"), "-ERR command not valid in this state\r\n");
        }
    }
}

#[test]
fn transaction_commands_before_login_are_refused() {
    let mut s = tls_session(DefectSet::none());
    for cmd in ["STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL", "UIDL 1"] {
        assert_eq!(x(&mut s, &format!("{cmd}\r\n")), "-ERR command not valid in this state\r\n", "{cmd}");
    }
}

#[test]
fn malformed_commands_get_short_errors_without_echo() {
    let mut s = logged_in(DefectSet::none());
    let long = format!("FOO {}\r\n", "A".repeat(900));
    for (input, want) in [
        ("FOO\r\n", "-ERR unknown command\r\n"),
        (long.as_str(), "-ERR unknown command\r\n"),
        ("RETR\r\n", "-ERR RETR: missing argument\r\n"),
        ("RETR x\r\n", "-ERR invalid number\r\n"),
        ("RETR -1\r\n", "-ERR invalid number\r\n"),
        ("RETR 1 2\r\n", "-ERR RETR: too many arguments\r\n"),
        ("LIST 1a\r\n", "-ERR invalid number\r\n"),
        ("LIST +1\r\n", "-ERR invalid number\r\n"),
        ("LIST  1\r\n", "-ERR arguments must be separated by a single space\r\n"),
        ("TOP 1\r\n", "-ERR TOP: missing argument\r\n"),
        ("TOP 1 -1\r\n", "-ERR invalid number\r\n"),
        ("\r\n", "-ERR empty command\r\n"),
        ("NO\0OP\r\n", "-ERR command is not printable text\r\n"),
        ("UTF8\r\n", "-ERR command not valid in this state\r\n"),
    ] {
        assert_eq!(x(&mut s, input), want, "{input:?}");
    }
    assert_eq!(x(&mut s, "NOOP\r\n"), "+OK\r\n");
}

#[test]
fn stat_list_retr_report_exact_octets_and_stuff_bodies() {
    let mut s = logged_in(DefectSet::none());
    let m = msgs();
    assert_eq!(x(&mut s, "STAT\r\n"), format!("+OK {} {}\r\n", m.len(), total()));
    let mut want = format!("+OK {} messages ({} octets)\r\n", m.len(), total());
    for (i, msg) in m.iter().enumerate() {
        want.push_str(&format!("{} {}\r\n", i + 1, msg.len()));
    }
    want.push_str(".\r\n");
    assert_eq!(x(&mut s, "LIST\r\n"), want);
    assert_eq!(x(&mut s, "LIST 2\r\n"), format!("+OK 2 {}\r\n", m[1].len()));
    assert_eq!(x(&mut s, "LIST 0\r\n"), "-ERR no such message\r\n");
    assert_eq!(x(&mut s, "LIST 7\r\n"), "-ERR no such message\r\n");
    assert_eq!(x(&mut s, "RETR 4294967297\r\n"), "-ERR no such message\r\n");
    // RETR 2: the byte-stuffing message. Each `.`-initial line gains one dot.
    let (out, _) = s.exchange(b"RETR 2\r\n");
    let mut want = format!("+OK {} octets\r\n", m[1].len()).into_bytes();
    want.extend_from_slice(&stuffing::stuff(&m[1]));
    assert_eq!(out, want);
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("\r\n..\r\n...\r\n..x\r\n....\r\n.. space after dot\r\n"), "{text}");
    // Every message round-trips through the client-side decoder.
    for (i, msg) in m.iter().enumerate() {
        let (out, _) = s.exchange(format!("RETR {}\r\n", i + 1).as_bytes());
        let limits = crate::proto::Limits { max_response: 4 << 20, ..Default::default() };
        match crate::proto::response::decode(&out, crate::proto::Expect::MultiLine, limits).unwrap() {
            crate::proto::Decoded::Complete(r, used) => {
                assert_eq!(used, out.len());
                assert_eq!(r.body.unwrap().data, *msg, "message {}", i + 1);
                assert!(r.violations.is_empty(), "{:?}", r.violations);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn top_sends_headers_blank_line_and_n_body_lines() {
    let mut s = logged_in(DefectSet::none());
    let m1 = &msgs()[0];
    let header_end = memchr::memmem::find(m1, b"\r\n\r\n").unwrap() + 4;
    let (out, _) = s.exchange(b"TOP 1 0\r\n");
    let mut want = b"+OK top of message follows\r\n".to_vec();
    want.extend_from_slice(&stuffing::stuff(&m1[..header_end]));
    assert_eq!(out, want);
    let (out, _) = s.exchange(b"TOP 1 1\r\n");
    assert!(String::from_utf8_lossy(&out).ends_with("\r\n\r\nHello from pop3test.\r\n.\r\n"));
    let (out, _) = s.exchange(b"TOP 1 999999\r\n");
    let mut want = b"+OK top of message follows\r\n".to_vec();
    want.extend_from_slice(&stuffing::stuff(m1));
    assert_eq!(out, want);
    assert_eq!(top(b"Subject: x\r\n\r\n", 5), b"Subject: x\r\n\r\n");
    assert_eq!(top(b"\r\nbody\r\nmore\r\n", 1), b"\r\nbody\r\n");
    assert_eq!(top(b"no blank line\r\n", 0), b"no blank line\r\n");
    assert_eq!(x(&mut s, "TOP 9 1\r\n"), "-ERR no such message\r\n");
}

#[test]
fn dele_rset_and_quit_commit_only_in_update() {
    let sh = shared(DefectSet::none(), false);
    let mut s = Session::new(Arc::clone(&sh), true);
    x(&mut s, "USER mrose\r\nPASS tanstaaf\r\n");
    assert_eq!(x(&mut s, "DELE 1\r\n"), "+OK message 1 deleted\r\n");
    assert_eq!(x(&mut s, "DELE 1\r\n"), "-ERR message already deleted\r\n");
    for cmd in ["RETR 1", "LIST 1", "UIDL 1", "TOP 1 0"] {
        assert_eq!(x(&mut s, &format!("{cmd}\r\n")), "-ERR no such message\r\n", "{cmd}");
    }
    let m = msgs();
    assert_eq!(x(&mut s, "STAT\r\n"), format!("+OK {} {}\r\n", m.len() - 1, total() - m[0].len()));
    assert!(!x(&mut s, "LIST\r\n").contains("\r\n1 "));
    assert_eq!(x(&mut s, "RSET\r\n"), format!("+OK maildrop has {} messages ({} octets)\r\n", m.len(), total()));
    assert_eq!(x(&mut s, "DELE 2\r\nDELE 3\r\n"), "+OK message 2 deleted\r\n+OK message 3 deleted\r\n");
    // A second session is locked out meanwhile.
    let mut other = Session::new(Arc::clone(&sh), true);
    assert_eq!(
        x(&mut other, "USER mrose\r\nPASS tanstaaf\r\n"),
        "+OK send PASS\r\n-ERR [IN-USE] maildrop already locked: is another session active?\r\n"
    );
    let (out, step) = s.exchange(b"QUIT\r\n");
    assert_eq!(
        (String::from_utf8(out).unwrap(), step),
        (format!("+OK pop3test signing off ({} messages left)\r\n", m.len() - 2), Step::Close)
    );
    assert_eq!(s.state(), SessionState::Closed);
    assert!(!sh.store.is_locked("mrose"));
    let mut again = Session::new(sh, true);
    x(&mut again, "USER mrose\r\nPASS tanstaaf\r\n");
    let sizes = m[0].len() + m[3..].iter().map(Vec::len).sum::<usize>();
    assert_eq!(x(&mut again, "STAT\r\n"), format!("+OK {} {sizes}\r\n", m.len() - 2));
}

#[test]
fn connection_lost_commits_nothing_and_unlocks() {
    let sh = shared(DefectSet::none(), false);
    let mut s = Session::new(Arc::clone(&sh), true);
    x(&mut s, "USER mrose\r\nPASS tanstaaf\r\nDELE 1\r\nDELE 2\r\n");
    s.connection_lost();
    drop(s);
    assert!(!sh.store.is_locked("mrose"));
    let mut again = Session::new(sh, true);
    x(&mut again, "USER mrose\r\nPASS tanstaaf\r\n");
    assert_eq!(x(&mut again, "STAT\r\n"), format!("+OK {} {}\r\n", msgs().len(), total()));
}

#[test]
fn quit_in_authorization_closes_without_update() {
    let mut s = tls_session(DefectSet::none());
    assert_eq!(s.exchange(b"QUIT\r\n"), (b"+OK pop3test signing off\r\n".to_vec(), Step::Close));
}

#[test]
fn uidl_is_valid_and_stable_across_sessions() {
    let sh = shared(DefectSet::none(), false);
    let listing = |sh: &Arc<Shared>| {
        let mut s = Session::new(Arc::clone(sh), true);
        x(&mut s, "USER mrose\r\nPASS tanstaaf\r\n");
        let all = x(&mut s, "UIDL\r\n");
        assert_eq!(x(&mut s, "UIDL 2\r\n"), format!("+OK {}\r\n", all.lines().nth(2).unwrap()));
        s.exchange(b"QUIT\r\n");
        all
    };
    let first = listing(&sh);
    assert_eq!(first, listing(&sh));
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), msgs().len() + 2);
    for (i, l) in lines[1..lines.len() - 1].iter().enumerate() {
        let (n, uid) = l.split_once(' ').unwrap();
        assert_eq!(n, (i + 1).to_string());
        assert!(!uid.is_empty() && uid.len() <= 70 && uid.bytes().all(|b| (0x21..=0x7e).contains(&b)), "{uid}");
    }
}

#[test]
fn pipelined_commands_are_all_answered_in_order() {
    let mut s = tls_session(DefectSet::none());
    let out = x(&mut s, "USER mrose\r\nPASS tanstaaf\r\nSTAT\r\nLIST 1\r\nNOOP\r\nQUIT\r\n");
    let m = msgs();
    assert_eq!(
        out,
        format!(
            "+OK send PASS\r\n+OK maildrop locked and ready\r\n+OK {} {}\r\n+OK 1 {}\r\n+OK\r\n+OK pop3test signing off ({} messages left)\r\n",
            m.len(),
            total(),
            m[0].len(),
            m.len()
        )
    );
}

#[test]
fn replies_come_in_bounded_batches() {
    let mut s = logged_in(DefectSet::none());
    s.feed("RETR 6\r\n".repeat(3).as_bytes());
    let mut out = Vec::new();
    assert_eq!(s.poll(&mut out), Step::More);
    let first = out.len();
    assert!(first >= OUT_BATCH && first < 2 * msgs()[5].len(), "{first}");
    out.clear();
    assert_eq!(s.poll(&mut out), Step::More);
    out.clear();
    assert_eq!(s.poll(&mut out), Step::More);
    out.clear();
    assert_eq!(s.poll(&mut out), Step::Read);
    assert!(out.is_empty());
}

#[test]
fn line_limits() {
    let mut s = tls_session(DefectSet::none());
    // RFC 2449 §4: 255 octets including CRLF are accepted.
    let user = format!("USER {}\r\n", "u".repeat(255 - 7));
    assert_eq!(user.len(), 255);
    assert_eq!(x(&mut s, &user), "+OK send PASS\r\n");
    // A line at the limit is a command; one octet more is refused, once, without echo.
    let at_limit = format!("NOOP{}\r\n", " ".repeat(MAX_LINE - 6));
    assert_eq!(x(&mut s, &at_limit), "-ERR arguments must be separated by a single space\r\n");
    let over = format!("NOOP{}\r\n", " ".repeat(MAX_LINE - 5));
    assert_eq!(x(&mut s, &over), "-ERR line too long\r\n");
    // A huge line fed in pieces: answered once when it crosses the limit, never buffered.
    let mut out = Vec::new();
    for _ in 0..1000 {
        s.feed(&[b'A'; 10_000]);
        assert_eq!(s.poll(&mut out), Step::Read);
        assert!(s.inbuf.capacity() < 64 * 1024, "{}", s.inbuf.capacity());
    }
    assert_eq!(out, b"-ERR line too long\r\n");
    assert_eq!(x(&mut s, "AAAA\r\nCAPA\r\n").lines().next(), Some("+OK Capability list follows"));
}

#[test]
fn partial_lines_wait_for_their_end() {
    let mut s = tls_session(DefectSet::none());
    assert_eq!(s.exchange(b"CA"), (Vec::new(), Step::Read));
    assert_eq!(s.exchange(b"PA\r"), (Vec::new(), Step::Read));
    assert!(x(&mut s, "\nUSER mrose\n").ends_with(".\r\n+OK send PASS\r\n"));
}
