//! Decoder tests on byte literals: every server line of RFC 1939's examples (§4–§10), each
//! violation kind, and the incremental properties.

use super::*;
use crate::proto::listing::{parse_scan_listing, parse_stat, scan_listings, unique_id_listings, ScanListing};
use proptest::prelude::*;

fn one(wire: &[u8], expect: Expect) -> Response {
    match decode(wire, expect, Limits::default()).unwrap() {
        Decoded::Complete(r, used) => {
            assert_eq!(used, wire.len(), "consumed all of {:?}", String::from_utf8_lossy(wire));
            r
        }
        Decoded::Incomplete => panic!("incomplete: {:?}", String::from_utf8_lossy(wire)),
    }
}

fn clean(wire: &[u8], expect: Expect) -> Response {
    let r = one(wire, expect);
    assert!(r.violations.is_empty(), "{:?}: {:?}", String::from_utf8_lossy(wire), r.violations);
    r
}

#[test]
fn rfc1939_single_line_examples() {
    use Expect::SingleLine as S;
    let cases: &[(&[u8], Status)] = &[
        (b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n", Status::Ok), // §4, §10
        (b"+OK dewey POP3 server signing off\r\n", Status::Ok),                       // §6
        (b"+OK 2 320\r\n", Status::Ok),                                               // §5 STAT
        (b"+OK 2 200\r\n", Status::Ok),                                               // §5 LIST 2
        (b"-ERR no such message, only 2 messages in maildrop\r\n", Status::Err),      // §5 LIST 3
        (b"+OK message 1 deleted\r\n", Status::Ok),                                   // §5 DELE
        (b"-ERR message 2 already deleted\r\n", Status::Err),                         // §5 DELE
        (b"+OK\r\n", Status::Ok),                                                     // §5 NOOP
        (b"+OK maildrop has 2 messages (320 octets)\r\n", Status::Ok),                // §5 RSET
        (b"+OK dewey POP3 server signing off (maildrop empty)\r\n", Status::Ok),      // §6, §10
        (b"+OK dewey POP3 server signing off (2 messages left)\r\n", Status::Ok),     // §6
        (b"-ERR no such message\r\n", Status::Err),                                   // §7 TOP
        (b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n", Status::Ok),                                // §7 UIDL 2
        (b"-ERR sorry, no mailbox for frated here\r\n", Status::Err),                 // §7 USER
        (b"+OK mrose is a real hoopy frood\r\n", Status::Ok),                         // §7 USER
        (b"+OK mrose's maildrop has 2 messages (320 octets)\r\n", Status::Ok),        // §7 PASS, §10
        (b"-ERR maildrop already locked\r\n", Status::Err),                           // §7 PASS
        (b"+OK maildrop has 1 message (369 octets)\r\n", Status::Ok),                 // §7 APOP
        (b"+OK message 2 deleted\r\n", Status::Ok),                                   // §10
    ];
    for (wire, status) in cases {
        let r = clean(wire, S);
        assert_eq!(r.status, *status);
        assert!(r.body.is_none());
    }
    assert_eq!(parse_stat(&clean(b"+OK 2 320\r\n", S).text), Ok((2, 320)));
    assert_eq!(parse_scan_listing(&clean(b"+OK 2 200\r\n", S).text), Ok(ScanListing { msg: 2, octets: 200 }));
}

#[test]
fn rfc1939_multi_line_examples() {
    // §5 LIST, §10
    let r = clean(b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n", Expect::MultiLine);
    let (l, v) = scan_listings(r.body.as_ref().unwrap());
    assert!(v.is_empty());
    assert_eq!(l, vec![ScanListing { msg: 1, octets: 120 }, ScanListing { msg: 2, octets: 200 }]);
    // §7 UIDL
    let r = clean(b"+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n", Expect::MultiLine);
    let (u, v) = unique_id_listings(r.body.as_ref().unwrap());
    assert!(v.is_empty());
    assert_eq!(u[1].uid, "QhdPYR:00WBw1Ph7x7");
    // §5 RETR / §10 (message text stands in for "<the POP3 server sends the entire message here>")
    let r = clean(b"+OK 120 octets\r\nSubject: hi\r\n\r\nbody\r\n.\r\n", Expect::MultiLine);
    assert_eq!(r.body.as_ref().unwrap().data, b"Subject: hi\r\n\r\nbody\r\n");
    assert_eq!(r.body.as_ref().unwrap().lines, 3);
    // §7 TOP with an empty body, and -ERR to a multi-line command is one line.
    let r = clean(b"+OK\r\n.\r\n", Expect::MultiLine);
    assert_eq!(r.body.unwrap().data, b"");
    let r = clean(b"-ERR no such message\r\n", Expect::MultiLine);
    assert!(r.body.is_none() && r.is_err());
}

#[test]
fn byte_stuffing_is_undone_and_octets_are_exact() {
    let r = clean(b"+OK\r\n..\r\n...\r\n..x\r\nx.\r\n.\r\n", Expect::MultiLine);
    let body = r.body.unwrap();
    assert_eq!(body.data, b".\r\n..\r\n.x\r\nx.\r\n");
    assert_eq!(body.lines, 4);
    // An unstuffed ".x" line from a broken server reads as "x" (RFC 1939 §3 receiving rule).
    let r = one(b"+OK\r\n.x\r\n.\r\n", Expect::MultiLine);
    assert_eq!(r.body.unwrap().data, b"x\r\n");
}

#[test]
fn sasl_continuations() {
    let r = clean(b"+ VXNlcm5hbWU6\r\n", Expect::Sasl);
    assert_eq!((r.status, r.text.as_str()), (Status::Continue, "VXNlcm5hbWU6"));
    let r = clean(b"+ \r\n", Expect::Sasl);
    assert_eq!(r.status, Status::Continue);
    let r = one(b"+ not base64!\r\n", Expect::Sasl);
    assert!(matches!(r.violations[..], [Violation::MalformedChallenge { .. }]));
    let r = one(b"+ abc\r\n", Expect::SingleLine);
    assert_eq!(
        r.violations,
        vec![Violation::UnexpectedContinuation, Violation::MalformedChallenge { text: "abc".into() }]
    );
    assert_eq!(clean(b"+OK Authenticated\r\n", Expect::Sasl).status, Status::Ok);
}

#[test]
fn response_codes() {
    let r = clean(b"-ERR [IN-USE] Do you have another POP session running?\r\n", Expect::SingleLine);
    assert!(r.code.as_ref().unwrap().is("IN-USE"));
    assert_eq!(r.text_after_code(), "Do you have another POP session running?");
    let r = clean(b"-ERR [SYS/TEMP]\r\n", Expect::SingleLine);
    assert!(r.code.unwrap().is("sys/temp"));
    let r = one(b"-ERR [IN-USE maildrop locked\r\n", Expect::SingleLine);
    assert!(r.code.is_none());
    assert!(matches!(r.violations[..], [Violation::MalformedRespCode { .. }]));
    let lenient = Limits { resp_codes: false, ..Limits::default() };
    match decode(b"-ERR [IN-USE maildrop\r\n", Expect::SingleLine, lenient).unwrap() {
        Decoded::Complete(r, _) => assert!(r.violations.is_empty()),
        Decoded::Incomplete => panic!(),
    }
}

#[test]
fn every_line_level_violation() {
    use Expect::SingleLine as S;
    let v = |w: &[u8], e| one(w, e).violations;
    assert_eq!(v(b"+OK\n", S), vec![Violation::BareLf]);
    assert_eq!(v(b"+OK a\rb\r\n", S), vec![Violation::BareCr]);
    assert_eq!(v(b"+OK a\x00b\r\n", S), vec![Violation::Nul]);
    assert_eq!(v(b"+ok fine\r\n", S), vec![Violation::StatusCase { seen: "+ok fine".into() }]);
    assert_eq!(v(b"-err no\r\n", S), vec![Violation::StatusCase { seen: "-err no".into() }]);
    assert_eq!(v(b"+OKAY\r\n", S), vec![Violation::MissingSeparator { seen: "+OKAY".into() }]);
    assert_eq!(v(b"OK ready\r\n", S), vec![Violation::UnknownStatus { seen: "OK ready".into() }]);
    assert_eq!(v(b"\r\n", S), vec![Violation::UnknownStatus { seen: "".into() }]);
    let long = [b"-ERR ".as_slice(), &[b'x'; 600], b"\r\n"].concat();
    assert_eq!(v(&long, S), vec![Violation::LineTooLong { len: 607, limit: 512 }]);
    // 512 octets including CRLF is allowed.
    let ok = [b"-ERR ".as_slice(), &[b'x'; 505], b"\r\n"].concat();
    assert!(v(&ok, S).is_empty());
    // Bare LF in a body, and a body terminated by a bare-LF dot line (best reading: ended).
    let r = one(b"+OK\r\nline\n.\n", Expect::MultiLine);
    assert_eq!(r.violations, vec![Violation::BareLf]);
    assert_eq!(r.body.unwrap().data, b"line\n");
}

#[test]
fn body_line_rules() {
    let long_line = [b"+OK\r\n".as_slice(), &[b'a'; 600], b"\r\n.\r\n"].concat();
    // Message content is exempt from the 512 rule; listings and CAPA are not.
    let dec = |rule| match Decoder::new(Expect::MultiLine, Limits::default()).with_body_rule(rule).decode(&long_line) {
        Ok(Decoded::Complete(r, _)) => r.violations,
        other => panic!("{other:?}"),
    };
    assert!(dec(BodyLineRule::Message).is_empty());
    assert_eq!(dec(BodyLineRule::Listing), vec![Violation::LineTooLong { len: 602, limit: 512 }]);
    assert_eq!(dec(BodyLineRule::Capa), vec![Violation::CapaLineTooLong { len: 602 }]);
}

#[test]
fn resource_limits_are_errors_not_hangs() {
    let small = Limits { max_line: 100, max_response: 1000, ..Limits::default() };
    assert_eq!(decode(&[b'x'; 200], Expect::SingleLine, small), Err(DecodeError::LineTooLong { limit: 100 }));
    let mut big = b"+OK\r\n".to_vec();
    for _ in 0..200 {
        big.extend_from_slice(b"0123456789\r\n");
    }
    let listing = |limits| Decoder::new(Expect::MultiLine, limits).with_body_rule(BodyLineRule::Listing).decode(&big);
    assert_eq!(listing(small), Err(DecodeError::ResponseTooLarge { limit: 1000 }));
    // A message body has its own, larger bound: it is streamed, not held.
    assert_eq!(decode(&big, Expect::MultiLine, small), Ok(Decoded::Incomplete));
    let tiny = Limits { max_message: 1000, ..small };
    assert_eq!(decode(&big, Expect::MultiLine, tiny), Err(DecodeError::ResponseTooLarge { limit: 1000 }));
}

#[test]
fn a_body_beyond_max_kept_is_counted_whole_and_kept_in_part() {
    let limits = Limits { max_kept: 10, ..Limits::default() };
    let r = match decode(b"+OK\r\n0123456789\r\n..x\r\n.\r\n", Expect::MultiLine, limits).unwrap() {
        Decoded::Complete(r, _) => r,
        other => panic!("{other:?}"),
    };
    let b = r.body.unwrap();
    assert_eq!((b.octets, b.lines, b.truncated), (16, 2, true));
    assert_eq!(b.data, b"0123456789");
}

#[test]
fn draining_scanned_octets_mid_body_changes_nothing_but_memory() {
    let wire = b"+OK 3 lines\r\nfirst\r\n..dot\r\nthird line\r\n.\r\nNEXT";
    let whole = decode(wire, Expect::MultiLine, Limits::default()).unwrap();
    // Feed the reply a few octets at a time, dropping what the decoder has scanned each time.
    let mut d = Decoder::new(Expect::MultiLine, Limits::default());
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    let got = loop {
        let take = (fed + 4).min(wire.len());
        buf.extend_from_slice(&wire[fed..take]);
        fed = take;
        match d.decode(&buf).unwrap() {
            Decoded::Complete(r, used) => break Decoded::Complete(r, used + fed - buf.len()),
            Decoded::Incomplete => {
                let n = d.scanned();
                buf.drain(..n);
                d.rebase(n);
            }
        }
    };
    match (whole, got) {
        (Decoded::Complete(a, ua), Decoded::Complete(b, ub)) => {
            assert_eq!(a, b);
            assert_eq!(ua, ub, "the same octets end the reply");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn eof_mid_body_yields_partial_body_with_violation() {
    let wire = b"+OK\r\nfirst\r\nsecond par";
    let mut d = Decoder::new(Expect::MultiLine, Limits::default());
    assert_eq!(d.decode(wire).unwrap(), Decoded::Incomplete);
    let r = d.finish_eof(wire).unwrap();
    assert_eq!(r.violations, vec![Violation::UnterminatedBody]);
    assert_eq!(r.body.unwrap().data, b"first\r\nsecond par");
    let mut d = Decoder::new(Expect::SingleLine, Limits::default());
    assert_eq!(d.decode(b"+OK no end").unwrap(), Decoded::Incomplete);
    assert!(d.finish_eof(b"+OK no end").is_none());
}

#[test]
fn pipelined_responses_decode_one_after_another() {
    let wire = b"+OK\r\n+OK 2 320\r\n+OK\r\n1 120\r\n.\r\n-ERR x\r\n";
    let mut at = 0;
    let mut statuses = Vec::new();
    for e in [Expect::SingleLine, Expect::SingleLine, Expect::MultiLine, Expect::SingleLine] {
        match decode(&wire[at..], e, Limits::default()).unwrap() {
            Decoded::Complete(r, used) => {
                statuses.push(r.status);
                at += used;
            }
            Decoded::Incomplete => panic!(),
        }
    }
    assert_eq!(at, wire.len());
    assert_eq!(statuses, [Status::Ok, Status::Ok, Status::Ok, Status::Err]);
}

fn arb_valid_response() -> impl Strategy<Value = (Vec<u8>, Expect)> {
    let text = "[ -~]{0,60}";
    let line = "[ -~]{0,30}";
    prop_oneof![
        (prop_oneof![Just("+OK"), Just("-ERR")], text)
            .prop_map(|(s, t)| (format!("{s} {t}\r\n").into_bytes(), Expect::SingleLine)),
        (text, proptest::collection::vec(line, 0..10)).prop_map(|(t, lines)| {
            let mut body = Vec::new();
            for l in lines {
                body.extend_from_slice(l.as_bytes());
                body.extend_from_slice(b"\r\n");
            }
            let mut w = format!("+OK {t}\r\n").into_bytes();
            w.extend_from_slice(&crate::proto::stuffing::stuff(&body));
            (w, Expect::MultiLine)
        }),
        "[A-Za-z0-9+/]{0,40}".prop_map(|b| (format!("+ {b}\r\n").into_bytes(), Expect::Sasl)),
    ]
}

proptest! {
    /// Every strict prefix of a valid response is "need more", never an error or a response.
    #[test]
    fn every_strict_prefix_is_incomplete((wire, expect) in arb_valid_response()) {
        for cut in 0..wire.len() {
            prop_assert_eq!(decode(&wire[..cut], expect, Limits::default()), Ok(Decoded::Incomplete));
        }
        prop_assert!(matches!(decode(&wire, expect, Limits::default()), Ok(Decoded::Complete(_, n)) if n == wire.len()));
    }

    /// Feeding a response in arbitrary chunks to one decoder gives the same result as all at once.
    #[test]
    fn chunked_feeding_matches_whole((wire, expect) in arb_valid_response(), cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6)) {
        let whole = decode(&wire, expect, Limits::default()).unwrap();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.sort();
        points.push(wire.len());
        let mut d = Decoder::new(expect, Limits::default());
        for p in points {
            if let done @ Decoded::Complete(..) = d.decode(&wire[..p]).unwrap() {
                prop_assert_eq!(p, wire.len());
                prop_assert_eq!(done, whole);
                return Ok(());
            }
        }
        prop_assert!(false, "never completed");
    }

    /// Arbitrary bytes never panic, whatever the expected framing and limits.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), e in 0..3u8, max_line in 1usize..700) {
        let expect = [Expect::SingleLine, Expect::MultiLine, Expect::Sasl][e as usize];
        let limits = Limits { max_line, max_response: 4096, ..Limits::default() };
        let mut d = Decoder::new(expect, limits);
        if let Ok(Decoded::Incomplete) = d.decode(&bytes) {
            let _ = d.finish_eof(&bytes);
        }
    }
}
