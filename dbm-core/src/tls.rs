//! One TLS crypto provider for the process, whichever drivers are compiled in.

/// Makes sure rustls has a process-wide crypto provider. rustls picks one from its features
/// and cannot when several are compiled in: sqlx (PostgreSQL) brings `ring`, tiberius (SQL
/// Server) `aws-lc-rs`, so a build with both drivers would panic at its first TLS
/// handshake. This installs `ring` when no provider is set yet; one the application
/// installed stays. Drivers call it before they connect.
///
/// ```
/// dbm_core::ensure_crypto_provider();
/// dbm_core::ensure_crypto_provider(); // idempotent
/// ```
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err only when another thread installed one meanwhile: that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
