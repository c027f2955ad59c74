//! rustls needs one process-wide crypto provider; this crate uses ring
//! (it builds with just a C compiler).

/// Installs ring as the process default unless a provider is already set.
/// Call before building any reqwest client: without a provider it panics.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine: any
        // installed provider will do.
        if rustls::crypto::ring::default_provider()
            .install_default()
            .is_err()
        {
            tracing::debug!("a rustls crypto provider was installed concurrently");
        }
    }
}
