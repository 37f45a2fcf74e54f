//! The attacks: one [`Attack`] variant and one plan function each. A [`Plan`] is what the
//! malicious server answers (CAPA before and after TLS, the reply to STLS, which certificate);
//! playing it on a socket is [`super::session`]'s job.

/// One attack, played on one client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Attack {
    /// Everything right (STLS advertised and working, trusted certificate): the baseline, so a
    /// client that cannot talk at all is not mistaken for a safe one.
    Honest,
    /// CAPA without STLS, and STLS answered `-ERR unknown command` (STLS stripping).
    Strip,
    /// STLS advertised but refused with `-ERR`.
    Refuse,
    /// `+OK` to STLS with a further reply pipelined in the same write, before the handshake.
    Inject,
    /// `+OK` to STLS followed, in the same write, by a complete fake CAPA reply.
    InjectCapa,
    /// CAPA before TLS differs from CAPA after TLS (`SASL PLAIN` only before, `USER` only after).
    CapaTamper,
    /// STLS works, but the certificate is signed by a CA the client was not told to trust.
    UntrustedStls,
    /// STLS works, the certificate is trusted but names another host.
    WrongNameStls,
    /// Implicit TLS (RFC 8314), everything right: the baseline of the implicit-TLS attacks.
    HonestImplicit,
    /// Implicit TLS with a certificate from an untrusted CA.
    UntrustedImplicit,
    /// Implicit TLS with a trusted certificate for another host.
    WrongNameImplicit,
}

/// Every attack, in the order they are played.
pub const ALL: [Attack; 11] = [
    Attack::Honest,
    Attack::Strip,
    Attack::Refuse,
    Attack::Inject,
    Attack::InjectCapa,
    Attack::CapaTamper,
    Attack::UntrustedStls,
    Attack::WrongNameStls,
    Attack::HonestImplicit,
    Attack::UntrustedImplicit,
    Attack::WrongNameImplicit,
];

impl std::str::FromStr for Attack {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.iter().copied().find(|a| a.name().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<&str> = ALL.iter().map(|a| a.name()).collect();
            format!("unknown attack `{s}` (expected one of: {})", names.join(", "))
        })
    }
}

/// Which certificate the server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cert {
    /// Signed by the CA the client is given (`{ca}`), for localhost / 127.0.0.1 / ::1.
    Good,
    /// Same names, signed by a CA nobody is given.
    Untrusted,
    /// Signed by the trusted CA, for `wrong-name.invalid` only.
    WrongName,
}

/// How the server answers STLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StlsReply {
    /// `+OK`, then the handshake.
    Ok,
    /// A `-ERR` line (text included), no handshake.
    Err(&'static str),
    /// `+OK` and these bytes in the same write, then the handshake.
    OkThenInject(&'static [u8]),
}

/// What the malicious server does for one attack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// TLS from the first byte (the implicit-TLS port) rather than STLS on the plain port.
    pub implicit: bool,
    /// CAPA lines before TLS (after the `+OK`).
    pub capa_pre: &'static [&'static str],
    /// CAPA lines inside TLS.
    pub capa_post: &'static [&'static str],
    pub stls: StlsReply,
    pub cert: Cert,
}

/// The fake reply of [`Attack::Inject`]: a client that reads it after the handshake takes it as
/// the answer to its first command inside TLS.
pub const INJECTED_REPLY: &[u8] = b"+OK injected before the handshake\r\n";
/// The fake CAPA of [`Attack::InjectCapa`]: no STLS, cleartext-friendly mechanisms.
pub const INJECTED_CAPA: &[u8] = b"+OK injected capability list\r\nUSER\r\nSASL PLAIN LOGIN\r\nX-INJECTED\r\n.\r\n";

const CAPA_STLS: &[&str] = &["TOP", "UIDL", "USER", "STLS", "IMPLEMENTATION pop3test-audit-client"];
const CAPA_NO_STLS: &[&str] = &["TOP", "UIDL", "USER", "IMPLEMENTATION pop3test-audit-client"];
const CAPA_TLS: &[&str] = &["TOP", "UIDL", "USER", "SASL PLAIN", "IMPLEMENTATION pop3test-audit-client"];

