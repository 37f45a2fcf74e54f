//! Response parsing throughput: the decoder on a large multi-line body with byte-stuffing, fed
//! whole (the best case) and in 16 KiB reads (what a connection does).

use crate::proto::{stuffing, Decoded, Decoder, Expect, Limits};
use std::time::Instant;

/// A RETR reply of about `size` octets: 60-octet lines, every 10th one starting with a dot.
pub fn large_reply(size: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(size + 64);
    let mut i = 0u64;
    while body.len() < size {
        i += 1;
        if i.is_multiple_of(10) {
            body.extend_from_slice(b".a line that starts with a dot and is byte-stuffed on the wire\r\n");
        } else {
            body.extend_from_slice(format!("{i:010} The quick brown fox jumps over the lazy dog.\r\n").as_bytes());
        }
    }
    let mut wire = b"+OK message follows\r\n".to_vec();
    stuffing::stuff_into(&body, &mut wire);
    wire
}

/// MB/s (10^6 octets per second) decoding `wire` `rounds` times, whole or in `chunk`-sized reads.
pub fn throughput(wire: &[u8], rounds: usize, chunk: Option<usize>) -> f64 {
    let limits = Limits { max_response: wire.len() * 2, ..Limits::default() };
    let t = Instant::now();
    for _ in 0..rounds {
        let mut d = Decoder::new(Expect::MultiLine, limits);
        let done = match chunk {
            None => d.decode(wire),
            Some(c) => {
                let mut end = c.min(wire.len());
                loop {
                    match d.decode(&wire[..end]) {
                        Ok(Decoded::Incomplete) if end < wire.len() => end = (end + c).min(wire.len()),
                        other => break other,
                    }
                }
            }
        };
        assert!(matches!(done, Ok(Decoded::Complete(..))), "bench body must decode");
    }
    (wire.len() * rounds) as f64 / t.elapsed().as_secs_f64() / 1e6
}
