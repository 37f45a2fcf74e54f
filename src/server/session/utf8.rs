//! RFC 6856 in the reference server (with `Shared::utf8`, the default): the UTF8 and LANG
//! capabilities, the UTF8 command and UTF-8 mode, 8-bit content outside it, SASLprep'd
//! credentials, and the languages of reply texts. Its defects live here too.

use super::{Session, Step};
use crate::proto::{Command, CommandError, SessionState};
use crate::server::defects::Defect;
use crate::server::sasl;
use std::borrow::Cow;
use std::sync::Arc;

/// RFC 6856 §3.2 LANG: `(tag, name in the language, reply text when selected)`, lowercase tags;
/// the first is the administrator's preference (`LANG *`) and the language sessions start in.
/// Texts stay ASCII, so they need no UTF-8 mode.
pub(super) const LANGUAGES: &[(&str, &str, &str)] =
    &[("en", "English", "Language set to English"), ("de", "Deutsch", "Sprache auf Deutsch gestellt")];

/// German for every fixed `-ERR` text the server sends (the English text is the key); a text
/// missing here would stay English (`session/tests.rs` walks a German session through them).
const GERMAN: &[(&str, &str)] = &[
    ("PASS must directly follow a successful USER", "PASS muss direkt auf ein erfolgreiches USER folgen"),
    ("STLS not available", "STLS nicht verfuegbar"),
    ("TLS is already active", "TLS ist bereits aktiv"),
    ("USER already given: send PASS", "USER bereits angegeben: bitte PASS senden"),
    ("authentication cancelled", "Authentifizierung abgebrochen"),
    ("cannot open the maildrop, try again later", "Postfach nicht zu oeffnen, bitte spaeter erneut versuchen"),
    ("cleartext login disallowed before TLS: use STLS first", "Klartext-Anmeldung vor TLS verboten: erst STLS"),
    ("command not implemented", "Befehl nicht implementiert"),
    ("command not valid in this state", "Befehl in diesem Zustand nicht erlaubt"),
    ("invalid base64", "ungueltiges Base64"),
    ("invalid language", "ungueltige Sprache"),
    ("invalid user name or password", "ungueltiger Benutzername oder ungueltiges Passwort"),
    ("line too long", "Zeile zu lang"),
    ("maildrop already locked: is another session active?", "Postfach bereits gesperrt: laeuft eine andere Sitzung?"),
    ("message already deleted", "Nachricht bereits geloescht"),
    ("message contains UTF-8 content; issue UTF8 first", "Nachricht enthaelt UTF-8: erst UTF8 senden"),
    ("no such message", "keine solche Nachricht"),
    ("no such user", "kein solcher Benutzer"),
    ("not supported", "nicht unterstuetzt"),
    ("session is over", "Sitzung ist beendet"),
    ("some deleted messages could not be removed", "einige geloeschte Nachrichten konnten nicht entfernt werden"),
    ("unknown command", "unbekannter Befehl"),
    ("unsupported SASL mechanism", "SASL-Mechanismus nicht unterstuetzt"),
    // The parser's errors (`proto::CommandError`), some after `KEYWORD: `.
    ("empty command", "leerer Befehl"),
    ("command is not printable text", "Befehl ist kein druckbarer Text"),
    ("missing argument", "Argument fehlt"),
    ("too many arguments", "zu viele Argumente"),
    ("invalid number", "ungueltige Zahl"),
    ("arguments must be separated by a single space", "Argumente muessen durch genau ein Leerzeichen getrennt sein"),
];

