//! Unit tests of RFC 6856 in the sans-IO session (UTF8, LANG, SASLprep, localised texts) and of
//! its defects: byte literals in, byte literals out.

use super::*;
use crate::proto::{apop, stuffing};
use crate::server::seed;

fn session_with(defects: DefectSet, utf8: bool, users: Vec<(String, String)>) -> Session {
    let names: Vec<String> = users.iter().map(|(u, _)| u.clone()).collect();
    let store = Arc::new(Store::memory(&names));
    Session::new(Arc::new(Shared { defects, allow_cleartext: false, users, store, stls: true, utf8 }), true)
}

/// A session on the implicit-TLS port of the default (RFC 6856) server.
fn utf8_session(defects: DefectSet) -> Session {
    session_with(defects, true, crate::server::default_users())
}

fn raw(s: &mut Session, input: &[u8]) -> Vec<u8> {
    s.exchange(input).0
}

fn x(s: &mut Session, input: &str) -> String {
    String::from_utf8_lossy(&raw(s, input.as_bytes())).into_owned()
}

fn msgs() -> Vec<Vec<u8>> {
    seed::default_messages()
}

const LOGIN: &[u8] = b"USER mrose\r\nPASS tanstaaf\r\n";
const LOGGED_IN: &[u8] = b"+OK send PASS\r\n+OK maildrop locked and ready\r\n";
const REFUSED_8BIT: &[u8] = b"-ERR [UTF8] message contains UTF-8 content; issue UTF8 first\r\n";

#[test]
fn utf8_and_lang_are_unknown_without_rfc_6856() {
    let mut s = session_with(DefectSet::none(), false, crate::server::default_users());
    let capa = x(&mut s, "CAPA\r\n");
    assert!(!capa.contains("UTF8") && !capa.contains("LANG"), "{capa}");
    assert_eq!(x(&mut s, "UTF8\r\nLANG\r\nLANG en\r\n"), "-ERR not supported\r\n".repeat(3));
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert!(raw(&mut s, b"RETR 5\r\n").iter().any(|&b| b > 0x7f));
    assert_eq!(x(&mut s, "LANG\r\n"), "-ERR not supported\r\n");
}

#[test]
fn utf8_capability_command_and_8bit_messages() {
    let mut s = utf8_session(DefectSet::none());
    let before = x(&mut s, "CAPA\r\n");
    assert!(before.contains("\r\nUTF8 USER\r\nLANG\r\n"), "{before}");
    assert_eq!(raw(&mut s, b"UTF8 USER\r\n"), b"-ERR UTF8: too many arguments\r\n");
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    let after = x(&mut s, "CAPA\r\n");
    assert!(after.contains("\r\nUTF8 USER\r\nLANG\r\n"), "{after}");
    // Not in UTF-8 mode: message 5 (8bit) is refused, message 1 (ASCII) is not; LIST unchanged.
    assert_eq!(raw(&mut s, b"RETR 5\r\n"), REFUSED_8BIT);
    assert_eq!(raw(&mut s, b"TOP 5 1\r\n"), REFUSED_8BIT);
    // Its headers alone are ASCII: TOP 5 0 sends nothing outside ASCII.
    let top = raw(&mut s, b"TOP 5 0\r\n");
    assert!(top.starts_with(b"+OK ") && top.is_ascii() && top.ends_with(b"\r\n\r\n.\r\n"));
    assert!(x(&mut s, "RETR 1\r\n").starts_with("+OK "));
    assert_eq!(x(&mut s, "LIST 5\r\n"), format!("+OK 5 {}\r\n", msgs()[4].len()));
    // UTF8 is an AUTHORIZATION command.
    assert_eq!(raw(&mut s, b"UTF8\r\n"), b"-ERR command not valid in this state\r\n");
    assert_eq!(s.state(), SessionState::Transaction);

    // In UTF-8 mode the message goes out as stored, no state change before login.
    let mut s = utf8_session(DefectSet::none());
    assert_eq!(raw(&mut s, b"utf8\r\n"), b"+OK UTF8 mode enabled\r\n");
    assert_eq!(s.state(), SessionState::Authorization);
    assert_eq!(raw(&mut s, b"STAT\r\n"), b"-ERR command not valid in this state\r\n");
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    let mut want = format!("+OK {} octets\r\n", msgs()[4].len()).into_bytes();
    stuffing::stuff_into(&msgs()[4], &mut want);
    assert_eq!(raw(&mut s, b"RETR 5\r\n"), want);

    // The defect sends it as is without UTF8.
    let mut s = utf8_session(Defect::Utf8EightBitAsIs.into());
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert_eq!(raw(&mut s, b"RETR 5\r\n"), want);
}

