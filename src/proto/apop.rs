//! APOP (RFC 1939 §7): "The 'digest' parameter is calculated by applying the MD5 algorithm to a
//! string consisting of the timestamp (including angle-brackets) followed by a shared secret.
//! ... the 'digest' parameter itself is a 16-octet value which is sent in hexadecimal format,
//! using lower-case ASCII characters."

use md5::{Digest, Md5};

/// MD5(timestamp ‖ secret) as 32 lower-case hex digits.
pub fn digest(timestamp: &str, secret: &str) -> String {
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(secret.as_bytes());
    let out = h.finalize();
    let mut s = String::with_capacity(32);
    for b in out {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The `<...>` timestamp in a greeting's text, angle brackets included. RFC 1939 §7 says it is
/// a msg-id (`<process-ID.clock@hostname>`); any `<...>` with no space inside is taken.
pub fn greeting_timestamp(text: &str) -> Option<&str> {
    let start = text.find('<')?;
    let len = text[start..].find('>')?;
    let ts = &text[start..start + len + 1];
    (!ts.contains(' ') && ts.len() > 2).then_some(ts)
}

/// True when `s` has the form of an APOP digest: 32 lower-case hex digits.
pub fn is_digest_form(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_example_digest() {
        // RFC 1939 §7: "S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>" with the
        // shared secret "tanstaaf" gives "c4c9334bac560ecc979e58001b3e22fb".
        let ts = greeting_timestamp("POP3 server ready <1896.697170952@dbc.mtview.ca.us>").unwrap();
        assert_eq!(ts, "<1896.697170952@dbc.mtview.ca.us>");
        assert_eq!(digest(ts, "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb");
        assert!(is_digest_form("c4c9334bac560ecc979e58001b3e22fb"));
        assert!(!is_digest_form("C4C9334BAC560ECC979E58001B3E22FB"));
    }

    #[test]
    fn greeting_without_timestamp() {
        assert_eq!(greeting_timestamp("POP3 server ready"), None);
        assert_eq!(greeting_timestamp("ready <>"), None);
        assert_eq!(greeting_timestamp("ready <a b>"), None);
    }
}
