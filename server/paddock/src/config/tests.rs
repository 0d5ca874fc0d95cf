//! Tests of zoo.cfg parsing. Each names the ZooKeeper code it follows.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use super::*;

fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_zoo_cfg_str(text, Path::new(""))
}

fn parse_ok(text: &str) -> ServerConfig {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    parse(text).expect_err("should be rejected").to_string()
}

/// A fresh directory of its own under the system temp dir, for tests that need files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("paddock-config-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// /etc/zookeeper/conf_example/zoo.cfg of Debian's zookeeper 3.8.0 package.
const DEBIAN_SAMPLE: &str = "\
# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial 
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between 
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
# do not use /tmp for storage, /tmp here is just 
# example sakes.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# the maximum number of client connections.
# increase this if you need to handle more clients
#maxClientCnxns=60
#
# Be sure to read the maintenance section of the 
# administrator guide before turning on autopurge.
#
# https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_maintenance
#
# The number of snapshots to retain in dataDir
#autopurge.snapRetainCount=3
# Purge task interval in hours
# Set to \"0\" to disable auto purge feature
#autopurge.purgeInterval=1

## Metrics Providers
#
# https://prometheus.io Metrics Exporter
#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
#metricsProvider.httpHost=0.0.0.0
#metricsProvider.httpPort=7000
#metricsProvider.exportJvmInfo=true
";

