//! TLS cipher suites: the IANA code → name table pop3test knows, and the classification of each
//! suite for audit A11 (weak suites, no forward secrecy, legacy CBC), as a table of rules with the
//! reason each one exists. Pure data and functions: no I/O.

use serde::Serialize;

use crate::results::Severity;

/// Key exchange of a suite, as named in the suite's IANA name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Kex {
    /// Static RSA key transport (`TLS_RSA_WITH_*`): no forward secrecy.
    Rsa,
    /// Static (fixed) Diffie-Hellman from the certificate (`TLS_DH_RSA_*`, `TLS_DH_DSS_*`).
    Dh,
    /// Static elliptic-curve Diffie-Hellman from the certificate (`TLS_ECDH_RSA_*`, `TLS_ECDH_ECDSA_*`).
    Ecdh,
    /// Ephemeral finite-field Diffie-Hellman.
    Dhe,
    /// Ephemeral elliptic-curve Diffie-Hellman.
    Ecdhe,
    /// Anonymous DH or ECDH: the server is not authenticated at all.
    Anon,
    /// TLS 1.3 suites do not name a key exchange; it is always ephemeral.
    Tls13,
}

/// Bulk cipher of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Cipher {
    Null,
    Rc4,
    Rc2,
    Des,
    TripleDes,
    Idea,
    Seed,
    AesCbc,
    CamelliaCbc,
    AesGcm,
    AesCcm,
    ChaCha20Poly1305,
}

impl Cipher {
    /// Cipher-block-chaining mode (MAC-then-encrypt in TLS ≤ 1.2).
    pub fn is_cbc(self) -> bool {
        matches!(
            self,
            Cipher::Rc2
                | Cipher::Des
                | Cipher::TripleDes
                | Cipher::Idea
                | Cipher::Seed
                | Cipher::AesCbc
                | Cipher::CamelliaCbc
        )
    }
}

/// Record MAC of a suite (`Aead` for GCM, CCM and ChaCha20-Poly1305).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Mac {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Aead,
}

/// One row of the suite table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SuiteInfo {
    pub code: u16,
    pub name: &'static str,
    pub kex: Kex,
    pub cipher: Cipher,
    pub mac: Mac,
    /// An EXPORT suite (40- or 56-bit keys by design).
    pub export: bool,
}

impl SuiteInfo {
    /// Usable only with TLS 1.2 or later: AEAD ciphers and SHA-256/384 MACs were introduced by RFC 5246.
    pub fn tls12_only(&self) -> bool {
        matches!(self.mac, Mac::Sha256 | Mac::Sha384 | Mac::Aead)
    }

    /// A TLS 1.3 suite (RFC 8446 §B.4); never offered in a TLS ≤ 1.2 ClientHello.
    pub fn is_tls13(&self) -> bool {
        self.kex == Kex::Tls13
    }
}

const fn s(code: u16, name: &'static str, kex: Kex, cipher: Cipher, mac: Mac) -> SuiteInfo {
    SuiteInfo { code, name, kex, cipher, mac, export: false }
}

const fn x(code: u16, name: &'static str, kex: Kex, cipher: Cipher, mac: Mac) -> SuiteInfo {
    SuiteInfo { code, name, kex, cipher, mac, export: true }
}

use Cipher::*;
use Kex::{Anon, Dh, Dhe, Ecdh, Ecdhe, Rsa, Tls13};
use Mac::{Aead, Md5, Sha1, Sha256, Sha384};