impl Attack {
    /// The name used on the command line and as the result id's tail.
    pub fn name(self) -> &'static str {
        match self {
            Attack::Honest => "honest",
            Attack::Strip => "strip",
            Attack::Refuse => "refuse",
            Attack::Inject => "inject",
            Attack::InjectCapa => "inject-capa",
            Attack::CapaTamper => "capa-tamper",
            Attack::UntrustedStls => "untrusted-stls",
            Attack::WrongNameStls => "wrong-name-stls",
            Attack::HonestImplicit => "honest-implicit",
            Attack::UntrustedImplicit => "untrusted-implicit",
            Attack::WrongNameImplicit => "wrong-name-implicit",
        }
    }

    /// One line saying what the server does.
    pub fn title(self) -> &'static str {
        match self {
            Attack::Honest => "honest server (STLS advertised, trusted certificate): baseline",
            Attack::Strip => "STLS stripped from CAPA and answered -ERR unknown command",
            Attack::Refuse => "STLS advertised but refused with -ERR",
            Attack::Inject => "+OK to STLS with a reply injected before the handshake",
            Attack::InjectCapa => "+OK to STLS with a fake CAPA reply injected before the handshake",
            Attack::CapaTamper => "CAPA before TLS differs from CAPA after TLS",
            Attack::UntrustedStls => "STLS with a certificate from an untrusted CA",
            Attack::WrongNameStls => "STLS with a trusted certificate for another host name",
            Attack::HonestImplicit => "implicit TLS, trusted certificate: baseline",
            Attack::UntrustedImplicit => "implicit TLS with a certificate from an untrusted CA",
            Attack::WrongNameImplicit => "implicit TLS with a trusted certificate for another host name",
        }
    }

    /// The attack whose pass makes this attack's "failed safe" meaningful.
    pub fn baseline(self) -> Attack {
        if self.plan().implicit {
            Attack::HonestImplicit
        } else {
            Attack::Honest
        }
    }

    /// What the server does.
    pub fn plan(self) -> Plan {
        match self {
            Attack::Honest => honest(),
            Attack::Strip => strip(),
            Attack::Refuse => refuse(),
            Attack::Inject => inject(),
            Attack::InjectCapa => inject_capa(),
            Attack::CapaTamper => capa_tamper(),
            Attack::UntrustedStls => untrusted_stls(),
            Attack::WrongNameStls => wrong_name_stls(),
            Attack::HonestImplicit => honest_implicit(),
            Attack::UntrustedImplicit => untrusted_implicit(),
            Attack::WrongNameImplicit => wrong_name_implicit(),
        }
    }
}

fn honest() -> Plan {
    Plan { implicit: false, capa_pre: CAPA_STLS, capa_post: CAPA_TLS, stls: StlsReply::Ok, cert: Cert::Good }
}

/// RFC 2595 §4 leaves the client to insist: a server that "does not know" STLS is the downgrade.
fn strip() -> Plan {
    Plan { capa_pre: CAPA_NO_STLS, stls: StlsReply::Err("-ERR unknown command"), ..honest() }
}

fn refuse() -> Plan {
    Plan { stls: StlsReply::Err("-ERR TLS not available at the moment"), ..honest() }
}

fn inject() -> Plan {
    Plan { stls: StlsReply::OkThenInject(INJECTED_REPLY), ..honest() }
}

fn inject_capa() -> Plan {
    Plan { stls: StlsReply::OkThenInject(INJECTED_CAPA), ..honest() }
}

/// RFC 2595 §4: "the client MUST discard cached information about server capabilities and
/// SHOULD re-issue the CAPA command". Before TLS only SASL PLAIN is offered, after it only USER.
fn capa_tamper() -> Plan {
    Plan { capa_pre: &["SASL PLAIN", "STLS"], capa_post: &["USER", "UIDL"], ..honest() }
}

fn untrusted_stls() -> Plan {
    Plan { cert: Cert::Untrusted, ..honest() }
}

fn wrong_name_stls() -> Plan {
    Plan { cert: Cert::WrongName, ..honest() }
}

fn honest_implicit() -> Plan {
    Plan { implicit: true, capa_pre: CAPA_TLS, ..honest() }
}

fn untrusted_implicit() -> Plan {
    Plan { cert: Cert::Untrusted, ..honest_implicit() }
}

fn wrong_name_implicit() -> Plan {
    Plan { cert: Cert::WrongName, ..honest_implicit() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_are_unique() {
        for a in ALL {
            assert_eq!(a.name().parse::<Attack>(), Ok(a));
        }
        assert!("mitm".parse::<Attack>().unwrap_err().contains("capa-tamper"));
        let mut names: Vec<_> = ALL.iter().map(|a| a.name()).collect();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn strip_hides_stls_and_tamper_changes_capabilities() {
        assert!(!strip().capa_pre.contains(&"STLS"));
        assert!(honest().capa_pre.contains(&"STLS"));
        let t = capa_tamper();
        assert_ne!(t.capa_pre, t.capa_post);
        assert_eq!(Attack::UntrustedImplicit.baseline(), Attack::HonestImplicit);
        assert_eq!(Attack::Inject.baseline(), Attack::Honest);
    }
}
