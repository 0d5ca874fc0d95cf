//! TLS on the secure client port (`secureClientPort`), from ZooKeeper's `ssl.*` keys in PEM
//! form: the key store file holds the private key and the certificate chain, the trust store
//! the CA certificates that client certificates must chain to. With `ssl.clientAuth=need`
//! (ZooKeeper's default) a client must present one; its subject, as Java's
//! `X500Principal.getName()` writes it, becomes the connection's `x509` id when the
//! `X509AuthenticationProvider` is configured.
//!
//! The files are checked for changes every few seconds and a changed pair is loaded for the
//! connections that follow (ZooKeeper's `FileChangeWatcher` reload), so certificates can be
//! rotated without a restart; a pair that fails to load keeps the previous one in use.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::config::{ClientAuth, TlsSettings};

/// How often the key and trust store files are checked for changes.
const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// Which zoo.cfg keys a pair of stores comes from, so that an error names the keys to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stores {
    /// `ssl.*`: the stores of the TLS client port (`secureClientPort`).
    ClientPort,
    /// `ssl.quorum.*`: the stores of the links between members (`sslQuorum`).
    Quorum,
}

impl Stores {
    /// The full key of a store setting, e.g. `ssl.quorum.keyStore.location`.
    pub fn key(self, name: &str) -> String {
        let prefix = match self {
            Stores::ClientPort => "ssl",
            Stores::Quorum => "ssl.quorum",
        };
        format!("{prefix}.{name}")
    }

    /// The setting that asks for a key store.
    fn user(self) -> &'static str {
        match self {
            Stores::ClientPort => "secureClientPort",
            Stores::Quorum => "sslQuorum",
        }
    }

    /// The setting that asks for a trust store: the client port's `ssl.clientAuth`; member
    /// links are always mutual.
    fn trust_user(self, auth: ClientAuth) -> String {
        match (self, auth) {
            (Stores::ClientPort, ClientAuth::Want) => "ssl.clientAuth=want".into(),
            (Stores::ClientPort, _) => "ssl.clientAuth=need".into(),
            (Stores::Quorum, _) => self.user().into(),
        }
    }
}

/// Why a pair of stores does not load. Each message names the zoo.cfg key to look at.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{needed_by} needs {key}")]
    Missing { key: String, needed_by: String },
    #[error("{key}={kind:?} is not supported: Paddock reads PEM files")]
    NotPem { key: String, kind: String },
    #[error("reading {key} ({path}): {reason}")]
    File {
        key: String,
        path: PathBuf,
        reason: String,
    },
    /// ZooKeeper decrypts such a key with the key store password; Paddock does not.
    #[error(
        "reading {} ({path}): the private key is encrypted, which Paddock does not support \
         ({} is not used); store it unencrypted, e.g. with `openssl pkey`",
        stores.key("keyStore.location"),
        stores.key("keyStore.password")
    )]
    EncryptedKey { stores: Stores, path: PathBuf },
    #[error("the {}* stores do not make a TLS configuration: {reason}", stores.key(""))]
    Rustls { stores: Stores, reason: String },
}

/// What a pair of stores loads into (a rustls configuration, the member links' PEM bytes),
/// loaded again for later connections when the files change (ZooKeeper's
/// `FileChangeWatcher`). A change that does not load keeps the previous value in use and is
/// tried again at the next check.
pub struct ReloadingStores<T> {
    settings: TlsSettings,
    stores: Stores,
    load: fn(&TlsSettings) -> Result<T, TlsError>,
    check_every: Duration,
    current: Mutex<Loaded<T>>,
}

struct Loaded<T> {
    value: T,
    /// The files' modification times when `value` was loaded.
    stamps: Vec<Option<SystemTime>>,
    checked: Instant,
}

impl<T: Clone> ReloadingStores<T> {
    /// Loads the stores now (a failure is the caller's to report) and watches them, looking
    /// at their modification times at most every `check_every`.
    pub fn new(
        settings: &TlsSettings,
        stores: Stores,
        check_every: Duration,
        load: fn(&TlsSettings) -> Result<T, TlsError>,
    ) -> Result<Self, TlsError> {
        // Stamps first: a change made while loading is then seen, and loaded, next time.
        let stamps = stamps(settings);
        let value = load(settings)?;
        Ok(ReloadingStores {
            settings: settings.clone(),
            stores,
            load,
            check_every,
            current: Mutex::new(Loaded {
                value,
                stamps,
                checked: Instant::now(),
            }),
        })
    }

