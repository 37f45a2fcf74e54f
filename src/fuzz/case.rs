//! A rendered case: the bytes to send, in writes, and how they divide into command lines.
//!
//! Lines are cut at LF, as most servers (and the reference server) cut them. A case is *framed*
//! when every line ends with CRLF, is not empty and is at most 255 octets (RFC 2449 §4): then a
//! correct server answers each line exactly once and the model can judge each answer. Otherwise
//! (bare LF, empty lines, over-long lines) servers legitimately differ in how many replies they
//! send, and only the crash, hang and violation oracles apply.

/// One write on the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    /// Wait for the replies to every line sent so far before writing this (SASL continuations
    /// answer a challenge; they cannot be pipelined).
    pub after_replies: bool,
}

/// The bytes of one case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Case {
    pub chunks: Vec<Chunk>,
}

/// RFC 2449 §4: commands up to 255 octets including CRLF must be accepted.
pub const COMMAND_LIMIT: usize = 255;

/// Over this many octets, a command line the server hangs up on is its policy, not a crash: about
/// four times [`COMMAND_LIMIT`], and SMTP's 1000-octet line (RFC 5321 §4.5.3.1.6) with room.
pub const CLOSE_IS_POLICY_ABOVE: usize = 1024;

impl Case {
    /// A single line sent in one write (helpers and tests).
    pub fn line(bytes: &[u8]) -> Case {
        Case { chunks: vec![Chunk { bytes: bytes.to_vec(), after_replies: false }] }
    }

    /// Every byte, in order.
    pub fn wire(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|c| c.bytes.iter().copied()).collect()
    }

    pub fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.bytes.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The command lines, each with its line end.
    pub fn lines(&self) -> Vec<Vec<u8>> {
        self.wire().split_inclusive(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
    }

    /// True when a correct server answers each line exactly once (see the module doc).
    pub fn is_framed(&self) -> bool {
        let wire = self.wire();
        !wire.is_empty()
            && wire
                .split_inclusive(|&b| b == b'\n')
                .all(|l| l.len() > 2 && l.ends_with(b"\r\n") && l.len() <= COMMAND_LIMIT)
    }

    /// The keyword of the last line, upper-cased when it is one of POP3's, for grouping findings.
    pub fn keyword(&self) -> String {
        let lines = self.lines();
        let last = lines.last().map(Vec::as_slice).unwrap_or_default();
        keyword_of(last)
    }

    /// True when any line could be taken for QUIT by a lenient server (the fuzzer never lets a
    /// session that deleted messages end with QUIT: that would commit the deletions).
    pub fn mentions_quit(&self) -> bool {
        self.mentions(b"QUIT")
    }

    /// True when any line could be taken for DELE by a lenient server: a session that sent one
    /// may have messages marked deleted whatever the model made of the reply.
    pub fn mentions_dele(&self) -> bool {
        self.mentions(b"DELE")
    }

    /// True when any line could log in (PASS, APOP, AUTH).
    pub fn mentions_login(&self) -> bool {
        self.mentions(b"PASS") || self.mentions(b"APOP") || self.mentions(b"AUTH")
    }

    fn mentions(&self, keyword: &[u8; 4]) -> bool {
        // The whole wire: a keyword may straddle two writes.
        self.wire().windows(4).any(|w| w.eq_ignore_ascii_case(keyword))
    }

    /// Bytes after the first `after_replies` chunk, if any, belong to SASL continuations.
    pub fn has_interactive(&self) -> bool {
        self.chunks.iter().any(|c| c.after_replies)
    }
}

/// The keyword a line starts with, upper-cased, when it is a POP3 keyword; otherwise a label.
pub fn keyword_of(line: &[u8]) -> String {
    let word: &[u8] = line.split(|&b| b == b' ' || b == b'\r' || b == b'\n').next().unwrap_or_default();
    let upper = word.to_ascii_uppercase();
    match std::str::from_utf8(&upper) {
        Ok(k) if super::strategies::KEYWORDS.contains(&k) => k.to_string(),
        _ if word.is_empty() => "(empty)".to_string(),
        _ => "(other)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_rules() {
        assert!(Case::line(b"STAT\r\n").is_framed());
        assert!(Case::line(b"STAT\r\nLIST 1\r\n").is_framed());
        assert!(!Case::line(b"STAT\nLIST\r\n").is_framed());
        assert!(!Case::line(b"\r\n").is_framed());
        assert!(!Case::line(&[b'A'; 300]).is_framed());
        let mut long = b"USER ".to_vec();
        long.resize(COMMAND_LIMIT - 2, b'a');
        long.extend_from_slice(b"\r\n");
        assert!(Case::line(&long).is_framed());
    }

    #[test]
    fn keywords_group_findings() {
        assert_eq!(Case::line(b"stat\r\n").keyword(), "STAT");
        assert_eq!(Case::line(b"NOOP\r\nretr 1\r\n").keyword(), "RETR");
        assert_eq!(Case::line(b"XYZ 1\r\n").keyword(), "(other)");
        assert_eq!(Case::line(b"\r\n").keyword(), "(empty)");
        assert!(Case::line(b"qUiT\r\n").mentions_quit());
    }
}
