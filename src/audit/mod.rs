pub mod cert;
pub mod ciphers;
pub mod tls_versions;
