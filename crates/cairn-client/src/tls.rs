//! rustls needs one process-wide crypto provider; this crate uses ring
//! (it builds with just a C compiler).

/// Installs ring as the process default unless a provider is already set.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_some() {
        return;
    }
    match rustls::crypto::ring::default_provider().install_default() {
        Ok(()) => {}
        // Another thread installed one meanwhile; any provider will do.
        Err(_already_installed) => {}
    }
}
