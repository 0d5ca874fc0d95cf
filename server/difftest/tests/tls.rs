//! The TLS client port (`secureClientPort` with ZooKeeper's `ssl.*` keys, PEM files): stock
//! clients connect over TLS with a client certificate, whose subject becomes an `x509` ACL
//! identity; ZooKeeper's own Java client (`zkCli.sh` with `zookeeper.client.secure=true`) and
//! the `zookeeper-client` crate's TLS feature. The plain port runs beside it.

use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Result};
use paddock_difftest::server::free_port;
use paddock_difftest::{persistent, zkcli, ServerConfig, ServerKind, ServerProcess};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use zookeeper_client as zk;

/// A CA, a server certificate for 127.0.0.1 and a client certificate `CN=client1,O=Paddock`,
/// written as PEM: `ca.pem`, `server.pem` (key and chain, ZooKeeper's PEM key store) and
/// `client.pem` (the same for the client), plus the client's parts for the Rust client.
struct Pki {
    ca: String,
    client_cert: String,
    client_key: String,
}

fn write_pki(dir: &Path) -> Result<Pki> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Paddock test CA");
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let server_key = KeyPair::generate()?;
    let server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
    let server_cert = server.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client.distinguished_name = rcgen::DistinguishedName::new();
    client
        .distinguished_name
        .push(DnType::OrganizationName, "Paddock");
    client
        .distinguished_name
        .push(DnType::CommonName, "client1");
    let client_cert = client.signed_by(&client_key, &issuer)?;

    std::fs::write(dir.join("ca.pem"), ca_cert.pem())?;
    std::fs::write(
        dir.join("server.pem"),
        format!("{}{}", server_key.serialize_pem(), server_cert.pem()),
    )?;
    std::fs::write(
        dir.join("client.pem"),
        format!("{}{}", client_key.serialize_pem(), client_cert.pem()),
    )?;
    Ok(Pki {
        ca: ca_cert.pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    })
}

const SUBJECT: &str = "CN=client1,O=Paddock";