    /// The settings the stores come from.
    pub fn settings(&self) -> &TlsSettings {
        &self.settings
    }

    /// The value for the next connection, loaded again first if the files changed.
    pub fn current(&self) -> T {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.checked.elapsed() < self.check_every {
            return current.value.clone();
        }
        current.checked = Instant::now();
        let now = stamps(&self.settings);
        if now == current.stamps {
            return current.value.clone();
        }
        let keys = self.stores.key("*");
        match (self.load)(&self.settings) {
            Ok(value) => {
                tracing::info!("the {keys} stores changed: later connections use the new ones");
                current.value = value;
                current.stamps = now;
            }
            Err(e) => {
                tracing::warn!(
                    "the {keys} stores changed but do not load, keeping the old ones: {e}"
                )
            }
        }
        current.value.clone()
    }
}

/// The TLS client port's configuration, reloaded when its `ssl.*` files change.
pub struct TlsAcceptor {
    stores: ReloadingStores<Arc<ServerConfig>>,
}

impl TlsAcceptor {
    pub fn new(settings: &TlsSettings) -> Result<TlsAcceptor, TlsError> {
        TlsAcceptor::with_check_interval(settings, RELOAD_CHECK)
    }

    /// `new`, checking the files for changes every `check_every`.
    pub fn with_check_interval(
        settings: &TlsSettings,
        check_every: Duration,
    ) -> Result<TlsAcceptor, TlsError> {
        let load = |s: &TlsSettings| server_config(s, Stores::ClientPort);
        let stores = ReloadingStores::new(settings, Stores::ClientPort, check_every, load)?;
        Ok(TlsAcceptor { stores })
    }

    /// The configuration for the next handshake, reloaded first if the files changed.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.stores.current()
    }

    /// Whether clients get an `x509` id from their certificate.
    pub fn x509_auth(&self) -> bool {
        self.stores.settings().x509_auth
    }
}

/// The modification times of a store pair's files: what a reload watches.
fn stamps(s: &TlsSettings) -> Vec<Option<SystemTime>> {
    [&s.key_store, &s.trust_store]
        .into_iter()
        .map(|p| {
            p.as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .and_then(|m| m.modified().ok())
        })
        .collect()
}

/// `<store>.type` must be PEM or unset: Paddock reads every store as PEM.
fn check_pem(stores: Stores, store: &str, kind: &Option<String>) -> Result<(), TlsError> {
    match kind.as_deref() {
        None | Some("") => Ok(()),
        Some(k) if k.eq_ignore_ascii_case("pem") => Ok(()),
        Some(k) => Err(TlsError::NotPem {
            key: stores.key(&format!("{store}.type")),
            kind: k.to_owned(),
        }),
    }
}

/// A store file read once, with the key that names it, which its errors carry.
struct StoreFile<'a> {
    key: String,
    path: &'a Path,
    pem: Vec<u8>,
}

impl StoreFile<'_> {
    fn error(&self, reason: impl ToString) -> TlsError {
        TlsError::File {
            key: self.key.clone(),
            path: self.path.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// The `<store>.location` of `stores`, read, or an error saying which setting needs it.
fn store_file<'a>(
    stores: Stores,
    store: &str,
    path: &'a Option<PathBuf>,
    needed_by: String,
) -> Result<StoreFile<'a>, TlsError> {
    let key = stores.key(&format!("{store}.location"));
    let Some(path) = path else {
        return Err(TlsError::Missing { key, needed_by });
    };
    match std::fs::read(path) {
        Ok(pem) => Ok(StoreFile { key, path, pem }),
        Err(e) => Err(TlsError::File {
            key,
            path: path.clone(),
            reason: e.to_string(),
        }),
    }
}

/// A rustls server configuration and the PEM bytes it was built from, each file read once:
/// what the member links take as their material is exactly what was checked.
pub struct LoadedStores {
    pub config: Arc<ServerConfig>,
    pub key_store_pem: Vec<u8>,
    /// Read only when client certificates are checked (`ssl.clientAuth` want or need).
    pub trust_store_pem: Option<Vec<u8>>,
}

/// Builds the rustls server configuration the settings describe; errors name the keys of
/// `stores`.
pub fn server_config(s: &TlsSettings, stores: Stores) -> Result<Arc<ServerConfig>, TlsError> {
    load_stores(s, stores).map(|loaded| loaded.config)
}