// QuorumPeerConfig.parseProperties on the sample Debian ships.
#[test]
fn debian_sample_parses_like_zookeeper() {
    let cfg = parse_ok(DEBIAN_SAMPLE);
    assert_eq!(cfg.tick_ms, 2000);
    assert_eq!(cfg.data_dir, PathBuf::from("/tmp/zookeeper"));
    assert_eq!(
        cfg.data_log_dir, cfg.data_dir,
        "dataLogDir defaults to dataDir"
    );
    assert_eq!(cfg.client_port, 2181);
    assert_eq!(cfg.client_port_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(cfg.session_timeout_ms_min, 4000, "2 x tickTime");
    assert_eq!(cfg.session_timeout_ms_max, 40000, "20 x tickTime");
    assert_eq!(cfg.max_client_connections_per_ip, 60);
    assert_eq!((cfg.init_limit, cfg.sync_limit), (Some(10), Some(5)));
    assert!(cfg.ignored_keys.is_empty(), "{:?}", cfg.ignored_keys);
    assert!(!cfg.is_distributed());
    assert!(cfg.validate().is_ok());
}

// ZooKeeperServer.DEFAULT_TICK_TIME and the defaults of every system property.
#[test]
fn embedded_default_is_standalone_on_loopback() {
    let cfg = ServerConfig::default();
    assert_eq!(cfg.tick_ms, 3000);
    assert_eq!(cfg.client_port, 2181);
    assert_eq!(cfg.client_port_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(cfg.data_dir, PathBuf::from("./data"));
    assert_eq!(cfg.jute_max_buffer_bytes, 0xfffff);
    assert_eq!(cfg.jute_max_buffer_extra_bytes, 0xfffff);
    assert_eq!(
        (cfg.min_session_timeout_ms(), cfg.max_session_timeout_ms()),
        (6000, 60000)
    );
    assert!(cfg.validate().is_ok());
    let core = cfg.core_config();
    assert_eq!(core.tick_ms, 3000);
    assert_eq!(
        (core.session_timeout_ms_min, core.session_timeout_ms_max),
        (6000, 60000)
    );
    // ZooKeeperServer.createSessionTrackerServerId = 1 for a standalone server.
    assert_eq!(core.server_id, 1);
    assert!(core.digest_auth_enabled);
}

// FourLetterCommands.isEnabled: only srvr by default; isro with readonlymode.enabled.
#[test]
fn four_letter_words_default_to_srvr_only() {
    let cfg = ServerConfig::default();
    assert!(cfg.four_letter_word_allowed("srvr"));
    assert!(!cfg.four_letter_word_allowed("ruok"));
    assert!(!cfg.four_letter_word_allowed("isro"));
    let ro = parse_ok("dataDir=/d\nclientPort=1\nreadonlymode.enabled=true\n");
    assert!(ro.four_letter_word_allowed("isro"));
}

// FourLetterCommands.isEnabled: trimmed, comma-separated, "*" means all known.
#[test]
fn four_letter_whitelist_parsing() {
    let cfg = parse_ok("dataDir=/d\nclientPort=1\n4lw.commands.whitelist= ruok ,, stat,bogus\n");
    assert!(cfg.four_letter_word_allowed("ruok"));
    assert!(cfg.four_letter_word_allowed("stat"));
    assert!(cfg.four_letter_word_allowed("srvr"));
    assert!(!cfg.four_letter_word_allowed("mntr"));
    let all = parse_ok("dataDir=/d\nclientPort=1\nzookeeper.4lw.commands.whitelist=*\n");
    for cmd in FourLetterWhitelist::KNOWN {
        assert!(all.four_letter_word_allowed(cmd), "{cmd}");
    }
    assert!(all.ignored_keys.is_empty());
}

// QuorumPeerConfig.parseProperties and the system properties of ZooKeeperServer,
// DigestAuthenticationProvider, FileTxnLog, FilePadding, ZooKeeperServerMain
// (containers), BinaryInputArchive (jute), JettyAdminServer, PrometheusMetricsProvider.
#[test]
fn every_key_is_read() {
    let text = "\
tickTime=1000
dataDir=/var/zk/data
dataLogDir=/var/zk/log
clientPort=2281
clientPortAddress=127.0.0.2
maxClientCnxns=7
maxCnxns=100
minSessionTimeout=1500
maxSessionTimeout=90000
jute.maxbuffer=4194304
zookeeper.jute.maxbuffer.extrasize=1024
globalOutstandingLimit=55
extendedTypesEnabled=true
skipACL=yes
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
DigestAuthenticationProvider.enabled=false
enforceQuota=TRUE
4lw.commands.whitelist=ruok,mntr
znode.container.checkIntervalMs=1000
znode.container.maxPerMinute=20
znode.container.maxNeverUsedIntervalMs=5000
readonlymode.enabled=true
reconfigEnabled=true
standaloneEnabled=true
forceSync=no
snapCount=1000
snapSizeLimitInKb=2048
paddock.logMemoryLimitInKb=4096
preAllocSize=1024
autopurge.snapRetainCount=5
autopurge.purgeInterval=2
admin.enableServer=false
admin.serverAddress=127.0.0.1
admin.serverPort=9090
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=7001
metricsProvider.exportJvmInfo=false
initLimit=10
syncLimit=5
secureClientPort=2282
sslQuorum=false
ssl.keyStore.location=/k
localSessionsEnabled=false
electionAlg=3
peerType=participant
someFutureKey=1
";
    let cfg = parse_ok(text);
    let expected = ServerConfig {
        tick_ms: 1000,
        data_dir: "/var/zk/data".into(),
        data_log_dir: "/var/zk/log".into(),
        client_port: 2281,
        client_port_address: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        max_client_connections_per_ip: 7,
        max_connections: 100,
        session_timeout_ms_min: 1500,
        session_timeout_ms_max: 90000,
        jute_max_buffer_bytes: 4_194_304,
        jute_max_buffer_extra_bytes: 1024,
        global_outstanding_limit: 55,
        extended_types_enabled: true,
        skip_acl: true,
        super_digest: Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=".into()),
        digest_auth_enabled: false,
        enforce_quota: true,
        enforce_auth_enabled: false,
        enforce_auth_schemes: Vec::new(),
        four_letter_words: FourLetterWhitelist::parse("ruok,mntr"),
        container_check_interval_ms: 1000,
        container_max_per_minute: 20,
        container_max_never_used_ms: 5000,
        read_only_mode_enabled: true,
        reconfig_enabled: true,
        standalone_enabled: true,
        quorum_listen_on_all_ips: false,
        otlp_endpoint: None,
        secure_client_port: Some(2282),
        secure_client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        tls: crate::config::TlsSettings {
            key_store: Some("/k".into()),
            ..Default::default()
        },
        ssl_quorum: false,
        quorum_tls: Default::default(),
        force_sync: false,
        snap_count: 1000,
        snap_size_limit_kb: 2048,
        log_memory_limit_kb: 4096,
        pre_alloc_size_kb: 1024,
        snapshot_compression: String::new(),
        autopurge_snap_retain_count: 5,
        autopurge_purge_interval_hours: 2,
        admin_enable_server: false,
        admin_server_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        admin_server_port: 9090,
        metrics_provider_class: Some(
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".into(),
        ),
        metrics_http_host: "127.0.0.1".into(),
        metrics_http_port: 7001,
        paddock_metrics_enabled: false,
        admin_command_url: "/commands".into(),
        log_format: crate::config::LogFormat::Human,
        servers: Vec::new(),
        server_id: None,
        init_limit: Some(10),
        sync_limit: Some(5),
        ignored_keys: [
            "metricsProvider.exportJvmInfo",
            "localSessionsEnabled",
            "electionAlg",
            "peerType",
            "someFutureKey",
        ]
        .map(String::from)
        .to_vec(),
    };
    assert_eq!(cfg, expected);
    let core = cfg.core_config();
    assert!(core.skip_acl && core.extended_types_enabled && core.enforce_quota);
    assert_eq!(core.container_max_never_used_ms, 5000);
}

// QuorumPeerConfig.parseProperties hands unknown keys to System.setProperty("zookeeper." + key),
// so a system property may be written with or without the prefix.
#[test]
fn system_property_spellings_are_both_accepted() {
    let prefixed = parse_ok(
        "dataDir=/d\nclientPort=1\nzookeeper.extendedTypesEnabled=true\nzookeeper.skipACL=yes\n\
         zookeeper.DigestAuthenticationProvider.superDigest=super:x\nzookeeper.enforceQuota=true\n\
         zookeeper.globalOutstandingLimit=3\nzookeeper.maxCnxns=4\nzookeeper.forceSync=no\n\
         zookeeper.znode.container.maxPerMinute=9\nzookeeper.readonlymode.enabled=true\n\
         zookeeper.jute.maxbuffer=77\nzookeeper.snapSizeLimitInKb=-1\n",
    );
    assert_eq!(prefixed.snap_size_limit_kb, -1, "0 or less: no size limit");
    assert!(prefixed.extended_types_enabled && prefixed.skip_acl && prefixed.enforce_quota);
    assert_eq!(prefixed.super_digest.as_deref(), Some("super:x"));
    assert_eq!(
        (prefixed.global_outstanding_limit, prefixed.max_connections),
        (3, 4)
    );
    assert!(!prefixed.force_sync && prefixed.read_only_mode_enabled);
    assert_eq!(prefixed.container_max_per_minute, 9);
    assert_eq!(prefixed.jute_max_buffer_bytes, 77);
    assert_eq!(
        prefixed.jute_max_buffer_extra_bytes, 77,
        "extrasize defaults to maxbuffer"
    );
    assert!(prefixed.ignored_keys.is_empty());
    // Only QuorumPeerConfig's own keys lack the prefix: zookeeper.clientPort is unknown.
    let unknown = parse_ok("dataDir=/d\nclientPort=1\nzookeeper.clientPort=5\n");
    assert_eq!(unknown.client_port, 1);
    assert_eq!(unknown.ignored_keys, vec!["zookeeper.clientPort"]);
}

// ZooKeeperServer: skipACL is on only for exactly "yes"; FileTxnLog: forceSync is
// off only for exactly "no"; Boolean.parseBoolean elsewhere.
#[test]
fn boolean_flavours_follow_zookeeper() {
    let cfg = parse_ok("dataDir=/d\nclientPort=1\nskipACL=YES\nforceSync=No\nenforceQuota=yes\n");
    assert!(
        !cfg.skip_acl,
        "skipACL compares with \"yes\" case-sensitively"
    );
    assert!(
        cfg.force_sync,
        "forceSync compares with \"no\" case-sensitively"
    );
    assert!(!cfg.enforce_quota, "Boolean.parseBoolean(\"yes\") is false");
    // QuorumPeerConfig.parseBoolean rejects anything but true/false.
    let err = error("dataDir=/d\nclientPort=1\nstandaloneEnabled=yes\n");
    assert!(
        err.contains("standaloneEnabled") && err.contains("Choose 'true' or 'false.'"),
        "{err}"
    );
}

// java.util.Properties.load syntax in a zoo.cfg.
#[test]
fn properties_syntax_edge_cases() {
    let cfg = parse_ok(
        "  # indented comment\n! bang comment\ntickTime : 2500  \ndataDir /data/\\\n    zk\n\
         clientPort\t=\t2191\r\nDigestAuthenticationProvider.superDigest=super\\:abc\\u003D\n",
    );
    assert_eq!(cfg.tick_ms, 2500, "':' separator, values trimmed");
    assert_eq!(
        cfg.data_dir,
        PathBuf::from("/data/zk"),
        "whitespace separator and continuation"
    );
    assert_eq!(cfg.client_port, 2191);
    assert_eq!(cfg.super_digest.as_deref(), Some("super:abc="));
}

// QuorumPeerConfig: Integer.parseInt failures abort the start.
#[test]
fn non_numeric_values_are_rejected_with_file_line_key_and_value() {
    let err = error("dataDir=/d\nclientPort=1\ntickTime=2s\n");
    assert_eq!(
        err,
        "zoo.cfg:3: invalid value \"2s\" for tickTime: not a 32-bit integer"
    );
    let err = error("dataDir=/d\nclientPort=99999\n");
    assert!(err.contains("port out of range:99999"), "{err}");
    let err = error("dataDir=/d\nclientPort=1\nglobalOutstandingLimit=-1\n");
    assert!(
        err.contains("globalOutstandingLimit") && err.contains("negative"),
        "{err}"
    );
    let err = error("dataDir=/d\nclientPort=1\nsnapSizeLimitInKb=4G\n");
    assert!(
        err.contains("snapSizeLimitInKb") && err.contains("64-bit"),
        "{err}"
    );
    let err = error("dataDir=/d\nclientPort=1\npaddock.logMemoryLimitInKb=0\n");
    assert!(
        err.contains("logMemoryLimitInKb") && err.contains("at least 1"),
        "{err}"
    );
    let err = error("dataDir=/d\nclientPort=1\nelectionAlg=1\n");
    assert!(err.contains("Only 3 is supported"), "{err}");
    let err = error("dataDir=/d\nclientPort=\\u00zz\n");
    assert_eq!(err, "zoo.cfg:2: Malformed \\uxxxx encoding");
}

// QuorumPeerConfig.parseProperties: the checks after the key loop.
#[test]
fn inconsistent_values_are_rejected_with_zookeepers_messages() {
    let err = error("dataDir=/d\nclientPort=1\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n");
    assert_eq!(
        err,
        "zoo.cfg: minSessionTimeout must not be larger than maxSessionTimeout (5000 > 4000)"
    );
    // min unset resolves to 2 x tickTime = 6000 > 4000.
    let err = error("dataDir=/d\nclientPort=1\nmaxSessionTimeout=4000\n");
    assert!(
        err.contains("minSessionTimeout must not be larger"),
        "{err}"
    );
    assert_eq!(error("clientPort=1\n"), "zoo.cfg: dataDir is not set");
    assert_eq!(
        error("dataDir=/d\nclientPort=1\ntickTime=0\n"),
        "zoo.cfg: tickTime is not set"
    );
    assert_eq!(
        error("dataDir=/d\nclientPortAddress=127.0.0.1\n"),
        "zoo.cfg: clientPortAddress is set but clientPort is not set"
    );
    assert_eq!(error("dataDir=/d\n"), "zoo.cfg: clientPort is not set");
}

// QuorumPeerConfig: clientPortAddress goes through InetAddress.getByName.
#[test]
fn client_port_address_forms() {
    let v6 = parse_ok("dataDir=/d\nclientPort=1\nclientPortAddress=::1\n");
    assert_eq!(v6.client_port_address, IpAddr::V6(Ipv6Addr::LOCALHOST));
    let bracketed = parse_ok("dataDir=/d\nclientPort=1\nclientPortAddress=[::1]\n");
    assert_eq!(
        bracketed.client_port_address,
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    );
    let named = parse_ok("dataDir=/d\nclientPort=1\nclientPortAddress=localhost\n");
    assert!(named.client_port_address.is_loopback());
}

// QuorumPeerConfig: secureClientPortAddress goes through InetAddress.getByName after the key
// loop, as clientPortAddress does, so a bad host fails when the file is read, not at bind.
#[test]
fn secure_client_port_address_is_resolved_when_the_file_is_read() {
    let base = "dataDir=/d\nclientPort=1\nsecureClientPort=2\n";
    let literal = parse_ok(&format!("{base}secureClientPortAddress=127.0.0.3\n"));
    assert_eq!(
        literal.secure_client_port_address,
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))
    );
    let named = parse_ok(&format!("{base}secureClientPortAddress=localhost\n"));
    assert!(named.secure_client_port_address.is_loopback());
    let unset = parse_ok(base);
    assert_eq!(
        unset.secure_client_port_address,
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    );
    // RFC 6761 reserves .invalid: no resolver answers for it.
    let err = error(&format!(
        "{base}secureClientPortAddress=no-such-host.invalid\n"
    ));
    assert_eq!(
        err,
        "zoo.cfg:4: invalid value \"no-such-host.invalid\" for secureClientPortAddress: \
         unknown host \"no-such-host.invalid\""
    );
    assert_eq!(
        error("dataDir=/d\nclientPort=1\nsecureClientPortAddress=127.0.0.1\n"),
        "zoo.cfg: secureClientPortAddress is set but secureClientPort is not set"
    );
}

