//! Byte-stuffing of multi-line responses (RFC 1939 §3), the sending side. The receiving side lives
//! in the response decoder, which undoes it while it scans.

/// Encodes `data` (a message with CRLF line ends) as a multi-line body: every line starting with
/// `.` gets a second `.`, and the terminating `.` CRLF is appended. A last line without a line end
/// gets CRLF first, so the terminator always stands on its own line.
pub fn stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 5);
    stuff_into(data, &mut out);
    out
}

/// [`stuff`] appending to `out`.
pub fn stuff_into(data: &[u8], out: &mut Vec<u8>) {
    let mut at_line_start = true;
    let mut rest = data;
    while !rest.is_empty() {
        if at_line_start && rest[0] == b'.' {
            out.push(b'.');
        }
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                out.extend_from_slice(&rest[..=i]);
                rest = &rest[i + 1..];
                at_line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                out.extend_from_slice(b"\r\n");
                rest = &[];
            }
        }
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::command::Expect;
    use crate::proto::response::{decode, Decoded, Limits};
    use proptest::prelude::*;

    #[test]
    fn stuffs_dot_lines() {
        assert_eq!(stuff(b"a\r\n.\r\n..\r\n.x\r\n"), b"a\r\n..\r\n...\r\n..x\r\n.\r\n");
        assert_eq!(stuff(b""), b".\r\n");
        assert_eq!(stuff(b"no end"), b"no end\r\n.\r\n");
    }

    fn unstuff(wire_body: &[u8]) -> Vec<u8> {
        let mut wire = b"+OK\r\n".to_vec();
        wire.extend_from_slice(wire_body);
        match decode(&wire, Expect::MultiLine, Limits::default()).unwrap() {
            Decoded::Complete(r, used) => {
                assert_eq!(used, wire.len());
                r.body.unwrap().data
            }
            Decoded::Incomplete => panic!("incomplete"),
        }
    }

    proptest! {
        /// unstuff(stuff(body)) == body for any body made of CRLF-terminated lines.
        #[test]
        fn unstuff_inverts_stuff(lines in proptest::collection::vec("[.a-z ]{0,8}", 0..20)) {
            let mut body = Vec::new();
            for l in &lines {
                body.extend_from_slice(l.as_bytes());
                body.extend_from_slice(b"\r\n");
            }
            prop_assert_eq!(unstuff(&stuff(&body)), body);
        }

        /// The same with arbitrary octets inside lines (CR/LF excluded: they make line ends).
        #[test]
        fn unstuff_inverts_stuff_arbitrary_octets(lines in proptest::collection::vec(
            proptest::collection::vec(any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'), 0..40), 0..20)) {
            let mut body = Vec::new();
            for l in &lines {
                body.extend_from_slice(l);
                body.extend_from_slice(b"\r\n");
            }
            prop_assert_eq!(unstuff(&stuff(&body)), body);
        }
    }
}