impl Session {
    /// RFC 6856 §3.2: LANG "requests that human-readable text included in all subsequent +OK and
    /// -ERR responses be localized"; here the fixed `-ERR` texts are.
    pub(super) fn localise<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.lang != 1 {
            return Cow::Borrowed(text);
        }
        let german = |t: &str| GERMAN.iter().find(|(en, _)| *en == t).map(|(_, de)| *de);
        if let Some(de) = german(text) {
            return Cow::Borrowed(de);
        }
        match text.split_once(": ") {
            Some((kw, rest)) => match german(rest) {
                Some(de) => Cow::Owned(format!("{kw}: {de}")),
                None => Cow::Borrowed(text),
            },
            None => Cow::Borrowed(text),
        }
    }

    /// The RFC 6856 CAPA lines. §2: "CAPA tag: UTF8", "Arguments with CAPA tag: USER",
    /// "Announced states / possible differences: both / no"; §3.1: "CAPA tag: LANG", "Arguments
    /// with CAPA tag: none", "Announced states / possible differences: both / no".
    pub(super) fn rfc6856_capabilities(&self) -> Vec<&'static str> {
        let authz = self.state == SessionState::Authorization;
        let mut caps = Vec::new();
        let imap_style = self.has(Defect::Utf8CapaImapStyle);
        if imap_style {
            // Kept after login too: a tag listed in AUTHORIZATION stays listed (RFC 2449 §5).
            caps.push("UTF8=ACCEPT");
        }
        if !(authz && imap_style) {
            let after_login_changed = !authz && self.has(Defect::Utf8CapaChangesAfterLogin);
            caps.push(if after_login_changed { "UTF8" } else { "UTF8 USER" });
        }
        if !(authz && self.has(Defect::LangCapaAfterLoginOnly)) {
            caps.push("LANG");
        }
        caps
    }

    /// The UTF8 command in AUTHORIZATION (RFC 6856 §2.1): it "switches the session from the
    /// ASCII-only mode of POP3 [RFC1939] to UTF-8 mode"; a mode switch, no state change.
    pub(super) fn utf8(&mut self, out: &mut Vec<u8>) -> Step {
        self.utf8_mode = true;
        self.ok(out, "UTF8 mode enabled")
    }

    /// LANG (RFC 6856 §3.2), valid in AUTHORIZATION and TRANSACTION: without an argument the
    /// listing, with a basic language range (RFC 4647 §2.1) the first offered tag it matches.
    pub(super) fn lang(&mut self, range: Option<String>, out: &mut Vec<u8>) -> Step {
        let authz = self.state == SessionState::Authorization;
        let Some(range) = range else {
            // §3.2: "for each language tag the server supports, the POP3 server responds with a
            // line for that language": "the language tag [RFC5646] of the message, optionally
            // followed by a single space and a human-readable description of the language in the
            // language itself".
            self.ok(out, "Supported languages follow");
            for (tag, name, _) in LANGUAGES {
                self.line(out, &format!("{tag} {name}"));
            }
            if authz && self.has(Defect::LangListingBlankLine) {
                self.line(out, "");
            }
            self.end(out);
            return Step::Read;
        };
        let range = match self.has(Defect::LangLocaleNames) {
            true => range.split(['_', '.']).next().unwrap_or_default().to_string(),
            false => range,
        };
        // §3.2: "A request to use a language designated as preferred by the server administrator"
        // is `*`; otherwise RFC 4647 §3.3.1 basic filtering (equal, or a prefix followed by `-`).
        let chosen = if range == "*" {
            Some(0)
        } else if basic_range(&range) {
            let range = range.to_ascii_lowercase();
            let found = LANGUAGES.iter().position(|(tag, _, _)| *tag == range || tag.starts_with(&format!("{range}-")));
            found.or_else(|| self.has(Defect::LangUnknownFallsBack).then_some(0))
        } else {
            None
        };
        let Some(i) = chosen else {
            // §3.2: "If the command fails, the server returns an -ERR response and subsequent
            // human-readable response text continues to use the language that was previously used."
            return self.err(out, None, "invalid language");
        };
        self.lang = i;
        if authz && self.has(Defect::LangReplyNoTag) {
            return self.ok(out, "Language changed");
        }
        // §3.2: "If the command succeeds, the server returns a +OK response followed by a single
        // space, the exact language tag selected, and another space."
        let (tag, _, text) = LANGUAGES[i];
        let step = self.ok(out, &format!("{tag} {text}"));
        if !authz && self.has(Defect::LangAfterLoginResets) {
            // The lock goes with the snapshot; nothing is committed (no UPDATE state).
            self.txn = None;
            self.state = SessionState::Authorization;
        }
        step
    }

    /// RFC 6856 §2.1: "When UTF-8 mode has not been enabled, character strings outside the ASCII
    /// repertoire MUST NOT be sent to the client as is. If a client requests a UTF-8 message when
    /// UTF-8 mode is not enabled, the server MUST either send the client a surrogate message ...
    /// or fail the request with an -ERR response." Here RETR and TOP of such content are refused
    /// with `-ERR [UTF8]` (§5); `sent` is what would go out (for TOP the requested part only).
    pub(super) fn refuses_8bit(&self, sent: &[u8]) -> bool {
        self.shared.utf8 && !self.utf8_mode && !self.has(Defect::Utf8EightBitAsIs) && !sent.is_ascii()
    }

    /// What RETR/TOP send of a stored message: in UTF-8 mode the octets as stored (§2.1: the
    /// LIST size "SHOULD match the actual number of octets sent in a RETR response"); with
    /// `utf8-transcodes`, re-encoded.
    pub(super) fn as_sent(&self, data: Arc<[u8]>) -> Arc<[u8]> {
        if self.utf8_mode && self.has(Defect::Utf8Transcodes) && std::str::from_utf8(&data).is_err() {
            return String::from_utf8_lossy(&data).into_owned().into_bytes().into();
        }
        data
    }

    /// RFC 6856 §2.2: "Servers that include the USER argument in the UTF8 CAPA response entry MUST
    /// also apply SASLprep [RFC4013] ... to the arguments of the USER and PASS commands", and
    /// "servers MUST reject UTF-8 usernames or passwords that contain a Unicode character listed
    /// in Section 2.3 of SASLprep". The account `user` names when `password` is its password,
    /// both compared after SASLprep (exactly, without RFC 6856).
    pub(super) fn account(&self, user: &str, password: &str) -> Option<String> {
        let (name, stored) = self.find_user(user)?;
        let good = if self.shared.utf8 {
            matches!((sasl::saslprep(password), sasl::saslprep(stored)), (Some(a), Some(b)) if a == b)
        } else {
            password == stored
        };
        good.then(|| name.to_string())
    }

    /// The account `user` names and its password (SASLprep'd comparison with RFC 6856).
    pub(super) fn find_user(&self, user: &str) -> Option<(&str, &str)> {
        if !self.shared.utf8 {
            return self.shared.users.iter().find(|(u, _)| u == user).map(|(u, p)| (u.as_str(), p.as_str()));
        }
        let want = sasl::saslprep(user)?;
        self.shared
            .users
            .iter()
            .find(|(u, _)| sasl::saslprep(u).is_some_and(|u| u == want))
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Lines the strict parser refused that an RFC 6856 defect accepts.
    pub(super) fn rfc6856_quirk(&self, raw: &[u8], e: &CommandError) -> Option<Command> {
        if !self.shared.utf8 {
            return None;
        }
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let word = |i: usize| line.split(|&b| b == b' ').nth(i).map(|w| String::from_utf8_lossy(w).into_owned());
        let keyword = word(0).unwrap_or_default().to_ascii_uppercase();
        match e {
            CommandError::TooManyArguments("UTF8") if self.has(Defect::Utf8AcceptsArgument) => Some(Command::Utf8),
            CommandError::TooManyArguments("LANG") if self.has(Defect::LangLocaleNames) => Some(Command::Lang(word(1))),
            CommandError::NotText if self.has(Defect::Utf8LossyCredentials) => {
                // Invalid octets dropped, the rest kept: `mrose<FF>` becomes `mrose`.
                let text: String = String::from_utf8_lossy(line).chars().filter(|&c| c != '\u{FFFD}').collect();
                let arg = text.split_once(' ').map(|(_, a)| a.to_string()).filter(|a| !a.is_empty())?;
                match keyword.as_str() {
                    "USER" => Some(Command::User(arg)),
                    "PASS" => Some(Command::Pass(arg)),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// RFC 4647 §2.1 basic language range without `*`: `1*8ALPHA *("-" 1*8alphanum)`.
fn basic_range(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or("");
    let ok = |p: &str, f: fn(&u8) -> bool| (1..=8).contains(&p.len()) && p.as_bytes().iter().all(f);
    ok(first, u8::is_ascii_alphabetic) && parts.all(|p| ok(p, u8::is_ascii_alphanumeric))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_ranges_follow_rfc_4647() {
        for good in ["en", "de", "en-US", "zh-Hant-TW", "qaa-x-pop3test"] {
            assert!(basic_range(good), "{good}");
        }
        for bad in ["", "en_US", "en-", "-en", "e1", "abcdefghi", "en--us", "en.UTF-8"] {
            assert!(!basic_range(bad), "{bad}");
        }
    }

    #[test]
    fn german_texts_are_ascii_and_distinct() {
        for (en, de) in GERMAN {
            assert!(de.is_ascii() && en != de, "{en}");
        }
    }
}