/// [`server_config`], with the bytes it was built from.
pub fn load_stores(s: &TlsSettings, stores: Stores) -> Result<LoadedStores, TlsError> {
    check_pem(stores, "keyStore", &s.key_store_type)?;
    check_pem(stores, "trustStore", &s.trust_store_type)?;
    let key_store = store_file(stores, "keyStore", &s.key_store, stores.user().into())?;
    let (chain, key) = read_key_store(stores, &key_store)?;
    let rustls_err = |reason: String| TlsError::Rustls { stores, reason };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| rustls_err(e.to_string()))?;
    let (builder, trust_store_pem) = match s.client_auth {
        ClientAuth::None => (builder.with_no_client_auth(), None),
        auth => {
            let trust = store_file(
                stores,
                "trustStore",
                &s.trust_store,
                stores.trust_user(auth),
            )?;
            let verifier = client_verifier(stores, &trust, auth, provider)?;
            (builder.with_client_cert_verifier(verifier), Some(trust.pem))
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| rustls_err(e.to_string()))?;
    Ok(LoadedStores {
        config: Arc::new(config),
        key_store_pem: key_store.pem,
        trust_store_pem,
    })
}

/// Checks client certificates against the trust store's CAs; with `want`, a client may
/// also come without one.
fn client_verifier(
    stores: Stores,
    trust: &StoreFile,
    auth: ClientAuth,
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&trust.pem) {
        let cert = cert.map_err(|e| trust.error(e))?;
        roots.add(cert).map_err(|e| trust.error(e))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    let verifier = if auth == ClientAuth::Want {
        verifier.allow_unauthenticated()
    } else {
        verifier
    };
    verifier.build().map_err(|e| TlsError::Rustls {
        stores,
        reason: e.to_string(),
    })
}

/// The certificate chain and private key of a PEM key store, both from the one read of the
/// file (a reload racing a rewrite cannot pair a new chain with an old key).
fn read_key_store(
    stores: Stores,
    store: &StoreFile,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let pem = &store.pem;
    if has_encrypted_key(pem) {
        return Err(TlsError::EncryptedKey {
            stores,
            path: store.path.to_owned(),
        });
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| store.error(e))?;
    if chain.is_empty() {
        return Err(store.error("no certificate in the key store"));
    }
    let key = PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| store.error(format!("no usable private key: {e}")))?;
    Ok((chain, key))
}

