//! The server side of SASL for AUTH (RFC 5034): base64 of client data, the PLAIN message
//! (RFC 4616) and the LOGIN prompts. Pure functions; the session drives the exchange.

use base64::Engine;

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
}
