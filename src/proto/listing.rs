//! Typed readings of STAT replies, scan listings (LIST) and unique-id listings (UIDL).
//!
//! RFC 1939 §5: "the positive response consists of "+OK" followed by a single space, the number of
//! messages in the maildrop, a single space, and the size of the maildrop in octets. This memo
//! makes no requirement on what follows the maildrop size." The same holds for scan listings.
//! §7: "The unique-id of a message ... consists of 1 to 70 characters in the range 0x21 to 0x7E".

use super::command::parse_number;
use super::response::Body;
use super::violation::Violation;

/// `msg octets` from a scan listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanListing {
    pub msg: u64,
    pub octets: u64,
}

/// `msg unique-id` from a unique-id listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueIdListing {
    pub msg: u64,
    pub uid: String,
}

/// Parses `nn mm [anything]` (two decimal numbers separated by single spaces).
fn two_numbers(text: &str) -> Option<(u64, u64, &str)> {
    let mut parts = text.splitn(3, ' ');
    let a = parse_number(parts.next()?)?;
    let b = parse_number(parts.next()?)?;
    Some((a, b, parts.next().unwrap_or("")))
}

/// Reads a STAT reply's text: (message count, maildrop octets).
pub fn parse_stat(text: &str) -> Result<(u64, u64), Violation> {
    two_numbers(text).map(|(n, o, _)| (n, o)).ok_or_else(|| Violation::MalformedStat { text: text.to_string() })
}

/// Reads one scan listing (the text of `+OK` to `LIST n`, or a line of the `LIST` body).
pub fn parse_scan_listing(line: &str) -> Result<ScanListing, Violation> {
    two_numbers(line)
        .map(|(msg, octets, _)| ScanListing { msg, octets })
        .ok_or_else(|| Violation::MalformedScanListing { line: line.to_string() })
}

/// Checks a unique-id against RFC 1939 §7.
pub fn check_unique_id(uid: &str) -> Result<(), Violation> {
    let reason = if uid.is_empty() {
        Some("is empty".to_string())
    } else if uid.len() > 70 {
        Some(format!("is {} characters long (limit 70)", uid.len()))
    } else {
        uid.bytes().find(|b| !(0x21..=0x7e).contains(b)).map(|b| format!("contains octet 0x{b:02x} outside 0x21-0x7E"))
    };
    match reason {
        Some(reason) => Err(Violation::InvalidUniqueId { uid: uid.to_string(), reason }),
        None => Ok(()),
    }
}

/// Reads one unique-id listing (`+OK` text to `UIDL n`, or a line of the `UIDL` body).
/// A well-formed line with a bad unique-id yields the listing *and* the violation.
pub fn parse_unique_id_listing(line: &str) -> (Option<UniqueIdListing>, Vec<Violation>) {
    let mut parts = line.splitn(2, ' ');
    let msg = parts.next().and_then(parse_number);
    let uid = parts.next();
    match (msg, uid) {
        (Some(msg), Some(uid)) => {
            let violations = check_unique_id(uid).err().into_iter().collect();
            (Some(UniqueIdListing { msg, uid: uid.to_string() }), violations)
        }
        _ => (None, vec![Violation::MalformedUniqueIdListing { line: line.to_string() }]),
    }
}

/// Every scan listing of a `LIST` body, with violations for malformed lines.
pub fn scan_listings(body: &Body) -> (Vec<ScanListing>, Vec<Violation>) {
    let mut out = Vec::new();
    let mut violations = Vec::new();
    for line in body.lines() {
        match parse_scan_listing(&String::from_utf8_lossy(line)) {
            Ok(s) => out.push(s),
            Err(v) => violations.push(v),
        }
    }
    (out, violations)
}

/// Every unique-id listing of a `UIDL` body, with violations.
pub fn unique_id_listings(body: &Body) -> (Vec<UniqueIdListing>, Vec<Violation>) {
    let mut out = Vec::new();
    let mut violations = Vec::new();
    for line in body.lines() {
        let (l, v) = parse_unique_id_listing(&String::from_utf8_lossy(line));
        out.extend(l);
        violations.extend(v);
    }
    (out, violations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_forms() {
        assert_eq!(parse_stat("2 320"), Ok((2, 320)));
        assert_eq!(parse_stat("2 320 extra text is allowed"), Ok((2, 320)));
        for bad in ["2  320", "2", "two 320", "2 -1", "", " 2 320"] {
            assert!(parse_stat(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scan_listing_forms() {
        assert_eq!(parse_scan_listing("1 120"), Ok(ScanListing { msg: 1, octets: 120 }));
        assert!(parse_scan_listing("1").is_err());
        assert!(parse_scan_listing("1\t120").is_err());
    }

    #[test]
    fn unique_id_rules() {
        assert!(check_unique_id("whqtswO00WBw418f9t5JxYwZ").is_ok());
        assert!(check_unique_id(&"a".repeat(70)).is_ok());
        assert!(check_unique_id(&"a".repeat(71)).is_err());
        assert!(check_unique_id("").is_err());
        assert!(check_unique_id("has space").is_err());
        assert!(check_unique_id("tab\there").is_err());
        assert!(check_unique_id("ünï").is_err());
        let (l, v) = parse_unique_id_listing("1 whqtswO00WBw418f9t5JxYwZ");
        assert_eq!(l.unwrap().uid, "whqtswO00WBw418f9t5JxYwZ");
        assert!(v.is_empty());
        let (l, v) = parse_unique_id_listing("1 bad id");
        assert!(l.is_some());
        assert!(matches!(v[0], Violation::InvalidUniqueId { .. }));
        let (l, v) = parse_unique_id_listing("x");
        assert!(l.is_none());
        assert!(matches!(v[0], Violation::MalformedUniqueIdListing { .. }));
    }

    #[test]
    fn listings_from_body() {
        let body = Body::whole(b"1 120\r\n2 200\r\nbogus\r\n".to_vec(), 3);
        let (l, v) = scan_listings(&body);
        assert_eq!(l, vec![ScanListing { msg: 1, octets: 120 }, ScanListing { msg: 2, octets: 200 }]);
        assert_eq!(v.len(), 1);
    }
}
