//! HTTPS for the sandboxes (`converge sandbox --tls-cert FILE --tls-key FILE`): to try a
//! PlatformConnection's certificate verification and `tls.caBundle` against a platform
//! served with a certificate from your own CA.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::server::TlsStream;

/// A server configuration from PEM: the certificate chain (leaf first) and its private key.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("TLS certificate: {e}"))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "TLS certificate: no certificate in the PEM"
    );
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| anyhow::anyhow!("TLS key: {e}"))?;
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| anyhow::anyhow!("TLS certificate and key: {e}"))?;
    Ok(Arc::new(config))
}

/// `server_config` from two PEM files.
pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<ServerConfig>> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))
    };
    server_config(&read(cert)?, &read(key)?)
}

/// Accepts TCP connections and hands on those whose TLS handshake succeeded. Handshakes run
/// in tasks of their own, so a client that refuses the certificate holds up no one.
pub struct TlsListener {
    addr: SocketAddr,
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let (tx, ready) = tokio::sync::mpsc::channel(64);
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((tcp, peer)) = listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener {
            addr,
            ready,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accepting task is gone only when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_pem_is_refused_with_what_is_wrong() {
        let none = server_config(b"not a certificate", b"not a key").unwrap_err();
        assert!(none.to_string().contains("no certificate"), "{none}");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let no_key = server_config(cert.pem().as_bytes(), b"").unwrap_err();
        assert!(no_key.to_string().contains("TLS key"), "{no_key}");
        assert!(server_config(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).is_ok());
    }
}