#[test]
fn utf8_invalid_credentials_never_log_in() {
    let mut s = utf8_session(DefectSet::none());
    assert_eq!(raw(&mut s, b"USER mrose\xff\r\nPASS tanstaaf\r\n")[..5], *b"-ERR ");
    assert_eq!(s.state(), SessionState::Authorization);
    let out = raw(&mut s, b"USER mrose\r\nPASS tanstaaf\xff\r\n");
    assert!(out.starts_with(b"+OK send PASS\r\n-ERR "), "{}", String::from_utf8_lossy(&out));
    assert_eq!(raw(&mut s, b"APOP mrose\xff c4c9334bac560ecc979e58001b3e22fb\r\n")[..5], *b"-ERR ");
    assert_eq!(s.state(), SessionState::Authorization);

    // utf8-lossy-credentials drops the invalid octets and logs in.
    let mut s = utf8_session(Defect::Utf8LossyCredentials.into());
    assert_eq!(raw(&mut s, b"USER mrose\xff\r\nPASS tanstaaf\xff\r\n"), LOGGED_IN);
}

#[test]
fn utf8_credentials_are_compared_after_saslprep() {
    // Stored in NFC with a soft hyphen; sent decomposed and without it (RFC 4013 §2.1, §2.2).
    let users = vec![("j\u{fc}r\u{ad}gen".to_string(), "p\u{e4}ss\u{2168}".to_string())];
    let mut s = session_with(DefectSet::none(), true, users.clone());
    let out = raw(&mut s, "USER ju\u{308}rgen\r\nPASS pa\u{308}ssIX\r\n".as_bytes());
    assert_eq!(out, LOGGED_IN, "{}", String::from_utf8_lossy(&out));
    // AUTH PLAIN goes through the same comparison.
    let mut s = session_with(DefectSet::none(), true, users.clone());
    let plain = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "\0ju\u{308}rgen\0p\u{e4}ssIX");
    assert!(x(&mut s, &format!("AUTH PLAIN {plain}\r\n")).starts_with("+OK "));
    // APOP digests the prepared password.
    let mut s = session_with(DefectSet::none(), true, users.clone());
    let digest = apop::digest(s.timestamp(), "p\u{e4}ssIX");
    assert!(x(&mut s, &format!("APOP j\u{fc}rgen {digest}\r\n")).starts_with("+OK "));
    // A prohibited character (RFC 4013 §2.3: a control) is refused, never mapped away.
    let mut s = session_with(DefectSet::none(), true, users.clone());
    let out = x(&mut s, "USER j\u{fc}rgen\r\nPASS p\u{e4}ssIX\u{85}\r\n");
    assert!(out.ends_with("-ERR [AUTH] invalid user name or password\r\n"), "{out}");
    // Without RFC 6856 the comparison is exact.
    let mut s = session_with(DefectSet::none(), false, users);
    assert!(x(&mut s, "USER ju\u{308}rgen\r\nPASS pa\u{308}ssIX\r\n").contains("-ERR [AUTH]"));
}