/// The suites pop3test knows by name: every suite a real POP3 server is likely to pick, from the
/// IANA "TLS Cipher Suites" registry. Probes offer exactly these, so a server's choice always has a
/// name and a classification.
pub const SUITES: &[SuiteInfo] = &[
    s(0x0001, "TLS_RSA_WITH_NULL_MD5", Rsa, Null, Md5),
    s(0x0002, "TLS_RSA_WITH_NULL_SHA", Rsa, Null, Sha1),
    x(0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Rsa, Rc4, Md5),
    s(0x0004, "TLS_RSA_WITH_RC4_128_MD5", Rsa, Rc4, Md5),
    s(0x0005, "TLS_RSA_WITH_RC4_128_SHA", Rsa, Rc4, Sha1),
    x(0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", Rsa, Rc2, Md5),
    s(0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA", Rsa, Idea, Sha1),
    x(0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Rsa, Des, Sha1),
    s(0x0009, "TLS_RSA_WITH_DES_CBC_SHA", Rsa, Des, Sha1),
    s(0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA", Rsa, TripleDes, Sha1),
    s(0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA", Dh, TripleDes, Sha1),
    s(0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA", Dh, TripleDes, Sha1),
    x(0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", Dhe, Des, Sha1),
    s(0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", Dhe, Des, Sha1),
    s(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA", Dhe, TripleDes, Sha1),
    x(0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", Dhe, Des, Sha1),
    s(0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", Dhe, Des, Sha1),
    s(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA", Dhe, TripleDes, Sha1),
    x(0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", Anon, Rc4, Md5),
    s(0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", Anon, Rc4, Md5),
    x(0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA", Anon, Des, Sha1),
    s(0x001A, "TLS_DH_anon_WITH_DES_CBC_SHA", Anon, Des, Sha1),
    s(0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", Anon, TripleDes, Sha1),
    s(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", Rsa, AesCbc, Sha1),
    s(0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", Dh, AesCbc, Sha1),
    s(0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", Dh, AesCbc, Sha1),
    s(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", Dhe, AesCbc, Sha1),
    s(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Dhe, AesCbc, Sha1),
    s(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", Anon, AesCbc, Sha1),
    s(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Rsa, AesCbc, Sha1),
    s(0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", Dh, AesCbc, Sha1),
    s(0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", Dh, AesCbc, Sha1),
    s(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", Dhe, AesCbc, Sha1),
    s(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Dhe, AesCbc, Sha1),
    s(0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA", Anon, AesCbc, Sha1),
    s(0x003B, "TLS_RSA_WITH_NULL_SHA256", Rsa, Null, Sha256),
    s(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", Rsa, AesCbc, Sha256),
    s(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", Rsa, AesCbc, Sha256),
    s(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", Dhe, AesCbc, Sha256),
    s(0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA", Rsa, CamelliaCbc, Sha1),
    s(0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA", Dhe, CamelliaCbc, Sha1),
    s(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Dhe, AesCbc, Sha256),
    s(0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", Dhe, AesCbc, Sha256),
    s(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Dhe, AesCbc, Sha256),
    s(0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", Anon, AesCbc, Sha256),
    s(0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", Anon, AesCbc, Sha256),
    s(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA", Rsa, CamelliaCbc, Sha1),
    s(0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA", Dhe, CamelliaCbc, Sha1),
    s(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA", Rsa, Seed, Sha1),
    s(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", Rsa, AesGcm, Aead),
    s(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", Rsa, AesGcm, Aead),
    s(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", Dhe, AesGcm, Aead),
    s(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", Dhe, AesGcm, Aead),
    s(0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", Dhe, AesGcm, Aead),
    s(0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", Dhe, AesGcm, Aead),
    s(0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", Anon, AesGcm, Aead),
    s(0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", Anon, AesGcm, Aead),
    s(0x1301, "TLS_AES_128_GCM_SHA256", Tls13, AesGcm, Aead),
    s(0x1302, "TLS_AES_256_GCM_SHA384", Tls13, AesGcm, Aead),
    s(0x1303, "TLS_CHACHA20_POLY1305_SHA256", Tls13, ChaCha20Poly1305, Aead),
    s(0x1304, "TLS_AES_128_CCM_SHA256", Tls13, AesCcm, Aead),
    s(0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", Ecdh, Rc4, Sha1),
    s(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", Ecdh, AesCbc, Sha1),
    s(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", Ecdh, AesCbc, Sha1),
    s(0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", Ecdhe, Null, Sha1),
    s(0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", Ecdhe, Rc4, Sha1),
    s(0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA", Ecdhe, TripleDes, Sha1),
    s(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Ecdhe, AesCbc, Sha1),
    s(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Ecdhe, AesCbc, Sha1),
    s(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", Ecdh, AesCbc, Sha1),
    s(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", Ecdh, AesCbc, Sha1),
    s(0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA", Ecdhe, Null, Sha1),
    s(0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", Ecdhe, Rc4, Sha1),
    s(0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", Ecdhe, TripleDes, Sha1),
    s(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Ecdhe, AesCbc, Sha1),
    s(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Ecdhe, AesCbc, Sha1),
    s(0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", Anon, Null, Sha1),
    s(0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA", Anon, Rc4, Sha1),
    s(0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", Anon, TripleDes, Sha1),
    s(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", Anon, AesCbc, Sha1),
    s(0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", Anon, AesCbc, Sha1),
    s(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", Ecdhe, AesCbc, Sha256),
    s(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", Ecdhe, AesCbc, Sha384),
    s(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Ecdhe, AesCbc, Sha256),
    s(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Ecdhe, AesCbc, Sha384),
    s(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Ecdhe, AesGcm, Aead),
    s(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", Ecdhe, AesGcm, Aead),
    s(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", Ecdhe, AesGcm, Aead),
    s(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Ecdhe, AesGcm, Aead),
    s(0xC09C, "TLS_RSA_WITH_AES_128_CCM", Rsa, AesCcm, Aead),
    s(0xC09D, "TLS_RSA_WITH_AES_256_CCM", Rsa, AesCcm, Aead),
    s(0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", Dhe, AesCcm, Aead),
    s(0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", Dhe, AesCcm, Aead),
    s(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", Ecdhe, AesCcm, Aead),
    s(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", Ecdhe, AesCcm, Aead),
    s(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Ecdhe, ChaCha20Poly1305, Aead),
    s(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Ecdhe, ChaCha20Poly1305, Aead),
    s(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", Dhe, ChaCha20Poly1305, Aead),
];

/// The TLS 1.2 suites of Mozilla's "intermediate" server profile (version 5.7), the profile the
/// audit grades against: everything else on TLS 1.2 belongs to the "old" profile only.
pub const MOZILLA_INTERMEDIATE_TLS12: &[u16] =
    &[0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0x009E, 0x009F, 0xCCAA];

/// Looks a suite code up in [`SUITES`].
pub fn suite_info(code: u16) -> Option<&'static SuiteInfo> {
    SUITES.iter().find(|s| s.code == code)
}

/// The IANA name of a suite, or `0xC0DE` in hex when pop3test does not know it.
pub fn suite_name(code: u16) -> String {
    match suite_info(code) {
        Some(info) => info.name.to_string(),
        None => format!("0x{code:04X}"),
    }
}

/// How the audit grades a suite, worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grade {
    /// In Mozilla's intermediate profile (or a TLS 1.3 suite).
    Recommended,
    /// Not broken, but only in Mozilla's "old" profile (CBC, CCM, Camellia, SEED on TLS 1.2).
    Legacy,
    /// Not in pop3test's table: nothing can be said about it.
    Unknown,
    /// Static key exchange: recorded traffic can be decrypted later with the server's key.
    NoForwardSecrecy,
    /// Broken or unauthenticated: NULL, EXPORT, RC4, DES, 3DES, anonymous, MD5.
    Weak,
}

impl Grade {
    /// The default severity of accepting a suite of this grade (audit A11).
    pub fn severity(self) -> Severity {
        match self {
            Grade::Recommended | Grade::Unknown => Severity::Info,
            Grade::Legacy => Severity::Low,
            Grade::NoForwardSecrecy => Severity::Medium,
            Grade::Weak => Severity::High,
        }
    }
}

/// One classification rule: a suite that `applies` gets `grade` for `reason`.
pub struct Rule {
    pub grade: Grade,
    pub reason: &'static str,
    pub applies: fn(&SuiteInfo) -> bool,
}

/// The classification table: every rule that applies to a suite contributes its reason, the worst
/// grade wins. Order is the order reasons are listed in a report.
pub const RULES: &[Rule] = &[
    Rule { grade: Grade::Weak, reason: "NULL cipher: the traffic is not encrypted", applies: |s| s.cipher == Null },
    Rule {
        grade: Grade::Weak,
        reason: "EXPORT suite: 40/56-bit keys by design (FREAK, Logjam)",
        applies: |s| s.export,
    },
    Rule { grade: Grade::Weak, reason: "RC4: RFC 7465 prohibits it (biased keystream)", applies: |s| s.cipher == Rc4 },
    Rule {
        grade: Grade::Weak,
        reason: "single DES or RC2: keys brute-forceable",
        applies: |s| matches!(s.cipher, Des | Rc2),
    },
    Rule {
        grade: Grade::Weak,
        reason: "64-bit block cipher (3DES, IDEA): Sweet32, CVE-2016-2183",
        applies: |s| matches!(s.cipher, TripleDes | Idea),
    },
    Rule {
        grade: Grade::Weak,
        reason: "anonymous key exchange: the server is not authenticated (trivial man in the middle)",
        applies: |s| s.kex == Anon,
    },
    Rule { grade: Grade::Weak, reason: "MD5-based record MAC", applies: |s| s.mac == Md5 },
    Rule {
        grade: Grade::NoForwardSecrecy,
        reason: "static RSA key exchange: no forward secrecy (and Bleichenbacher/ROBOT exposure)",
        applies: |s| s.kex == Rsa,
    },
    Rule {
        grade: Grade::NoForwardSecrecy,
        reason: "static (EC)DH key exchange: no forward secrecy",
        applies: |s| matches!(s.kex, Dh | Ecdh),
    },
    Rule {
        grade: Grade::Legacy,
        reason: "CBC mode (MAC-then-encrypt, Lucky13-class padding oracles): Mozilla 'old' profile only",
        applies: |s| s.cipher.is_cbc(),
    },
    Rule {
        grade: Grade::Legacy,
        reason: "not in Mozilla's intermediate TLS 1.2 suite list",
        applies: |s| !s.is_tls13() && !MOZILLA_INTERMEDIATE_TLS12.contains(&s.code),
    },
];

/// The grade of one suite and every reason that led to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub code: u16,
    pub name: String,
    pub grade: Grade,
    pub reasons: Vec<&'static str>,
}

/// Classifies a suite by [`RULES`]; a code missing from [`SUITES`] is [`Grade::Unknown`].
pub fn classify(code: u16) -> Classification {
    let Some(info) = suite_info(code) else {
        return Classification {
            code,
            name: suite_name(code),
            grade: Grade::Unknown,
            reasons: vec!["not in pop3test's cipher suite table"],
        };
    };
    let matching: Vec<&Rule> = RULES.iter().filter(|r| (r.applies)(info)).collect();
    let grade = matching.iter().map(|r| r.grade).max().unwrap_or(Grade::Recommended);
    Classification { code, name: info.name.to_string(), grade, reasons: matching.iter().map(|r| r.reason).collect() }
}

/// The families of weak suites probed one at a time (audit A11): a server that picks a suite
/// when offered nothing but one family accepts that family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuiteClass {
    Null,
    Export,
    Anonymous,
    Rc4,
    Des,
    TripleDes,
    StaticRsa,
    StaticDh,
    /// CBC suites with forward secrecy and a strong cipher: only "legacy", not weak.
    Cbc,
}

impl SuiteClass {
    /// Every class, in probing order.
    pub const ALL: [SuiteClass; 9] = [
        SuiteClass::Null,
        SuiteClass::Export,
        SuiteClass::Anonymous,
        SuiteClass::Rc4,
        SuiteClass::Des,
        SuiteClass::TripleDes,
        SuiteClass::StaticRsa,
        SuiteClass::StaticDh,
        SuiteClass::Cbc,
    ];

    /// Whether `suite` belongs to this class.
    pub fn contains(self, suite: &SuiteInfo) -> bool {
        match self {
            SuiteClass::Null => suite.cipher == Null,
            SuiteClass::Export => suite.export,
            SuiteClass::Anonymous => suite.kex == Anon,
            SuiteClass::Rc4 => suite.cipher == Rc4,
            SuiteClass::Des => matches!(suite.cipher, Des | Rc2),
            SuiteClass::TripleDes => matches!(suite.cipher, TripleDes | Idea),
            SuiteClass::StaticRsa => suite.kex == Rsa,
            SuiteClass::StaticDh => matches!(suite.kex, Dh | Ecdh),
            SuiteClass::Cbc => suite.cipher.is_cbc() && matches!(suite.kex, Dhe | Ecdhe),
        }
    }

    /// The codes offered when probing this class; `tls12` allows TLS 1.2-only suites.
    pub fn codes(self, tls12: bool) -> Vec<u16> {
        SUITES
            .iter()
            .filter(|s| !s.is_tls13() && (tls12 || !s.tls12_only()) && self.contains(s))
            .map(|s| s.code)
            .collect()
    }

    /// Short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            SuiteClass::Null => "NULL encryption",
            SuiteClass::Export => "EXPORT",
            SuiteClass::Anonymous => "anonymous (EC)DH",
            SuiteClass::Rc4 => "RC4",
            SuiteClass::Des => "single DES / RC2",
            SuiteClass::TripleDes => "3DES / IDEA (64-bit block)",
            SuiteClass::StaticRsa => "static RSA key exchange",
            SuiteClass::StaticDh => "static (EC)DH key exchange",
            SuiteClass::Cbc => "CBC with forward secrecy",
        }
    }

    /// Default severity of a server accepting this class (A11).
    pub fn severity(self) -> Severity {
        match self {
            SuiteClass::StaticRsa | SuiteClass::StaticDh => Severity::Medium,
            SuiteClass::Cbc => Severity::Low,
            _ => Severity::High,
        }
    }
}

/// Every TLS ≤ 1.2 suite in the table, for a version probe that must let the server pick anything
/// it would accept at that version; `tls12` adds the TLS 1.2-only suites. Best grade first: a
/// server that follows the client's order (OpenSSL's default) then picks what a modern client
/// would get, not the weakest suite it tolerates.
pub fn all_pre13_codes(tls12: bool) -> Vec<u16> {
    let mut codes: Vec<u16> =
        SUITES.iter().filter(|s| !s.is_tls13() && (tls12 || !s.tls12_only())).map(|s| s.code).collect();
    codes.sort_by_key(|&c| (classify(c).grade, suite_info(c).map(|s| s.kex) != Some(Kex::Ecdhe)));
    codes
}

/// The TLS 1.3 suites offered in a TLS 1.3 probe.
pub fn tls13_codes() -> Vec<u16> {
    SUITES.iter().filter(|s| s.is_tls13()).map(|s| s.code).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_codes_are_unique_and_sorted() {
        for pair in SUITES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{} before {}", pair[0].name, pair[1].name);
        }
    }

    #[test]
    fn mozilla_intermediate_suites_are_recommended() {
        for &code in MOZILLA_INTERMEDIATE_TLS12 {
            let c = classify(code);
            assert_eq!(c.grade, Grade::Recommended, "{c:?}");
            assert!(c.reasons.is_empty());
        }
        assert_eq!(classify(0x1301).grade, Grade::Recommended);
    }

    #[test]
    fn classification_table() {
        let cases: &[(u16, Grade, &str)] = &[
            (0x0001, Grade::Weak, "NULL"),
            (0x0003, Grade::Weak, "EXPORT"),
            (0x0005, Grade::Weak, "RC4"),
            (0x0009, Grade::Weak, "DES"),
            (0x000A, Grade::Weak, "Sweet32"),
            (0x0034, Grade::Weak, "anonymous"),
            (0x0004, Grade::Weak, "MD5"),
            (0x002F, Grade::NoForwardSecrecy, "static RSA"),
            (0x009C, Grade::NoForwardSecrecy, "static RSA"),
            (0xC00E, Grade::NoForwardSecrecy, "static (EC)DH"),
            (0xC013, Grade::Legacy, "CBC"),
            (0xC0AC, Grade::Legacy, "intermediate"),
        ];
        for &(code, grade, needle) in cases {
            let c = classify(code);
            assert_eq!(c.grade, grade, "{c:?}");
            assert!(c.reasons.iter().any(|r| r.contains(needle)), "{needle} not in {c:?}");
        }
        let unknown = classify(0xFAFA);
        assert_eq!((unknown.grade, unknown.name.as_str()), (Grade::Unknown, "0xFAFA"));
    }

    #[test]
    fn classes_offer_only_their_suites() {
        for class in SuiteClass::ALL {
            let codes = class.codes(true);
            assert!(!codes.is_empty(), "{class:?} offers nothing");
            assert!(codes.iter().all(|&c| class.contains(suite_info(c).unwrap())));
        }
        assert!(SuiteClass::StaticRsa.codes(true).contains(&0x002F));
        assert!(!SuiteClass::StaticRsa.codes(false).contains(&0x009C), "GCM is TLS 1.2 only");
        assert!(!SuiteClass::Cbc.codes(true).contains(&0x002F), "static RSA is its own class");
        assert_eq!(tls13_codes(), vec![0x1301, 0x1302, 0x1303, 0x1304]);
        assert!(all_pre13_codes(false).iter().all(|&c| !suite_info(c).unwrap().tls12_only()));
        let all = all_pre13_codes(true);
        assert_eq!(classify(all[0]).grade, Grade::Recommended);
        assert_eq!(classify(all[all.len() - 1]).grade, Grade::Weak);
    }
}
