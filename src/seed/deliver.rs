//! Seeding by delivery, for any server: each missing standard message sent over LMTP (RFC 2033:
//! Cyrus's and Dovecot's `lmtpd`) or SMTP (RFC 5321: any MTA that delivers to the mailbox), then
//! the maildrop watched over POP3 until all six are there. Every read has a timeout and a bounded
//! line length; an error names the server's reply.

use super::{pop3, SeedError, Seeded};
use crate::inventory::SEED_MESSAGES;
use crate::net::session::Credentials;
use crate::net::{ConnectOptions, Target};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// LMTP or SMTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Lmtp,
    Smtp,
}

/// Where to deliver: `host:port`, or a unix socket path (LMTP).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub protocol: Protocol,
    pub addr: String,
    pub from: String,
    pub rcpt: String,
}

/// Longest a reply line may be before the server is called broken (RFC 5321 §4.5.3.1.5: 512).
const MAX_LINE: usize = 4096;
/// Longest wait for one reply.
const REPLY_WAIT: Duration = Duration::from_secs(30);
/// How long delivered messages may take to show up over POP3.
const VISIBLE_WAIT: Duration = Duration::from_secs(30);

/// `DATA` content: CRLF line ends, lines starting with `.` doubled (RFC 5321 §4.5.2), the end mark.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    for line in message.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// One reply: its code and text (all lines of a multi-line reply).
async fn reply<R: AsyncRead + Unpin>(r: &mut BufReader<R>, what: &str) -> Result<(u16, String), SeedError> {
    let mut text = String::new();
    for _ in 0..100 {
        let mut line = Vec::new();
        let read = tokio::time::timeout(REPLY_WAIT, r.read_until(b'\n', &mut line))
            .await
            .map_err(|_| SeedError::Delivery(format!("no reply to {what} within {}s", REPLY_WAIT.as_secs())))?
            .map_err(|e| SeedError::Delivery(format!("reading the reply to {what}: {e}")))?;
        if read == 0 {
            return Err(SeedError::Delivery(format!("the server closed the connection instead of answering {what}")));
        }
        if line.len() > MAX_LINE {
            return Err(SeedError::Delivery(format!("the reply to {what} has a line over {MAX_LINE} octets")));
        }
        let l = String::from_utf8_lossy(&line).trim_end().to_string();
        let code = l.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code else {
            return Err(SeedError::Delivery(format!("the reply to {what} is not `NNN text`: {l}")));
        };
        text.push_str(l.get(4..).unwrap_or(""));
        if l.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
        text.push(' ');
    }
    Err(SeedError::Delivery(format!("the reply to {what} has more than 100 lines")))
}

async fn expect<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut BufReader<S>,
    send: Option<&[u8]>,
    what: &str,
    ok: u16,
) -> Result<(), SeedError> {
    if let Some(bytes) = send {
        s.get_mut().write_all(bytes).await.map_err(|e| SeedError::Delivery(format!("sending {what}: {e}")))?;
    }
    let (code, text) = reply(s, what).await?;
    if code / 100 != ok / 100 {
        return Err(SeedError::Delivery(format!("{what} was answered {code} {text}")));
    }
    Ok(())
}

/// One transaction on an open stream: greeting, LHLO/EHLO, MAIL, RCPT, DATA, the message, QUIT.
async fn transaction<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    d: &Delivery,
    message: &[u8],
) -> Result<(), SeedError> {
    let mut s = BufReader::new(stream);
    expect(&mut s, None, "the greeting", 220).await?;
    let hello = match d.protocol {
        Protocol::Lmtp => "LHLO pop3test.invalid\r\n",
        Protocol::Smtp => "EHLO pop3test.invalid\r\n",
    };
    expect(&mut s, Some(hello.as_bytes()), hello.trim_end(), 250).await?;
    expect(&mut s, Some(format!("MAIL FROM:<{}>\r\n", d.from).as_bytes()), "MAIL FROM", 250).await?;
    expect(&mut s, Some(format!("RCPT TO:<{}>\r\n", d.rcpt).as_bytes()), "RCPT TO", 250).await?;
    expect(&mut s, Some(b"DATA\r\n"), "DATA", 354).await?;
    // LMTP answers the end of data once per recipient (RFC 2033 §4.2): one here.
    expect(&mut s, Some(&dot_stuff(message)), "the message", 250).await?;
    let _ = s.get_mut().write_all(b"QUIT\r\n").await;
    let _ = tokio::time::timeout(Duration::from_secs(2), reply(&mut s, "QUIT")).await;
    Ok(())
}

async fn send_one(d: &Delivery, message: &[u8]) -> Result<(), SeedError> {
    if d.addr.starts_with('/') {
        let stream = tokio::net::UnixStream::connect(&d.addr)
            .await
            .map_err(|e| SeedError::Delivery(format!("cannot connect to {}: {e}", d.addr)))?;
        transaction(stream, d, message).await
    } else {
        let stream = tokio::time::timeout(REPLY_WAIT, tokio::net::TcpStream::connect(&d.addr))
            .await
            .map_err(|_| SeedError::Delivery(format!("cannot connect to {}: timed out", d.addr)))?
            .map_err(|e| SeedError::Delivery(format!("cannot connect to {}: {e}", d.addr)))?;
        transaction(stream, d, message).await
    }
}

/// Seeds by delivery: reset over POP3 if asked, deliver what is missing, wait until POP3 shows
/// all six.
pub async fn seed(
    d: &Delivery,
    pop3: &Target,
    opts: &ConnectOptions,
    creds: &Credentials,
    reset: bool,
) -> Result<Seeded, SeedError> {
    let removed = if reset { pop3::empty(pop3, opts, creds).await? } else { 0 };
    let present = pop3::message_ids(pop3, opts, creds).await?;
    let todo = super::missing(&present);
    for (_, msg) in &todo {
        send_one(d, msg).await?;
    }
    let start = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let now = pop3::message_ids(pop3, opts, creds).await?;
        let visible = SEED_MESSAGES - super::missing(&now).len();
        if visible == SEED_MESSAGES {
            return Ok(Seeded { removed, present: SEED_MESSAGES - todo.len(), added: todo.len() });
        }
        if start.elapsed() + delay > VISIBLE_WAIT {
            return Err(SeedError::Delivery(format!(
                "delivered {} message(s), but after {}s POP3 shows {visible} of the {SEED_MESSAGES} standard messages \
                 in `{}`'s maildrop: is --rcpt the mailbox of --user?",
                todo.len(),
                VISIBLE_WAIT.as_secs(),
                creds.user
            )));
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_and_terminated() {
        assert_eq!(dot_stuff(b"a\r\n.\r\n..x\r\n"), b"a\r\n..\r\n...x\r\n.\r\n");
        assert_eq!(dot_stuff(b"no end"), b"no end\r\n.\r\n");
    }

    #[tokio::test]
    async fn multi_line_replies_are_joined_and_codes_checked() {
        let mut r = BufReader::new(&b"250-first\r\n250 last\r\n550 no\r\n"[..]);
        assert_eq!(reply(&mut r, "x").await.unwrap(), (250, "first last".into()));
        assert_eq!(reply(&mut r, "x").await.unwrap().0, 550);
        let mut bad = BufReader::new(&b"hello\r\n"[..]);
        assert!(reply(&mut bad, "x").await.unwrap_err().to_string().contains("not `NNN text`"));
    }
}