#[test]
fn lang_lists_and_selects() {
    let mut s = utf8_session(DefectSet::none());
    let listing = b"+OK Supported languages follow\r\nen English\r\nde Deutsch\r\n.\r\n";
    assert_eq!(raw(&mut s, b"LANG\r\n"), listing);
    assert_eq!(raw(&mut s, b"LANG en\r\n"), b"+OK en Language set to English\r\n");
    assert_eq!(raw(&mut s, b"lang DE\r\n"), b"+OK de Sprache auf Deutsch gestellt\r\n");
    assert_eq!(raw(&mut s, b"LANG *\r\n"), b"+OK en Language set to English\r\n");
    for bad in
        [&b"LANG qaa-x-pop3test\r\n"[..], b"LANG en_US\r\n", b"LANG en-\r\n", b"LANG abcdefghi\r\n", b"LANG en-US\r\n"]
    {
        assert_eq!(raw(&mut s, bad), b"-ERR invalid language\r\n", "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(raw(&mut s, b"LANG en de\r\n"), b"-ERR invalid language\r\n");
    assert_eq!(s.state(), SessionState::Authorization);
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert_eq!(raw(&mut s, b"LANG\r\n"), listing);
    assert_eq!(raw(&mut s, b"LANG de\r\n"), b"+OK de Sprache auf Deutsch gestellt\r\n");
    assert_eq!(s.state(), SessionState::Transaction);
}

#[test]
fn err_texts_follow_the_selected_language() {
    let mut s = utf8_session(DefectSet::none());
    assert_eq!(x(&mut s, "STAT\r\n"), "-ERR command not valid in this state\r\n");
    assert!(x(&mut s, "LANG de\r\n").starts_with("+OK de "));
    let german = [
        ("STAT\r\n", "-ERR Befehl in diesem Zustand nicht erlaubt\r\n"),
        ("PASS x\r\n", "-ERR PASS muss direkt auf ein erfolgreiches USER folgen\r\n"),
        ("FOO\r\n", "-ERR unbekannter Befehl\r\n"),
        ("LIST x\r\n", "-ERR ungueltige Zahl\r\n"),
        ("RETR\r\n", "-ERR RETR: Argument fehlt\r\n"),
        ("AUTH CRAM-MD5\r\n", "-ERR SASL-Mechanismus nicht unterstuetzt\r\n"),
        (
            "USER mrose\r\nPASS wrong\r\n",
            "+OK send PASS\r\n-ERR [AUTH] ungueltiger Benutzername oder ungueltiges Passwort\r\n",
        ),
        // RFC 6856 §3.2: after a failed LANG the previous language stays.
        ("LANG qaa\r\n", "-ERR ungueltige Sprache\r\n"),
    ];
    for (input, want) in german {
        assert_eq!(x(&mut s, input), want, "{input:?}");
    }
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert_eq!(x(&mut s, "RETR 5\r\n"), "-ERR [UTF8] Nachricht enthaelt UTF-8: erst UTF8 senden\r\n");
    assert_eq!(x(&mut s, "DELE 9\r\n"), "-ERR keine solche Nachricht\r\n");
    assert!(x(&mut s, "LANG en\r\n").starts_with("+OK en "));
    assert_eq!(x(&mut s, "DELE 9\r\n"), "-ERR no such message\r\n");
}

#[test]
fn utf8_defects_change_only_their_behaviour() {
    let capa = |s: &mut Session| x(s, "CAPA\r\n");
    let mut s = utf8_session(Defect::Utf8CapaImapStyle.into());
    let before = capa(&mut s);
    assert!(before.contains("\r\nUTF8=ACCEPT\r\n") && !before.contains("UTF8 USER"), "{before}");
    assert_eq!(raw(&mut s, b"UTF8\r\n"), b"+OK UTF8 mode enabled\r\n");
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert!(capa(&mut s).contains("\r\nUTF8=ACCEPT\r\nUTF8 USER\r\n"));

    let mut s = utf8_session(Defect::Utf8CapaChangesAfterLogin.into());
    assert!(capa(&mut s).contains("\r\nUTF8 USER\r\n"));
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    let after = capa(&mut s);
    assert!(after.contains("\r\nUTF8\r\n") && !after.contains("UTF8 USER"), "{after}");

    let mut s = utf8_session(Defect::Utf8SkipsAuthorization.into());
    assert_eq!(x(&mut s, "STAT\r\n"), "-ERR command not valid in this state\r\n");
    assert_eq!(raw(&mut s, b"UTF8\r\nSTAT\r\n"), b"+OK UTF8 mode enabled\r\n+OK 0 0\r\n");
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);

    let mut s = utf8_session(Defect::Utf8AcceptsArgument.into());
    assert_eq!(raw(&mut s, b"UTF8 USER\r\n"), b"+OK UTF8 mode enabled\r\n");

    let mut s = utf8_session(Defect::Utf8AfterLoginOk.into());
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert_eq!(raw(&mut s, b"UTF8\r\n"), b"+OK UTF8 mode enabled\r\n");
    assert_eq!(s.state(), SessionState::Transaction);

    let mut s = utf8_session(Defect::Utf8BreaksLogin.into());
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN, "without UTF8 the login works");
    let mut s = utf8_session(Defect::Utf8BreaksLogin.into());
    let out = x(&mut s, "UTF8\r\nUSER mrose\r\nPASS tanstaaf\r\n");
    assert!(out.ends_with("-ERR [AUTH] invalid user name or password\r\n"), "{out}");

    let mut s = utf8_session(Defect::Utf8Transcodes.into());
    assert_eq!(raw(&mut s, b"UTF8\r\n"), b"+OK UTF8 mode enabled\r\n");
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    let size = msgs()[4].len();
    let out = raw(&mut s, b"RETR 5\r\n");
    assert!(out.starts_with(format!("+OK {size} octets\r\n").as_bytes()));
    assert!(out.windows(3).any(|w| w == "\u{FFFD}".as_bytes()) && !out.contains(&0xe9));
    assert!(x(&mut s, "RETR 1\r\n").ends_with("This is the first message.\r\n.\r\n"), "ASCII mail unchanged");
}

