//! What the client did ([`Observation`], filled in by the session) and what that means
//! ([`Behaviour`], each with its RFC section, CWE and severity). Pure: tests feed observations.

use super::attacks::{Attack, Cert};
use crate::results::Severity;

/// What the malicious server saw the client do on one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// The client connected at all.
    pub connected: bool,
    /// Command keywords sent before TLS, upper-cased, in order.
    pub cleartext_commands: Vec<String>,
    /// A secret (PASS argument, APOP digest, AUTH initial response or continuation) went out
    /// before TLS.
    pub cleartext_secret: bool,
    /// The TLS handshake finished. Not yet acceptance: some clients (curl with OpenSSL) check the
    /// host name only after the handshake, then close without a word.
    pub tls_established: bool,
    /// Why the handshake failed, when it did (as the server saw it).
    pub handshake_error: Option<String>,
    /// Command keywords sent inside TLS, in order.
    pub tls_commands: Vec<String>,
    /// A secret went out inside TLS (the client logged in).
    pub tls_secret: bool,
    /// SASL mechanisms the client asked for inside TLS (`AUTH PLAIN` → `PLAIN`).
    pub tls_mechanisms: Vec<String>,
    /// After an injection, the client sent a second command while its first one inside TLS was
    /// still unanswered: it took the injected bytes as the answer.
    pub answered_by_injection: bool,
}

impl Observation {
    fn sent_capa_before_tls(&self) -> bool {
        self.cleartext_commands.iter().any(|c| c == "CAPA")
    }
    fn sent_capa_in_tls(&self) -> bool {
        self.tls_commands.iter().any(|c| c == "CAPA")
    }
    /// The client went on inside TLS: a secret, or any command but the ones that end a session
    /// (QUIT, and the RSET and NOOP some clients send first). A client that finds the
    /// certificate bad only after the handshake and leaves with `RSET`, `QUIT` (getmail6) has
    /// sent nothing it would regret.
    fn went_on_inside_tls(&self) -> bool {
        self.tls_secret || self.tls_commands.iter().any(|c| !matches!(c.as_str(), "QUIT" | "RSET" | "NOOP"))
    }
    /// Commands beyond the ones a client needs to find out about TLS (CAPA, STLS, QUIT).
    fn went_on_in_cleartext(&self) -> bool {
        self.cleartext_commands.iter().any(|c| !matches!(c.as_str(), "CAPA" | "STLS" | "QUIT"))
    }
}

/// The verdict on one attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// A password, APOP digest or SASL response went out before TLS.
    CleartextCredentials,
    /// No secret, but the session went on in cleartext (USER name, STAT...) after the downgrade.
    CleartextContinued,
    /// The bytes pipelined after `+OK` to STLS were read as a reply inside TLS.
    ActedOnInjection,
    /// The client relied on capabilities learnt before TLS (did not re-issue CAPA, or used a
    /// mechanism only the pre-TLS list offered).
    UsedPreTlsCapabilities,
    /// Capabilities were not re-read inside TLS (no CAPA after STLS), though nothing only the
    /// pre-TLS list offered was used: RFC 2595 §4's SHOULD, not yet an exploit.
    NoCapaAfterTls,
    /// The handshake completed with an untrusted or wrong-name certificate.
    AcceptedBadCertificate,
    /// The client closed without sending a secret: what a safe client does under attack.
    FailedSafe,
    /// TLS was set up and the attack did not work (injected bytes discarded, CAPA re-issued).
    Resisted,
    /// Honest server: the client upgraded (or used implicit TLS), checked the certificate and
    /// logged in inside TLS.
    Baseline,
    /// Honest server, but the client never got to a login inside TLS: it cannot be judged.
    BaselineFailed,
    /// The client failed safe, but also failed its baseline, so failing safe says nothing.
    Inconclusive,
    /// The client never connected.
    NoConnection,
}