/// Whether a PEM file holds an encrypted private key: PKCS#8's `ENCRYPTED PRIVATE KEY`, the
/// form ZooKeeper's `PemReader` decrypts with the key store password, or OpenSSL's legacy
/// `Proc-Type: 4,ENCRYPTED` header. The PEM parser skips the first and fails on the second
/// with a message that does not say why, so both are named here.
fn has_encrypted_key(pem: &[u8]) -> bool {
    let contains = |needle: &[u8]| pem.windows(needle.len()).any(|w| w == needle);
    contains(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") || contains(b"Proc-Type: 4,ENCRYPTED")
}

/// `X500Principal.getName()` (RFC 2253) of a certificate's subject: the RDNs last first,
/// comma-separated, `CN=client,O=Example`. `None` when the certificate does not parse.
pub fn subject_name(cert: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert).ok()?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let parts: Vec<String> = rdn
            .iter()
            .map(|atv| {
                let oid = atv.attr_type();
                let key =
                    x509_parser::objects::oid2abbrev(oid, x509_parser::objects::oid_registry())
                        .map(str::to_owned)
                        .unwrap_or_else(|_| oid.to_id_string());
                let value = atv.as_str().map(escape_rfc2253).unwrap_or_default();
                format!("{key}={value}")
            })
            .collect();
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// RFC 2253 escaping of an attribute value.
fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.char_indices() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == ' ' || c == '#'))
            || (i + c.len_utf8() == v.len() && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // X509Util reads the client port's stores from the ssl.* keys: errors name those keys.
    #[test]
    fn non_pem_stores_and_missing_files_are_clear_errors() {
        let client = |s: &TlsSettings| server_config(s, Stores::ClientPort);
        let s = TlsSettings {
            key_store: Some("/nonexistent/key.pem".into()),
            key_store_type: Some("JKS".into()),
            ..TlsSettings::default()
        };
        let err = client(&s).expect_err("JKS");
        assert!(matches!(err, TlsError::NotPem { .. }), "{err}");
        assert!(
            err.to_string().starts_with("ssl.keyStore.type=\"JKS\""),
            "{err}"
        );
        let s = TlsSettings {
            key_store: Some("/nonexistent/key.pem".into()),
            ..TlsSettings::default()
        };
        let err = client(&s).expect_err("missing file");
        assert!(matches!(err, TlsError::File { .. }), "{err}");
        assert!(err.to_string().contains("ssl.keyStore.location"), "{err}");
        let err = client(&TlsSettings::default()).expect_err("no key store");
        assert_eq!(
            err.to_string(),
            "secureClientPort needs ssl.keyStore.location"
        );
    }

    // QuorumX509Util reads the member links' stores from ssl.quorum.*: their errors must send
    // the operator there, not to the client port's keys.
    #[test]
    fn quorum_store_errors_name_the_ssl_quorum_keys() {
        let quorum = |s: &TlsSettings| server_config(s, Stores::Quorum).expect_err("broken");
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("quorum.pem");
        std::fs::write(&store, "not a key store").unwrap();
        let broken = TlsSettings {
            key_store: Some(store.clone()),
            client_auth: ClientAuth::Need,
            ..TlsSettings::default()
        };
        let err = quorum(&broken).to_string();
        assert!(err.contains("ssl.quorum.keyStore.location"), "{err}");
        let err = quorum(&TlsSettings::default()).to_string();
        assert_eq!(err, "sslQuorum needs ssl.quorum.keyStore.location");
        write_key_store(&store, "member");
        let err = quorum(&broken).to_string();
        assert_eq!(err, "sslQuorum needs ssl.quorum.trustStore.location");
        let jks = TlsSettings {
            trust_store_type: Some("JKS".into()),
            ..broken
        };
        let err = quorum(&jks).to_string();
        assert!(err.starts_with("ssl.quorum.trustStore.type="), "{err}");
    }

    /// A key store (key and self-signed certificate) for `name`, written to `path`.
    fn write_key_store(path: &Path, name: &str) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(path, format!("{}{}", key.serialize_pem(), cert.pem())).unwrap();
    }

    // PemReader.loadPrivateKey decrypts a PKCS#8 `ENCRYPTED PRIVATE KEY` with
    // ssl.keyStore.password; Paddock refuses such a key by name instead of "no private key".
    #[test]
    fn an_encrypted_private_key_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("server.pem");
        write_key_store(&store, "server");
        let plain = std::fs::read_to_string(&store).unwrap();
        let s = TlsSettings {
            key_store: Some(store.clone()),
            client_auth: ClientAuth::None,
            ..TlsSettings::default()
        };
        assert!(
            server_config(&s, Stores::ClientPort).is_ok(),
            "the unencrypted key loads"
        );
        // The PKCS#8 labels of an encrypted key; the check looks no further than them.
        let encrypted = plain.replace("PRIVATE KEY-----", "ENCRYPTED PRIVATE KEY-----");
        std::fs::write(&store, encrypted).unwrap();
        let err = server_config(&s, Stores::ClientPort).expect_err("an encrypted key");
        assert!(matches!(err, TlsError::EncryptedKey { .. }), "{err}");
        assert!(err.to_string().contains("ssl.keyStore.password"), "{err}");
    }

    // FileChangeWatcher: a changed key store is loaded for the next handshakes; one that
    // does not load leaves the previous pair in use.
    #[test]
    fn changed_stores_are_reloaded_and_broken_ones_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("server.pem");
        write_key_store(&store, "first");
        let s = TlsSettings {
            key_store: Some(store.clone()),
            client_auth: ClientAuth::None,
            ..TlsSettings::default()
        };
        let acceptor = TlsAcceptor::with_check_interval(&s, Duration::ZERO).unwrap();
        let first = acceptor.config();
        assert!(
            Arc::ptr_eq(&first, &acceptor.config()),
            "unchanged files, same config"
        );
        // A new modification time, then a new pair.
        std::thread::sleep(Duration::from_millis(20));
        write_key_store(&store, "second");
        let second = acceptor.config();
        assert!(!Arc::ptr_eq(&first, &second), "a changed store is loaded");
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&store, "not a key store").unwrap();
        let kept = acceptor.config();
        assert!(Arc::ptr_eq(&second, &kept), "a broken store is not loaded");
    }

    #[test]
    fn subjects_print_as_x500_principal_names() {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Paddock, Inc");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client1");
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_name(cert.der()).as_deref(),
            Some("CN=client1,O=Paddock\\, Inc")
        );
    }
}