#[test]
fn lang_defects_change_only_their_behaviour() {
    let listing = "+OK Supported languages follow\r\nen English\r\nde Deutsch\r\n.\r\n";
    let mut s = utf8_session(Defect::LangCapaAfterLoginOnly.into());
    assert!(!x(&mut s, "CAPA\r\n").contains("LANG"));
    assert_eq!(x(&mut s, "LANG\r\n"), listing);
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert!(x(&mut s, "CAPA\r\n").contains("\r\nLANG\r\n"));

    let mut s = utf8_session(Defect::LangListingBlankLine.into());
    assert_eq!(x(&mut s, "LANG\r\n"), listing.replace("\r\n.\r\n", "\r\n\r\n.\r\n"));
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert_eq!(x(&mut s, "LANG\r\n"), listing, "after login the listing is right");

    let mut s = utf8_session(Defect::LangReplyNoTag.into());
    assert_eq!(x(&mut s, "LANG de\r\n"), "+OK Language changed\r\n");
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert_eq!(x(&mut s, "LANG en\r\n"), "+OK en Language set to English\r\n");

    let mut s = utf8_session(Defect::LangAfterLoginResets.into());
    assert_eq!(x(&mut s, "LANG en\r\n"), "+OK en Language set to English\r\n");
    assert_eq!(s.state(), SessionState::Authorization);
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN);
    assert_eq!(x(&mut s, "LANG en\r\n"), "+OK en Language set to English\r\n");
    assert_eq!(s.state(), SessionState::Authorization);
    assert_eq!(x(&mut s, "STAT\r\n"), "-ERR command not valid in this state\r\n");
    assert_eq!(raw(&mut s, LOGIN), LOGGED_IN, "the lock went with the reset");

    let mut s = utf8_session(Defect::LangUnknownFallsBack.into());
    assert_eq!(x(&mut s, "LANG qaa-x-pop3test\r\n"), "+OK en Language set to English\r\n");
    assert_eq!(x(&mut s, "LANG en_US\r\n"), "-ERR invalid language\r\n");

    let mut s = utf8_session(Defect::LangLocaleNames.into());
    assert_eq!(x(&mut s, "LANG de_DE.UTF-8\r\n"), "+OK de Sprache auf Deutsch gestellt\r\n");
    assert_eq!(x(&mut s, "LANG en de\r\n"), "+OK en Language set to English\r\n");
    assert_eq!(x(&mut s, "LANG qaa-x-pop3test\r\n"), "-ERR invalid language\r\n");
}
