//! The server side of SASL for AUTH (RFC 5034): base64 of client data, the PLAIN message
//! (RFC 4616), the LOGIN prompts, and SASLprep (RFC 4013) for user names and passwords. Pure
//! functions; the session drives the exchange.

use base64::Engine;
use std::borrow::Cow;

/// `+ ` challenge of AUTH LOGIN asking for the user name ("Username:" in base64).
pub const LOGIN_USER_PROMPT: &str = "VXNlcm5hbWU6";
/// `+ ` challenge of AUTH LOGIN asking for the password ("Password:" in base64).
pub const LOGIN_PASSWORD_PROMPT: &str = "UGFzc3dvcmQ6";

/// Client data that is not valid base64 (RFC 5034 §4: the server "MUST reject" it with `-ERR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadBase64;

/// Decodes one client response. RFC 5034 §4: an initial response of `=` means "empty"; an empty
/// line is an empty response too.
pub fn decode(data: &str) -> Result<Vec<u8>, BadBase64> {
    if data.is_empty() || data == "=" {
        return Ok(Vec::new());
    }
    base64::engine::general_purpose::STANDARD.decode(data).map_err(|_| BadBase64)
}

/// Splits a PLAIN message `[authzid] NUL authcid NUL passwd` (RFC 4616 §2) into user and
/// password. An authorization identity other than the user itself is refused (`None`), as is
/// anything that is not three UTF-8 fields.
pub fn parse_plain(msg: &[u8]) -> Option<(String, String)> {
    let mut parts = msg.split(|&b| b == 0);
    let (authz, user, pass) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || user.is_empty() || !(authz.is_empty() || authz == user) {
        return None;
    }
    Some((String::from_utf8(user.to_vec()).ok()?, String::from_utf8(pass.to_vec()).ok()?))
}

/// SASLprep (RFC 4013, via the `stringprep` crate): the form user names and passwords are
/// compared in (RFC 6856 §2.2, RFC 4616 §2). `None` when the string holds a character SASLprep
/// prohibits (RFC 4013 §2.3, §2.4), which RFC 6856 §2.2 says servers "MUST reject". The crate
/// prepares stored strings (unassigned code points refused too); RFC 6856 asks query strings for
/// USER and PASS, which only differ there, and a name with an unassigned code point can never
/// equal a stored, prepared one anyway: the login fails either way.
pub fn saslprep(s: &str) -> Option<Cow<'_, str>> {
    stringprep::saslprep(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_splits_plain() {
        let msg = decode("AG1yb3NlAHRhbnN0YWFm").unwrap();
        assert_eq!(parse_plain(&msg), Some(("mrose".into(), "tanstaaf".into())));
        let msg = decode("bXJvc2UAbXJvc2UAdGFuc3RhYWY=").unwrap();
        assert_eq!(parse_plain(&msg), Some(("mrose".into(), "tanstaaf".into())));
        assert_eq!(decode("="), Ok(Vec::new()));
        assert_eq!(decode("!!!"), Err(BadBase64));
        assert_eq!(parse_plain(b""), None);
        assert_eq!(parse_plain(b"other\0mrose\0pw"), None);
        assert_eq!(parse_plain(b"\0mrose\0pw\0x"), None);
        assert_eq!(decode(LOGIN_USER_PROMPT).unwrap(), b"Username:");
        assert_eq!(decode(LOGIN_PASSWORD_PROMPT).unwrap(), b"Password:");
    }

    #[test]
    fn saslprep_maps_normalises_and_prohibits() {
        // RFC 4013 §3's examples: SOFT HYPHEN maps to nothing, NBSP to SPACE, NFKC folds
        // compatibility characters; controls are prohibited.
        assert_eq!(saslprep("I\u{AD}X").as_deref(), Some("IX"));
        assert_eq!(saslprep("user").as_deref(), Some("user"));
        assert_eq!(saslprep("\u{AA}").as_deref(), Some("a"));
        assert_eq!(saslprep("\u{2168}").as_deref(), Some("IX"));
        assert_eq!(saslprep("a\u{A0}b").as_deref(), Some("a b"));
        assert_eq!(saslprep("\u{7}"), None);
        assert_eq!(saslprep("j\u{FC}rgen"), saslprep("ju\u{308}rgen"));
    }
}