impl Behaviour {
    /// Short name for tables and the summary.
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::CleartextCredentials => "credentials sent in cleartext",
            Behaviour::CleartextContinued => "went on in cleartext without credentials",
            Behaviour::ActedOnInjection => "acted on injected data",
            Behaviour::UsedPreTlsCapabilities => "used pre-TLS capabilities",
            Behaviour::NoCapaAfterTls => "did not re-issue CAPA after TLS",
            Behaviour::AcceptedBadCertificate => "accepted a bad certificate",
            Behaviour::FailedSafe => "failed safe (closed, no secret sent)",
            Behaviour::Resisted => "resisted the attack",
            Behaviour::Baseline => "talked POP3 over TLS with a trusted certificate",
            Behaviour::BaselineFailed => "did not complete the honest baseline",
            Behaviour::Inconclusive => "inconclusive (baseline failed)",
            Behaviour::NoConnection => "never connected",
        }
    }

    /// How bad it is, for findings; `None` for passes and tester errors.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Behaviour::CleartextCredentials => Some(Severity::Critical),
            Behaviour::AcceptedBadCertificate | Behaviour::ActedOnInjection => Some(Severity::High),
            Behaviour::CleartextContinued | Behaviour::UsedPreTlsCapabilities => Some(Severity::Medium),
            Behaviour::NoCapaAfterTls => Some(Severity::Low),
            _ => None,
        }
    }

    /// True for the verdicts that are the tester's own failure to judge (report `error`).
    pub fn is_error(self) -> bool {
        matches!(self, Behaviour::BaselineFailed | Behaviour::Inconclusive | Behaviour::NoConnection)
    }

    /// The RFC sections the verdict rests on.
    pub fn rfc_refs(self, attack: Attack) -> Vec<&'static str> {
        let implicit = attack.plan().implicit;
        match self {
            // RFC 8314 §5.2: MUAs SHOULD by default require a confidentiality level of TLS.
            Behaviour::CleartextCredentials | Behaviour::CleartextContinued => vec!["RFC 8314 §5.2", "RFC 2595 §4"],
            // RFC 2595 §4: the client MUST discard cached information after STLS.
            Behaviour::ActedOnInjection | Behaviour::UsedPreTlsCapabilities | Behaviour::NoCapaAfterTls => {
                vec!["RFC 2595 §4"]
            }
            // RFC 8314 §5.3: MUAs MUST validate TLS server certificates according to RFC 7817.
            Behaviour::AcceptedBadCertificate => vec!["RFC 7817 §3", "RFC 8314 §5.3"],
            Behaviour::FailedSafe | Behaviour::Resisted | Behaviour::Baseline if implicit => {
                vec!["RFC 8314 §3", "RFC 7817 §3"]
            }
            _ => vec!["RFC 2595 §4"],
        }
    }

    /// CWE (and CVE) references.
    pub fn references(self) -> Vec<&'static str> {
        match self {
            Behaviour::CleartextCredentials => vec!["CWE-319", "CWE-757"],
            Behaviour::CleartextContinued => vec!["CWE-757", "CWE-693"],
            Behaviour::ActedOnInjection => vec!["CWE-349", "CVE-2021-22947"],
            Behaviour::UsedPreTlsCapabilities => vec!["CWE-693", "CWE-757"],
            Behaviour::NoCapaAfterTls => vec!["CWE-693"],
            Behaviour::AcceptedBadCertificate => vec!["CWE-295"],
            _ => vec![],
        }
    }

    /// What the client's author should change.
    pub fn remediation(self) -> Option<&'static str> {
        match self {
            Behaviour::CleartextCredentials | Behaviour::CleartextContinued => Some(
                "Require TLS by default: when STLS is missing or refused, close the connection instead of logging in.",
            ),
            Behaviour::ActedOnInjection => {
                Some("Discard every byte buffered before the TLS handshake; read replies only from the TLS layer.")
            }
            Behaviour::UsedPreTlsCapabilities | Behaviour::NoCapaAfterTls => {
                Some("Forget the capabilities learnt before STLS and re-issue CAPA inside TLS (RFC 2595 §4).")
            }
            Behaviour::AcceptedBadCertificate => {
                Some("Verify the certificate chain and the host name (RFC 7817) and abort the handshake on failure.")
            }
            _ => None,
        }
    }
}

/// Judges one attack from what the client did. `baseline_ok` is whether the attack's baseline
/// ([`Attack::baseline`]) passed; `None` when it was not played.
pub fn judge(attack: Attack, obs: &Observation, baseline_ok: Option<bool>) -> Behaviour {
    let plan = attack.plan();
    if !obs.connected {
        return Behaviour::NoConnection;
    }
    if obs.cleartext_secret {
        return Behaviour::CleartextCredentials;
    }
    if plan.cert != Cert::Good && obs.tls_established && obs.went_on_inside_tls() {
        return Behaviour::AcceptedBadCertificate;
    }
    if obs.answered_by_injection {
        return Behaviour::ActedOnInjection;
    }
    if attack == super::Attack::CapaTamper && obs.tls_established {
        let used_pre_mech = obs.tls_mechanisms.iter().any(|m| !plan.capa_post.iter().any(|c| is_mech(c, m)));
        if used_pre_mech {
            return Behaviour::UsedPreTlsCapabilities;
        }
        if obs.sent_capa_before_tls() && !obs.sent_capa_in_tls() && obs.tls_secret {
            return Behaviour::NoCapaAfterTls;
        }
    }
    if !obs.tls_established && obs.went_on_in_cleartext() {
        return Behaviour::CleartextContinued;
    }
    let is_baseline = attack == Attack::Honest || attack == Attack::HonestImplicit;
    if is_baseline {
        return if obs.tls_established && obs.tls_secret { Behaviour::Baseline } else { Behaviour::BaselineFailed };
    }
    if baseline_ok == Some(false) {
        return Behaviour::Inconclusive;
    }
    if obs.tls_established && obs.went_on_inside_tls() {
        Behaviour::Resisted
    } else {
        Behaviour::FailedSafe
    }
}

