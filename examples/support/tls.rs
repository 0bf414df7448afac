//! TLS for the examples: rustls configurations from PEM files or a self-signed
//! certificate, and a verifier that trusts anything for `--insecure-skip-verify`.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

/// A server configuration from a certificate chain and key in PEM files.
#[allow(dead_code)] // the clients do not use it
pub fn server_from_pem(cert: &Path, key: &Path) -> io::Result<Arc<rustls::ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| io::Error::other(format!("{}: {e}", cert.display())))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| io::Error::other(format!("{}: {e}", key.display())))?;
    server(chain, key)
}

/// A server configuration with a new self-signed certificate for `hostname`.
#[allow(dead_code)] // the clients do not use it
pub fn server_self_signed(hostname: &str) -> io::Result<Arc<rustls::ServerConfig>> {
    let names = vec![hostname.to_string(), "localhost".to_string()];
    let signed = rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
    let key = PrivateKeyDer::try_from(signed.key_pair.serialize_der()).map_err(io::Error::other)?;
    server(vec![signed.cert.der().clone()], key)
}

#[allow(dead_code)] // the clients do not use it
fn server(chain: Vec<CertificateDer<'static>>, key: PrivateKeyDer<'static>) -> io::Result<Arc<rustls::ServerConfig>> {
    let config =
        rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(chain, key).map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

/// A client configuration trusting the certificates in `ca` (PEM), or anything at all.
#[allow(dead_code)] // the servers do not use it
pub fn client(ca: Option<&Path>, insecure: bool) -> io::Result<Arc<rustls::ClientConfig>> {
    let builder = rustls::ClientConfig::builder();
    let config = if insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(TrustAnything)).with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(ca) = ca {
            for cert in
                CertificateDer::pem_file_iter(ca).map_err(|e| io::Error::other(format!("{}: {e}", ca.display())))?
            {
                roots.add(cert.map_err(io::Error::other)?).map_err(io::Error::other)?;
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The server name to check the certificate against: the host of `HOST:PORT`.
#[allow(dead_code)] // the servers do not use it
pub fn server_name(server: &str) -> io::Result<ServerName<'static>> {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host).trim_matches(['[', ']']);
    ServerName::try_from(host.to_string()).map_err(io::Error::other)
}

/// `--insecure-skip-verify`: accepts any certificate, for tests against self-signed
/// servers. Never for real mail.
#[derive(Debug)]
struct TrustAnything;

impl rustls::client::danger::ServerCertVerifier for TrustAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algorithms = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider().signature_verification_algorithms.supported_schemes()
    }
}
