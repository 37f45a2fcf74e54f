//! Audit A14: does the STLS port (110) present the same TLS posture as the implicit-TLS port (995)?
//! A plain comparison of what the probes found on each; only conclusive probes are compared, so a
//! port that could not be reached yields no differences rather than invented ones.

use serde::Serialize;

use super::probe::{SuiteProbe, VersionProbe};
use super::ProtocolVersion;
use crate::audit::ciphers::SuiteClass;
use crate::results::Severity;

/// What was learned about one port's TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PortPosture {
    /// How reports name the port, e.g. `110/STLS` or `995/TLS`.
    pub label: String,
    /// SHA-256 fingerprint of the leaf certificate (see `cert::CertReport`), when one was seen.
    pub cert_sha256: Option<String>,
    pub versions: Vec<VersionProbe>,
    pub weak_suites: Vec<SuiteProbe>,
}

/// One way the two ports differ.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Difference {
    /// Different leaf certificates (or one port presented none). RFC 7817 allows this, but a
    /// client pinned to one port's certificate will fail on the other.
    Certificate { a: Option<String>, b: Option<String> },
    /// A protocol version accepted on one port only.
    Version { version: ProtocolVersion, a_accepts: bool, b_accepts: bool },
    /// A weak suite family accepted on one port only.
    WeakSuite { class: SuiteClass, a_accepts: bool, b_accepts: bool },
}

impl Difference {
    /// A14 default: "info / low": low when the difference lets a weaker setting through on one port.
    pub fn severity(&self) -> Severity {
        match self {
            Difference::Certificate { .. } => Severity::Info,
            Difference::Version { version, .. } if !version.is_deprecated() => Severity::Info,
            Difference::Version { .. } | Difference::WeakSuite { .. } => Severity::Low,
        }
    }

    /// One line naming the ports with their labels `a` and `b`.
    pub fn describe(&self, a: &str, b: &str) -> String {
        let side = |a_yes: bool| if a_yes { (a, b) } else { (b, a) };
        match self {
            Difference::Certificate { a: ca, b: cb } => {
                let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "no certificate".into());
                format!("{a} presents {} but {b} presents {}", show(ca), show(cb))
            }
            Difference::Version { version, a_accepts, .. } => {
                let (yes, no) = side(*a_accepts);
                format!("{version} is accepted on {yes} but not on {no}")
            }
            Difference::WeakSuite { class, a_accepts, .. } => {
                let (yes, no) = side(*a_accepts);
                format!("{} suites are accepted on {yes} but not on {no}", class.label())
            }
        }
    }
}

/// The differences between two ports, certificate first, then versions oldest first, then suite classes.
pub fn compare_postures(a: &PortPosture, b: &PortPosture) -> Vec<Difference> {
    let mut diffs = Vec::new();
    if a.cert_sha256 != b.cert_sha256 {
        diffs.push(Difference::Certificate { a: a.cert_sha256.clone(), b: b.cert_sha256.clone() });
    }
    for pa in a.versions.iter().filter(|p| p.outcome.is_conclusive()) {
        let other = b.versions.iter().find(|p| p.version == pa.version && p.outcome.is_conclusive());
        if let Some(pb) = other.filter(|pb| pb.accepted != pa.accepted) {
            diffs.push(Difference::Version { version: pa.version, a_accepts: pa.accepted, b_accepts: pb.accepted });
        }
    }
    for pa in a.weak_suites.iter().filter(|p| p.outcome.is_conclusive()) {
        let other = b.weak_suites.iter().find(|p| p.class == pa.class && p.outcome.is_conclusive());
        if let Some(pb) = other.filter(|pb| pb.accepted != pa.accepted) {
            diffs.push(Difference::WeakSuite { class: pa.class, a_accepts: pa.accepted, b_accepts: pb.accepted });
        }
    }
    diffs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::tls_versions::probe::ProbeOutcome;

    fn version(version: ProtocolVersion, accepted: bool) -> VersionProbe {
        VersionProbe { version, accepted, cipher: None, outcome: ProbeOutcome::Closed, detail: String::new() }
    }

    fn suite(class: SuiteClass, accepted: bool) -> SuiteProbe {
        SuiteProbe {
            class,
            version: ProtocolVersion::Tls12,
            offered: vec![],
            accepted,
            cipher: None,
            outcome: ProbeOutcome::Closed,
            detail: String::new(),
        }
    }

    fn posture(label: &str, cert: &str, tls10: bool, rc4: bool) -> PortPosture {
        PortPosture {
            label: label.into(),
            cert_sha256: Some(cert.into()),
            versions: vec![version(ProtocolVersion::Tls10, tls10), version(ProtocolVersion::Tls12, true)],
            weak_suites: vec![suite(SuiteClass::Rc4, rc4), suite(SuiteClass::StaticRsa, false)],
        }
    }

    #[test]
    fn identical_postures_have_no_differences() {
        let a = posture("110/STLS", "aa", false, false);
        assert_eq!(compare_postures(&a, &a.clone()), vec![]);
    }

    #[test]
    fn every_kind_of_difference_is_reported() {
        let a = posture("110/STLS", "aa", true, false);
        let b = posture("995/TLS", "bb", false, true);
        let diffs = compare_postures(&a, &b);
        assert_eq!(
            diffs,
            vec![
                Difference::Certificate { a: Some("aa".into()), b: Some("bb".into()) },
                Difference::Version { version: ProtocolVersion::Tls10, a_accepts: true, b_accepts: false },
                Difference::WeakSuite { class: SuiteClass::Rc4, a_accepts: false, b_accepts: true },
            ]
        );
        assert_eq!(diffs[1].describe(&a.label, &b.label), "TLS 1.0 is accepted on 110/STLS but not on 995/TLS");
        assert_eq!(diffs[2].describe(&a.label, &b.label), "RC4 suites are accepted on 995/TLS but not on 110/STLS");
        assert_eq!(
            diffs.iter().map(Difference::severity).collect::<Vec<_>>(),
            [Severity::Info, Severity::Low, Severity::Low]
        );
    }

    #[test]
    fn inconclusive_probes_are_not_differences() {
        let a = posture("110/STLS", "aa", true, true);
        let mut b = posture("995/TLS", "aa", false, false);
        for p in &mut b.versions {
            p.outcome = ProbeOutcome::ConnectFailed { error: "refused".into() };
        }
        b.weak_suites.clear();
        assert_eq!(compare_postures(&a, &b), vec![]);
    }
}