/// Whether a CAPA line `SASL PLAIN LOGIN` offers mechanism `mech`.
fn is_mech(capa_line: &str, mech: &str) -> bool {
    let mut words = capa_line.split_ascii_whitespace();
    words.next().is_some_and(|w| w.eq_ignore_ascii_case("SASL")) && words.any(|w| w.eq_ignore_ascii_case(mech))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cleartext_password_on_strip_is_critical() {
        let obs = Observation {
            connected: true,
            cleartext_commands: cmds(&["USER", "PASS"]),
            cleartext_secret: true,
            ..Default::default()
        };
        let b = judge(Attack::Strip, &obs, Some(true));
        assert_eq!(b, Behaviour::CleartextCredentials);
        assert_eq!(b.severity(), Some(Severity::Critical));
        assert!(b.references().contains(&"CWE-319"));
    }

    #[test]
    fn closing_after_capa_is_safe_only_when_the_baseline_passed() {
        let obs = Observation { connected: true, cleartext_commands: cmds(&["CAPA", "QUIT"]), ..Default::default() };
        assert_eq!(judge(Attack::Strip, &obs, Some(true)), Behaviour::FailedSafe);
        assert_eq!(judge(Attack::Strip, &obs, Some(false)), Behaviour::Inconclusive);
        assert_eq!(judge(Attack::Honest, &obs, None), Behaviour::BaselineFailed);
        let user_only = Observation { cleartext_commands: cmds(&["CAPA", "USER"]), ..obs };
        assert_eq!(judge(Attack::Refuse, &user_only, Some(true)), Behaviour::CleartextContinued);
    }

    #[test]
    fn bad_certificates_and_injection() {
        let tls = Observation {
            connected: true,
            tls_established: true,
            tls_commands: cmds(&["USER", "PASS"]),
            tls_secret: true,
            ..Default::default()
        };
        assert_eq!(judge(Attack::WrongNameImplicit, &tls, Some(true)), Behaviour::AcceptedBadCertificate);
        let silent = Observation { connected: true, tls_established: true, ..Default::default() };
        assert_eq!(judge(Attack::WrongNameImplicit, &silent, Some(true)), Behaviour::FailedSafe);
        // Found the name wrong after the handshake and left (getmail6 with ca_certs).
        let leaving = Observation { tls_commands: cmds(&["RSET", "QUIT"]), ..silent.clone() };
        assert_eq!(judge(Attack::WrongNameImplicit, &leaving, Some(true)), Behaviour::FailedSafe);
        let user = Observation { tls_commands: cmds(&["USER", "QUIT"]), ..silent.clone() };
        assert_eq!(judge(Attack::WrongNameImplicit, &user, Some(true)), Behaviour::AcceptedBadCertificate);
        assert_eq!(judge(Attack::Honest, &tls, None), Behaviour::Baseline);
        assert_eq!(judge(Attack::Inject, &tls, Some(true)), Behaviour::Resisted);
        let fooled = Observation { answered_by_injection: true, ..tls };
        assert_eq!(judge(Attack::InjectCapa, &fooled, Some(true)), Behaviour::ActedOnInjection);
        assert_eq!(judge(Attack::Strip, &Observation::default(), None), Behaviour::NoConnection);
    }

    #[test]
    fn capa_tamper_wants_a_fresh_capa_inside_tls() {
        let stale = Observation {
            connected: true,
            cleartext_commands: cmds(&["CAPA", "STLS"]),
            tls_established: true,
            tls_commands: cmds(&["AUTH"]),
            tls_secret: true,
            tls_mechanisms: cmds(&["PLAIN"]),
            ..Default::default()
        };
        assert_eq!(judge(Attack::CapaTamper, &stale, Some(true)), Behaviour::UsedPreTlsCapabilities);
        let no_capa = Observation { tls_commands: cmds(&["USER", "PASS"]), tls_mechanisms: vec![], ..stale.clone() };
        assert_eq!(judge(Attack::CapaTamper, &no_capa, Some(true)), Behaviour::NoCapaAfterTls);
        let fresh = Observation { tls_commands: cmds(&["CAPA", "USER", "PASS"]), tls_mechanisms: vec![], ..stale };
        assert_eq!(judge(Attack::CapaTamper, &fresh, Some(true)), Behaviour::Resisted);
    }
}