// PEMFileLoader uses ssl.keyStore.password only to decrypt an encrypted key (refused when the
// store loads, see tls.rs) and never reads a PEM trust store's password: the keys are accepted
// and, as nothing is lost by not acting on them, not reported as ignored.
#[test]
fn store_passwords_are_accepted_without_a_warning() {
    let cfg = parse_ok(
        "dataDir=/d\nclientPort=1\nssl.keyStore.password=secret\nssl.trustStore.password=x\n\
         ssl.quorum.keyStore.password=y\nssl.quorum.trustStore.password=z\n",
    );
    assert!(cfg.ignored_keys.is_empty(), "{:?}", cfg.ignored_keys);
}

// Only a standalone server's validity: QuorumPeerConfig.parseDynamicConfig with
// one participant and standaloneEnabled runs standalone; the server line gives
// the client port (setupClientPort) once myid names it (setupMyId).
#[test]
fn single_server_line_with_myid_supplies_the_client_port() {
    let dir = scratch("myid");
    std::fs::write(dir.join("myid"), "1\n").expect("write myid");
    let text = "dataDir=.\nserver.1=127.0.0.1:2888:3888;127.0.0.1:2555\n";
    let cfg = ServerConfig::from_zoo_cfg_str(text, &dir).expect("parses");
    assert_eq!(cfg.server_id, Some(1));
    assert_eq!(cfg.client_port, 2555);
    assert_eq!(cfg.client_port_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert!(!cfg.is_distributed());
    assert_eq!(cfg.servers.len(), 1);
    // A clientPort that disagrees with the server line is an error.
    let clash = format!("{text}clientPort=2181\n");
    let err = ServerConfig::from_zoo_cfg_str(&clash, &dir).expect_err("clash");
    assert!(
        err.to_string().contains("is different from client address"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

// QuorumPeerConfig.checkValidity: a quorum needs initLimit, syncLimit and myid.
#[test]
fn ensemble_needs_limits_and_myid() {
    let base = "dataDir=/nonexistent-paddock\nclientPort=2181\n\
                server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888:observer\n";
    assert_eq!(error(base), "zoo.cfg: initLimit is not set");
    let err = error(&format!("{base}initLimit=5\nsyncLimit=2\n"));
    assert_eq!(err, "zoo.cfg: myid file is missing");
    let err = error("dataDir=/d\nclientPort=1\nserver.1=a:2888:3888:observer\n");
    assert_eq!(
        err,
        "zoo.cfg: Observers w/o participants is an invalid configuration"
    );
    let err = error("dataDir=/d\nclientPort=1\nserver.x=a:2888:3888\n");
    assert!(err.contains("server id \"x\" is not a number"), "{err}");
}

// AuthenticationHelper.initConfigurations / validateConfiguredProperties.
#[test]
fn enforced_authentication_needs_available_schemes() {
    let base = "dataDir=/d\nclientPort=2181\n";
    let cfg = parse_ok(&format!(
        "{base}enforce.auth.enabled=true\nzookeeper.enforce.auth.schemes=digest, ip\n"
    ));
    assert_eq!(cfg.core_config().enforce_auth_schemes, vec!["digest", "ip"]);
    let off = parse_ok(&format!("{base}enforce.auth.schemes=digest\n"));
    assert!(off.core_config().enforce_auth_schemes.is_empty());
    assert_eq!(
        error(&format!("{base}enforce.auth.enabled=true\n")),
        "zoo.cfg: zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must \
         be  configured."
    );
    for scheme in ["sasl", "x509", "nosuch"] {
        let err = error(&format!(
            "{base}enforce.auth.enabled=true\nenforce.auth.schemes={scheme}\n"
        ));
        assert_eq!(
            err,
            format!("zoo.cfg: Authentication scheme {scheme} is not available.")
        );
    }
    let err = error(&format!(
        "{base}DigestAuthenticationProvider.enabled=false\nenforce.auth.enabled=true\n\
         enforce.auth.schemes=digest\n"
    ));
    assert_eq!(
        err,
        "zoo.cfg: Authentication scheme digest is not available."
    );
    let err = error(&format!("{base}sessionRequireClientSASLAuth=true\n"));
    assert!(
        err.ends_with("Authentication scheme sasl is not available."),
        "{err}"
    );
}

// QuorumPeerConfig quorum.auth.*: members that must authenticate by SASL cannot be
// honoured; Paddock refuses to start rather than take unauthenticated members.
#[test]
fn required_quorum_sasl_is_refused() {
    for key in [
        "quorum.auth.serverRequireSasl",
        "quorum.auth.learnerRequireSasl",
    ] {
        let err = error(&format!(
            "dataDir=/d\nquorum.auth.enableSasl=true\n{key}=true\n"
        ));
        assert!(
            err.starts_with(&format!("zoo.cfg:3: invalid value \"true\" for {key}")),
            "{err}"
        );
        assert!(err.contains("sslQuorum=true"), "{err}");
        let cfg = parse_ok(&format!("dataDir=/d\nclientPort=2181\n{key}=false\n"));
        assert!(cfg.ignored_keys.is_empty(), "{:?}", cfg.ignored_keys);
    }
    let cfg = parse_ok("dataDir=/d\nclientPort=2181\nquorum.auth.enableSasl=true\n");
    assert_eq!(cfg.ignored_keys, vec!["quorum.auth.enableSasl"]);
}

// QuorumPeerConfig.createQuorumVerifier: any `group` key selects QuorumHierarchical, which
// Paddock does not have; it refuses rather than count a plain majority. Weights alone are
// read by nobody (QuorumMaj), and only warned about.
#[test]
fn hierarchical_quorums_are_refused() {
    let base = "dataDir=/nonexistent-paddock\nclientPort=2181\ninitLimit=5\nsyncLimit=2\n\
                server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n";
    let err = error(&format!("{base}group.1=1:2\ngroup.2=3\nweight.1=1\n"));
    assert!(
        err.contains(":8: invalid value \"1:2\" for group.1"),
        "{err}"
    );
    assert!(err.contains("hierarchical quorums"), "{err}");
    let err = error(&format!("{base}weight.1=2\n"));
    assert_eq!(
        err, "zoo.cfg: myid file is missing",
        "weights alone pass the quorum step"
    );
}

// QuorumPeerConfig.parse: server lines live in dynamicConfigFile when it is set;
// the file may not hold "version" or other keys.
#[test]
fn dynamic_config_file_holds_the_server_lines() {
    let dir = scratch("dynamic");
    std::fs::write(
        dir.join("zoo.cfg.dynamic"),
        "server.1=127.0.0.1:2888:3888;2444\n",
    )
    .expect("write");
    std::fs::create_dir_all(dir.join("data")).expect("mkdir");
    std::fs::write(dir.join("data/myid"), "1").expect("write myid");
    let text = "dataDir=data\ndynamicConfigFile=zoo.cfg.dynamic\n";
    let cfg = ServerConfig::from_zoo_cfg_str(text, &dir).expect("parses");
    assert_eq!(cfg.data_dir, dir.join("data"));
    assert_eq!(cfg.client_port, 2444);
    assert_eq!(cfg.client_port_address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let inline = format!("{text}server.2=b:1:2\n");
    let err = ServerConfig::from_zoo_cfg_str(&inline, &dir).expect_err("inline server line");
    assert!(
        err.to_string()
            .contains("must be in a separate dynamic config file"),
        "{err}"
    );
    std::fs::write(dir.join("zoo.cfg.dynamic"), "version=1\n").expect("write");
    let err = ServerConfig::from_zoo_cfg_str(text, &dir).expect_err("version inside");
    assert!(
        err.to_string().contains("shouldn't have version inside"),
        "{err}"
    );
    std::fs::write(dir.join("zoo.cfg.dynamic"), "tickTime=1\n").expect("write");
    let err = ServerConfig::from_zoo_cfg_str(text, &dir).expect_err("other key");
    assert!(
        err.to_string().contains("Unrecognised parameter: tickTime"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

// QuorumPeerConfig.parse reads the file named on the command line.
#[test]
fn from_file_reads_and_names_the_file() {
    let dir = scratch("file");
    let path = dir.join("zoo.cfg");
    std::fs::write(&path, "dataDir=/d\nclientPort=1\ntickTime=x\n").expect("write");
    let err = ServerConfig::from_file(&path).expect_err("bad tickTime");
    assert!(
        err.to_string()
            .starts_with(&format!("{}:3:", path.display())),
        "{err}"
    );
    std::fs::write(&path, "dataDir=rel\nclientPort=1\n").expect("write");
    let cfg = ServerConfig::from_file(&path).expect("parses");
    assert_eq!(
        cfg.data_dir,
        PathBuf::from("rel"),
        "relative to the working directory"
    );
    let missing = ServerConfig::from_file(&dir.join("absent.cfg")).expect_err("missing");
    assert!(matches!(missing, ConfigError::Read { .. }));
    let _ = std::fs::remove_dir_all(dir);
}

// autopurge.snapRetainCount below 3 is raised to 3 (QuorumPeerConfig, PurgeTxnLog).
#[test]
fn snap_retain_count_has_a_floor_of_three() {
    let cfg = parse_ok("dataDir=/d\nclientPort=1\nautopurge.snapRetainCount=1\n");
    assert_eq!(cfg.autopurge_snap_retain_count, 3);
}