/// ZooKeeper's four PEM store keys under `prefix` (`ssl`, `ssl.quorum`, `zookeeper.ssl`).
fn pem_stores(prefix: &str, key_store: String, trust_store: String) -> [(String, String); 4] {
    [
        (format!("{prefix}.keyStore.location"), key_store),
        (format!("{prefix}.keyStore.type"), "PEM".to_string()),
        (format!("{prefix}.trustStore.location"), trust_store),
        (format!("{prefix}.trustStore.type"), "PEM".to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_clients_authenticate_with_their_certificate() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let pki = write_pki(dir.path())?;
    let secure_port = free_port()?;
    let path = |name: &str| dir.path().join(name).display().to_string();
    let mut config = ServerConfig::default();
    for (k, v) in [
        ("secureClientPort", secure_port.to_string()),
        ("secureClientPortAddress", "127.0.0.1".to_string()),
        (
            "serverCnxnFactory",
            "org.apache.zookeeper.server.NettyServerCnxnFactory".to_string(),
        ),
        (
            "authProvider.x509",
            "org.apache.zookeeper.server.auth.X509AuthenticationProvider".to_string(),
        ),
    ] {
        config.extra.push((k.to_string(), v));
    }
    config
        .extra
        .extend(pem_stores("ssl", path("server.pem"), path("ca.pem")));
    let server = ServerProcess::start(ServerKind::Paddock, &config)?;
    let secure = format!("127.0.0.1:{secure_port}");

    // The zookeeper-client crate over TLS, with the client certificate.
    let tls = zk::TlsOptions::default()
        .with_pem_ca(&pki.ca)
        .map_err(|e| anyhow!("ca: {e}"))?
        .with_pem_identity(&pki.client_cert, &pki.client_key)
        .map_err(|e| anyhow!("identity: {e}"))?;
    let c = zk::Client::connector()
        .with_tls(tls)
        .with_session_timeout(Duration::from_secs(10))
        .secure_connect(&secure)
        .await
        .map_err(|e| anyhow!("TLS connect: {e}"))?;
    let acl = [zk::Acl::new(
        zk::Permission::ALL,
        zk::AuthId::new("x509", SUBJECT),
    )];
    let mine = zk::CreateMode::Persistent.with_acls(zk::Acls::new(&acl));
    c.create("/tls-owned", b"secret", &mine).await?;
    let (data, _) = c.get_data("/tls-owned").await?;
    assert_eq!(data, b"secret");
    let whoami = c.list_auth_users().await?;
    assert!(
        whoami
            .iter()
            .any(|a| a.scheme() == "x509" && a.user() == SUBJECT),
        "the certificate's subject is an x509 identity: {whoami:?}"
    );

    // The plain port runs beside it; its clients are not that identity.
    let plain = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&server.addr().to_string())
        .await
        .map_err(|e| anyhow!("plain connect: {e}"))?;
    assert!(matches!(
        plain.get_data("/tls-owned").await,
        Err(zk::Error::NoAuth)
    ));
    plain.create("/plain", b"", &persistent()).await?;

    // ZooKeeper's own Java client over TLS (Netty, PEM stores).
    let client = [
        ("zookeeper.client.secure".to_string(), "true".to_string()),
        (
            "zookeeper.clientCnxnSocket".to_string(),
            "org.apache.zookeeper.ClientCnxnSocketNetty".to_string(),
        ),
    ];
    let props: Vec<String> = client
        .into_iter()
        .chain(pem_stores(
            "zookeeper.ssl",
            path("client.pem"),
            path("ca.pem"),
        ))
        .map(|(k, v)| format!("-D{k}={v}"))
        .collect();
    let out = zkcli::run_with(&secure, &props, &["get /tls-owned", "ls /"]).await?;
    assert!(
        out.contains("secret"),
        "zkCli over TLS reads its node:\n{out}\nserver log:\n{}",
        server.log_tail()
    );
    assert!(out.contains("plain"), "{out}");

    // A client without a certificate is refused (ssl.clientAuth=need, ZooKeeper's default).
    let no_identity = zk::TlsOptions::default()
        .with_pem_ca(&pki.ca)
        .map_err(|e| anyhow!("ca: {e}"))?;
    let refused = tokio::time::timeout(
        Duration::from_secs(20),
        zk::Client::connector()
            .with_tls(no_identity)
            .with_session_timeout(Duration::from_secs(5))
            .with_connection_timeout(Duration::from_secs(2))
            .with_fail_eagerly()
            .secure_connect(&secure),
    )
    .await;
    assert!(
        !matches!(refused, Ok(Ok(_))),
        "a client without a certificate got a session"
    );
    Ok(())
}

/// `sslQuorum`: members link to each other over mutual TLS with the `ssl.quorum.*` stores,
/// and the ensemble forms and replicates as over plain TCP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ensemble_links_its_members_over_tls() -> Result<()> {
    use paddock_difftest::ensemble::{Ensemble, EnsembleSpec};
    let dir = tempfile::tempdir()?;
    write_pki(dir.path())?;
    let path = |name: &str| dir.path().join(name).display().to_string();
    let mut spec = EnsembleSpec::participants(3);
    spec.config
        .extra
        .push(("sslQuorum".to_string(), "true".to_string()));
    spec.config
        .extra
        .extend(pem_stores("ssl.quorum", path("server.pem"), path("ca.pem")));
    let ensemble = Ensemble::start(ServerKind::Paddock, &spec)?;
    let ids = ensemble.ids();
    let writer = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(10))
        .connect(&ensemble.client_addr(ids[0]).to_string())
        .await
        .map_err(|e| anyhow!("connect: {e}"))?;
    writer.create("/over-tls", b"x", &persistent()).await?;
    for &id in &ids[1..] {
        let reader = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(&ensemble.client_addr(id).to_string())
            .await
            .map_err(|e| anyhow!("connect: {e}"))?;
        reader.sync("/").await?;
        assert_eq!(reader.get_data("/over-tls").await?.0, b"x", "member {id}");
    }
    // Without this the test would pass on plain links too: each member says it took TLS.
    for &id in &ids {
        assert!(
            ensemble
                .log(id)
                .contains("ensemble links use mutual TLS (sslQuorum)"),
            "member {id}: {}",
            ensemble.log(id)
        );
    }
    assert!(
        !ensemble
            .log_tails()
            .contains("ensemble link TLS configuration refused"),
        "{}",
        ensemble.log_tails()
    );
    Ok(())
}
