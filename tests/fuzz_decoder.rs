//! The tool's own response parser under arbitrary bytes: every framing, every body-line rule,
//! fed whole or in arbitrary pieces. It must never panic, never read past what it was given, and
//! feeding in pieces must give the same response as feeding everything at once.

use pop3test::proto::{BodyLineRule, DecodeError, Decoded, Decoder, Expect, Limits, Response};
use proptest::prelude::*;

fn framing() -> impl Strategy<Value = Expect> {
    prop_oneof![Just(Expect::SingleLine), Just(Expect::MultiLine), Just(Expect::Sasl)]
}

fn rule() -> impl Strategy<Value = BodyLineRule> {
    prop_oneof![Just(BodyLineRule::Message), Just(BodyLineRule::Listing), Just(BodyLineRule::Capa)]
}

/// Bytes biased towards what makes POP3 framing interesting.
fn wire() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => proptest::collection::vec(any::<u8>(), 0..16),
        2 => proptest::sample::select(vec![
            b"+OK ".to_vec(), b"-ERR ".to_vec(), b"+ ".to_vec(), b"\r\n".to_vec(), b"\n".to_vec(),
            b".\r\n".to_vec(), b"..".to_vec(), b"\r".to_vec(), b"[IN-USE] ".to_vec(), b"+ok".to_vec(),
            b"\0".to_vec(), b"1 120\r\n".to_vec(), b"\xff\xfe".to_vec(),
        ]),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn limits() -> impl Strategy<Value = Limits> {
    (16usize..2048, 64usize..8192, 0usize..4096, any::<bool>()).prop_map(
        |(max_line, max_response, max_kept, resp_codes)| Limits {
            max_line,
            max_response,
            max_message: max_response,
            max_kept,
            response_line: 512,
            resp_codes,
        },
    )
}

/// Feeds `buf` in pieces cut at `cuts`; returns the final outcome and how many bytes were used.
fn feed(mut d: Decoder, buf: &[u8], cuts: &[usize]) -> Result<Option<(Response, usize)>, DecodeError> {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (buf.len() + 1)).collect();
    ends.push(buf.len());
    ends.sort_unstable();
    for end in ends {
        match d.decode(&buf[..end])? {
            Decoded::Complete(r, used) => {
                assert!(used <= end, "used {used} of {end}");
                return Ok(Some((r, used)));
            }
            Decoded::Incomplete => {}
        }
    }
    let _ = d.finish_eof(buf);
    Ok(None)
}

/// As [`feed`], but the way the connection streams a long reply: after every `Incomplete` the
/// octets the decoder has scanned leave the buffer. The outcome must be the same as reading whole.
fn feed_draining(mut d: Decoder, buf: &[u8], cuts: &[usize]) -> Result<Option<(Response, usize)>, DecodeError> {
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (buf.len() + 1)).collect();
    ends.push(buf.len());
    ends.sort_unstable();
    let (mut held, mut dropped) = (Vec::new(), 0usize);
    for end in ends {
        held.extend_from_slice(&buf[dropped + held.len()..end]);
        match d.decode(&held)? {
            Decoded::Complete(r, used) => return Ok(Some((r, dropped + used))),
            Decoded::Incomplete => {
                let n = d.scanned();
                held.drain(..n);
                d.rebase(n);
                dropped += n;
            }
        }
    }
    Ok(None)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn draining_scanned_octets_gives_the_same_reply(
        buf in wire(),
        expect in framing(),
        body_rule in rule(),
        lim in limits(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = feed(Decoder::new(expect, lim).with_body_rule(body_rule), &buf, &cuts);
        let drained = feed_draining(Decoder::new(expect, lim).with_body_rule(body_rule), &buf, &cuts);
        if let (Ok(Some(a)), Ok(Some(b))) = (&whole, &drained) {
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn decoder_never_panics_and_pieces_agree(
        buf in wire(),
        expect in framing(),
        body_rule in rule(),
        lim in limits(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = feed(Decoder::new(expect, lim).with_body_rule(body_rule), &buf, &[]);
        let pieces = feed(Decoder::new(expect, lim).with_body_rule(body_rule), &buf, &cuts);
        if let (Ok(Some((a, ua))), Ok(Some((b, ub)))) = (&whole, &pieces) {
            prop_assert_eq!(ua, ub);
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn decoder_survives_raw_bytes(buf in proptest::collection::vec(any::<u8>(), 0..4096), expect in framing()) {
        let mut d = Decoder::new(expect, Limits::default());
        let _ = d.decode(&buf);
        let _ = d.finish_eof(&buf);
        let _ = pop3test::proto::response::decode(&buf, expect, Limits { max_line: 8, max_response: 16, ..Limits::default() });
    }
}
