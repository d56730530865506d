//! TLS for the SIP listener (`sips:`, RFC 3261 §26.3.1): the certificate and key from PEM files,
//! TLS 1.2 and 1.3 only with rustls's ring suites (AEAD with forward secrecy, nothing older),
//! reloaded in place (SIGHUP) so new connections get the new certificate while the established
//! ones, and their calls, carry on.
//!
//! Mutual TLS is optional: the listener asks for a client certificate but does not require one,
//! and a presented one is identified by its SHA-256 fingerprint ([`fingerprint`]), which a
//! tenant's `cert-sha256` device rule may pin.
//!
//! Also the admin API's HTTPS listener ([`HttpsListener`], `--admin-tls`, same certificate).
//!
//! Owns reading the files, the current server configuration and TLS handshakes of the admin
//! API. It must not accept SIP connections (the transport does) or read SIP or HTTP.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a TLS handshake may take: a peer that stalls it holds a connection slot.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the certificate and key (e.g. they do not match).
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Where the certificate chain and its private key live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// The server configurations from the files.
    ///
    /// # Errors
    /// [`TlsError`] when a file is missing, holds no certificate or key, or they do not match.
    pub fn load(&self) -> Result<TlsConfigs, TlsError> {
        let file_error = |path: &Path, reason: String| TlsError::File {
            path: path.to_owned(),
            reason,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.cert)
            .map_err(|e| file_error(&self.cert, e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| file_error(&self.cert, e.to_string()))?;
        if certs.is_empty() {
            return Err(file_error(&self.cert, "no certificate in the file".into()));
        }
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| file_error(&self.key, e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = || {
            ServerConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        };
        let sip = builder()?
            .with_client_cert_verifier(Arc::new(PinnedClientCerts {
                provider: provider.clone(),
            }))
            .with_single_cert(certs.clone(), key.clone_key())?;
        let admin = builder()?
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        Ok(TlsConfigs {
            sip: Arc::new(sip),
            admin: Arc::new(admin),
        })
    }
}

/// One certificate's server configurations: SIP asks for a client certificate (mutual TLS), the
/// admin API does not (a browser would prompt its user to pick one for nothing).
#[derive(Debug, Clone)]
pub struct TlsConfigs {
    /// For the SIP TLS listener.
    pub sip: Arc<ServerConfig>,
    /// For the admin API's HTTPS listener.
    pub admin: Arc<ServerConfig>,
}

/// The client-certificate policy: ask for a certificate, accept a connection without one, and
/// accept any certificate whose holder proves it has the private key (the handshake signature is
/// checked), without validating a chain to a CA. Room systems carry self-signed or
/// vendor-issued certificates and trust is decided later by matching the leaf's pinned SHA-256
/// fingerprint against a tenant's device rules, so a CA chain would add nothing: a certificate
/// that matches no rule only leaves the caller untrusted.
#[derive(Debug)]
struct PinnedClientCerts {
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClientCerts {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // The certificate is parsed (and rejected when malformed) by the signature checks below,
        // which every client-authenticating handshake goes through.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The SHA-256 of a certificate's DER, lowercase hex: how `cert-sha256` device rules name it.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    hex::encode(Sha256::digest(cert.as_ref()))
}

/// The TLS server configuration in use, replaceable while connections run.
#[derive(Debug, Clone)]
pub struct TlsReloader {
    files: TlsFiles,
    current: Arc<RwLock<TlsConfigs>>,
}

impl TlsReloader {
    /// Loads the files once.
    ///
    /// # Errors
    /// As [`TlsFiles::load`].
    pub fn new(files: TlsFiles) -> Result<TlsReloader, TlsError> {
        let config = files.load()?;
        Ok(TlsReloader {
            files,
            current: Arc::new(RwLock::new(config)),
        })
    }

    /// Re-reads the files; on error the previous certificate stays in use.
    ///
    /// # Errors
    /// As [`TlsFiles::load`].
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = self.files.load()?;
        if let Ok(mut current) = self.current.write() {
            *current = config;
        }
        Ok(())
    }

    /// A SIP acceptor with the current certificate (for one new connection).
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current().sip)
    }

    /// An admin API acceptor with the current certificate (for one new connection).
    pub fn admin_acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.current().admin)
    }

    fn current(&self) -> TlsConfigs {
        match self.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The admin API's HTTPS listener for `axum::serve`: handshakes run in their own tasks (a
/// stalled client holds up no one), finished ones are handed over in arrival order.
#[derive(Debug)]
pub struct HttpsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl HttpsListener {
    /// Serves TLS on `listener` with the reloader's current certificate.
    pub fn new(listener: TcpListener, tls: TlsReloader) -> std::io::Result<HttpsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, from) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "admin accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (tls.admin_acceptor(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, from)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%from, error = %e, "admin TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%from, "admin TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(HttpsListener { local, ready })
    }
}

impl axum::serve::Listener for HttpsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept task ended (it never does while the runtime runs): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throwaway self-signed certificate for `localhost`/127.0.0.1, written to `dir`.
    fn throwaway_cert(dir: &Path, name: &str) -> (TlsFiles, CertificateDer<'static>) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("generate");
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.cert.pem()).expect("write cert");
        std::fs::write(&files.key, cert.signing_key.serialize_pem()).expect("write key");
        (files, cert.cert.der().clone())
    }

    #[test]
    fn reload_swaps_the_certificate_and_keeps_the_old_one_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let (files, _) = throwaway_cert(dir.path(), "a");
        let reloader = TlsReloader::new(files.clone()).unwrap();
        let before = reloader.acceptor().config().clone();
        throwaway_cert(dir.path(), "a");
        reloader.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, reloader.acceptor().config()));
        let in_use = reloader.acceptor().config().clone();
        std::fs::write(&files.key, "not a key").unwrap();
        let err = reloader.reload().unwrap_err();
        assert!(err.to_string().contains("a.key"), "{err}");
        assert!(Arc::ptr_eq(&in_use, reloader.acceptor().config()));
    }

    #[test]
    fn missing_or_empty_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = TlsFiles {
            cert: dir.path().join("none.crt"),
            key: dir.path().join("none.key"),
        };
        assert!(files.load().unwrap_err().to_string().contains("none.crt"));
        std::fs::write(&files.cert, "").unwrap();
        assert!(files
            .load()
            .unwrap_err()
            .to_string()
            .contains("no certificate"));
    }
}
