//! zoo.cfg: the server's configuration, read the way Apache ZooKeeper reads it.
//!
//! ZooKeeper loads zoo.cfg with `java.util.Properties` ([`properties`]), hands
//! the pairs to `QuorumPeerConfig.parseProperties`, and turns every key that
//! method does not know into the Java system property `zookeeper.<key>`. Many
//! settings (`skipACL`, `4lw.commands.whitelist`, ...) are therefore read as
//! system properties; Paddock has no JVM, so it accepts them here under both
//! spellings. `docs/CONFIGURATION.md` lists every key.
//!
//! - [`properties`]: the `Properties.load` syntax.
//! - [`quorum`]: `server.N` lines.

mod properties;
mod quorum;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use paddock_core::CoreConfig;

use properties::java_trim;
pub use quorum::{Role, ServerLine};

/// Everything the server needs to start. Built from zoo.cfg by
/// [`ServerConfig::from_file`] or from [`Default`] (the embedded config).
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// `tickTime` (ms, default 3000): the unit of session expiry and of the quorum limits.
    pub tick_ms: u32,
    /// `dataDir`: where snapshots (and, by default, the log) live. Required in a file;
    /// the embedded default is `./data`, relative to the working directory.
    pub data_dir: PathBuf,
    /// `dataLogDir` (default: `dataDir`): where the transaction log lives.
    pub data_log_dir: PathBuf,
    /// `clientPort` (default 2181), or the client port of this server's `server.N` line.
    pub client_port: u16,
    /// `clientPortAddress`: the address clients connect to. A file without it binds
    /// all interfaces (0.0.0.0) as ZooKeeper does; the embedded default binds 127.0.0.1.
    pub client_port_address: IpAddr,
    /// `maxClientCnxns` (default 60): connections allowed from one IP; 0 = unlimited.
    pub max_client_connections_per_ip: u32,
    /// `maxCnxns` / `zookeeper.maxCnxns` (default 0 = unlimited): connections in total.
    pub max_connections: u32,
    /// `minSessionTimeout` (ms); -1 means 2 x `tickTime`.
    pub session_timeout_ms_min: i32,
    /// `maxSessionTimeout` (ms); -1 means 20 x `tickTime`.
    pub session_timeout_ms_max: i32,
    /// `jute.maxbuffer` (default 0xfffff): the largest znode data and request, in bytes.
    pub jute_max_buffer_bytes: u32,
    /// `zookeeper.jute.maxbuffer.extrasize` (default: `jute.maxbuffer`): slack allowed
    /// above `jute.maxbuffer` for a packet's framing.
    pub jute_max_buffer_extra_bytes: u32,
    /// `globalOutstandingLimit` / `zookeeper.globalOutstandingLimit` (default 1000):
    /// queued requests above which the server stops reading from clients.
    pub global_outstanding_limit: u32,
    /// `extendedTypesEnabled` / `zookeeper.extendedTypesEnabled` (default false): TTL nodes.
    pub extended_types_enabled: bool,
    /// `skipACL` / `zookeeper.skipACL` (default "no"; only the exact value "yes"
    /// turns it on): no ACL is checked.
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest` (also with `zookeeper.`): `super:<digest>`.
    pub super_digest: Option<String>,
    /// `DigestAuthenticationProvider.enabled` (also with `zookeeper.`; default true).
    pub digest_auth_enabled: bool,
    /// `enforceQuota` / `zookeeper.enforceQuota` (default false): hard quotas fail writes.
    pub enforce_quota: bool,
    /// `enforce.auth.enabled` (also with `zookeeper.`; default false): requests of
    /// connections without an id of `enforce_auth_schemes` are refused and the connection
    /// closed (`AuthenticationHelper`, ZooKeeper 3.7).
    pub enforce_auth_enabled: bool,
    /// `enforce.auth.schemes` (also with `zookeeper.`): comma-separated auth schemes.
    pub enforce_auth_schemes: Vec<String>,
    /// `4lw.commands.whitelist` / `zookeeper.4lw.commands.whitelist` (default: only `srvr`).
    pub four_letter_words: FourLetterWhitelist,
    /// `znode.container.checkIntervalMs` (default 60000): container and TTL sweep period.
    pub container_check_interval_ms: u64,
    /// `znode.container.maxPerMinute` (default 10000): sweeper deletes per minute.
    pub container_max_per_minute: u32,
    /// `znode.container.maxNeverUsedIntervalMs` (default 0 = keep never-used containers).
    pub container_max_never_used_ms: u64,
    /// `readonlymode.enabled` (default false): a partitioned peer serves reads; enables `isro`.
    pub read_only_mode_enabled: bool,
    /// `reconfigEnabled` (default false): the `reconfig` operation is allowed.
    pub reconfig_enabled: bool,
    /// `standaloneEnabled` (default true): one server runs standalone, not as a quorum of one.
    pub standalone_enabled: bool,
    /// `secureClientPort`: the TLS client port (unset: none).
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress` (default 0.0.0.0, every interface): the address of the TLS
    /// client port. A host name is resolved when the file is read, as for `clientPortAddress`.
    pub secure_client_port_address: IpAddr,
    /// The `ssl.*` keys and the x509 authentication provider.
    pub tls: TlsSettings,
    /// `sslQuorum`: members link to each other over mutual TLS.
    pub ssl_quorum: bool,
    /// The `ssl.quorum.*` keys: the key store (key and chain) and trust store of member links.
    pub quorum_tls: TlsSettings,
    /// `paddock.otlp.endpoint`: where OpenTelemetry traces go over OTLP/gRPC (e.g.
    /// `http://127.0.0.1:4317`); `OTEL_EXPORTER_OTLP_ENDPOINT` overrides it. Unset: no traces.
    pub otlp_endpoint: Option<String>,
    /// `quorumListenOnAllIPs` (default false): members accept each other's links on every
    /// address instead of only their own `server.N` host.
    pub quorum_listen_on_all_ips: bool,
    /// `forceSync` / `zookeeper.forceSync` (default "yes"; only the exact value "no"
    /// turns it off): fsync the log before acknowledging.
    pub force_sync: bool,
    /// `snapCount` / `zookeeper.snapCount` (default 100000): transactions between snapshots.
    pub snap_count: u64,
    /// `snapSizeLimitInKb` / `zookeeper.snapSizeLimitInKb` (default 4194304, 4 GiB): the
    /// log size between snapshots; 0 or less: no limit.
    pub snap_size_limit_kb: i64,
    /// `paddock.logMemoryLimitInKb` (default 524288, 512 MiB): what an ensemble member's
    /// in-memory log may hold; snapshots come often enough to keep it under this.
    pub log_memory_limit_kb: u64,
    /// `preAllocSize` / `zookeeper.preAllocSize` (KiB, default 65536): log file growth step.
    pub pre_alloc_size_kb: u64,
    /// `snapshot.compression.method` / `zookeeper.snapshot.compression.method` (default
    /// empty = none; `gz` or `snappy`).
    pub snapshot_compression: String,
    /// `autopurge.snapRetainCount` (default 3, at least 3): snapshots autopurge keeps.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval` (hours, default 0 = never purge).
    pub autopurge_purge_interval_hours: u32,
    /// `admin.enableServer` / `zookeeper.admin.enableServer` (default true; "false" disables).
    pub admin_enable_server: bool,
    /// `admin.serverAddress` / `zookeeper.admin.serverAddress` (default 0.0.0.0).
    pub admin_server_address: IpAddr,
    /// `admin.serverPort` / `zookeeper.admin.serverPort` (default 8080).
    pub admin_server_port: u16,
    /// `metricsProvider.className` (default: ZooKeeper's built-in DefaultMetricsProvider).
    pub metrics_provider_class: Option<String>,
    /// `metricsProvider.httpHost` (default 0.0.0.0): Prometheus exporter host.
    pub metrics_http_host: String,
    /// `metricsProvider.httpPort` (default 7000): Prometheus exporter port.
    pub metrics_http_port: u16,
    /// `paddock.metrics.enabled` (default false): serve `/metrics` even when
    /// `metricsProvider.className` does not name ZooKeeper's Prometheus provider.
    pub paddock_metrics_enabled: bool,
    /// `admin.commandURL` / `zookeeper.admin.commandURL` (default `/commands`).
    pub admin_command_url: String,
    /// `paddock.log.format` (default human; `json` for one JSON object per line).
    pub log_format: LogFormat,
    /// `server.N` lines, from zoo.cfg or from `dynamicConfigFile`.
    pub servers: Vec<ServerLine>,
    /// The id in `<dataDir>/myid`, when that file exists.
    pub server_id: Option<u64>,
    /// `initLimit` (ticks): how long followers may take to connect and sync to a leader.
    pub init_limit: Option<u32>,
    /// `syncLimit` (ticks): how far a follower may lag behind the leader.
    pub sync_limit: Option<u32>,
    /// Keys present in the file that Paddock does not act on yet (warned at startup).
    pub ignored_keys: Vec<String>,
}

/// ZooKeeper's Prometheus provider, which `metricsProvider.className` names to turn on the
/// `/metrics` endpoint.
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// tracing's human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// What went wrong reading a configuration. Messages name the file, the line,
/// the key and the value, and reuse ZooKeeper's wording where it has one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file (zoo.cfg, the dynamic file or `myid`) could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `Properties.load` would reject the text.
    #[error("{}:{line}: Malformed \\uxxxx encoding", file.display())]
    Syntax { file: PathBuf, line: u32 },
    /// A key's value does not parse.
    #[error("{}:{line}: invalid value {value:?} for {key}: {reason}", file.display())]
    Value {
        file: PathBuf,
        line: u32,
        key: String,
        value: String,
        reason: String,
    },
    /// The values parse but do not make a valid configuration.
    #[error("{}{reason}", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    Invalid {
        file: Option<PathBuf>,
        reason: String,
    },
}

/// The four-letter words named by `4lw.commands.whitelist`. `srvr` is always
/// allowed, and `isro` when read-only mode is on
/// (`FourLetterCommands.isEnabled`); see [`ServerConfig::four_letter_word_allowed`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FourLetterWhitelist {
    commands: BTreeSet<String>,
}

impl FourLetterWhitelist {
    /// Every command ZooKeeper knows (`FourLetterCommands.cmd2String`); `*` allows these.
    pub const KNOWN: [&'static str; 19] = [
        "conf",
        "cons",
        "crst",
        "dirs",
        "dump",
        "envi",
        "gtmk",
        "ruok",
        "stmk",
        "srst",
        "srvr",
        "stat",
        "wchc",
        "wchp",
        "wchs",
        "mntr",
        "isro",
        "telnet close",
        "hash",
    ];

    /// Parses the comma-separated list as `FourLetterCommands.isEnabled` does:
    /// entries are trimmed, empty ones skipped, and `*` adds every known command.
    /// Unknown names are kept; no command ever asks for them.
    pub fn parse(list: &str) -> Self {
        let mut commands = BTreeSet::new();
        for name in list.split(',').map(java_trim) {
            if name == "*" {
                commands.extend(Self::KNOWN.iter().map(|c| c.to_string()));
                break;
            }
            if !name.is_empty() {
                commands.insert(name.to_string());
            }
        }
        FourLetterWhitelist { commands }
    }

    /// Whether the list names `cmd` (without the implicit `srvr` / `isro`).
    pub fn contains(&self, cmd: &str) -> bool {
        self.commands.contains(cmd)
    }

    /// The listed commands, sorted.
    pub fn commands(&self) -> impl Iterator<Item = &str> {
        self.commands.iter().map(String::as_str)
    }
}

impl Default for ServerConfig {
    /// The embedded configuration: standalone, clients on 127.0.0.1:2181, data in `./data`.
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("./data"),
            data_log_dir: PathBuf::from("./data"),
            client_port_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            admin_server_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ..Self::zookeeper_defaults()
        }
    }
}

impl ServerConfig {
    /// ZooKeeper's own defaults, the starting point of a file: all interfaces, no dataDir.
    fn zookeeper_defaults() -> Self {
        ServerConfig {
            tick_ms: 3000,
            data_dir: PathBuf::new(),
            data_log_dir: PathBuf::new(),
            client_port: 2181,
            client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            max_client_connections_per_ip: 60,
            max_connections: 0,
            session_timeout_ms_min: -1,
            session_timeout_ms_max: -1,
            jute_max_buffer_bytes: paddock_jute::frame::DEFAULT_MAX_BUFFER,
            jute_max_buffer_extra_bytes: paddock_jute::frame::DEFAULT_MAX_BUFFER,
            global_outstanding_limit: 1000,
            extended_types_enabled: false,
            skip_acl: false,
            super_digest: None,
            digest_auth_enabled: true,
            enforce_quota: false,
            enforce_auth_enabled: false,
            enforce_auth_schemes: Vec::new(),
            four_letter_words: FourLetterWhitelist::default(),
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used_ms: 0,
            read_only_mode_enabled: false,
            reconfig_enabled: false,
            standalone_enabled: true,
            quorum_listen_on_all_ips: false,
            otlp_endpoint: None,
            secure_client_port: None,
            secure_client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            tls: TlsSettings::default(),
            ssl_quorum: false,
            quorum_tls: TlsSettings::default(),
            force_sync: true,
            snap_count: 100_000,
            snap_size_limit_kb: 4_194_304,
            log_memory_limit_kb: 524_288,
            pre_alloc_size_kb: 65_536,
            snapshot_compression: String::new(),
            autopurge_snap_retain_count: 3,
            autopurge_purge_interval_hours: 0,
            admin_enable_server: true,
            admin_server_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            admin_server_port: 8080,
            metrics_provider_class: None,
            metrics_http_host: "0.0.0.0".to_string(),
            metrics_http_port: 7000,
            paddock_metrics_enabled: false,
            admin_command_url: "/commands".to_string(),
            log_format: LogFormat::Human,
            servers: Vec::new(),
            server_id: None,
            init_limit: None,
            sync_limit: None,
            ignored_keys: Vec::new(),
        }
    }

    /// Reads zoo.cfg text. Relative paths (`dataDir`, `dataLogDir`,
    /// `dynamicConfigFile`) are joined to `base_dir`; ZooKeeper resolves them
    /// against the working directory, so pass `""` or the working directory to
    /// match it. `<dataDir>/myid` and the dynamic file are read if present.
    pub fn from_zoo_cfg_str(text: &str, base_dir: &Path) -> Result<Self, ConfigError> {
        parse_file_text(text, base_dir, Path::new("zoo.cfg"))
    }

    /// Reads the zoo.cfg at `path`; relative paths inside stay relative to the
    /// working directory, as in ZooKeeper (`new File(value)`).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = read_text(path)?;
        parse_file_text(&text, Path::new(""), path)
    }

    /// ZooKeeper's own consistency checks (`QuorumPeerConfig.parseProperties`,
    /// `parseDynamicConfig`, `checkValidity`) on the finished struct.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |reason: &str| {
            Err(ConfigError::Invalid {
                file: None,
                reason: reason.to_string(),
            })
        };
        if self.data_dir.as_os_str().is_empty() {
            return invalid("dataDir is not set");
        }
        if self.tick_ms == 0 {
            return invalid("tickTime is not set");
        }
        let (min, max) = (self.min_session_timeout_ms(), self.max_session_timeout_ms());
        if min > max {
            return invalid(&format!(
                "minSessionTimeout must not be larger than maxSessionTimeout ({min} > {max})"
            ));
        }
        let participants = self.participants();
        let observers = self.servers.len() - participants;
        if participants == 0 && !self.standalone_enabled {
            return invalid("standaloneEnabled = false then number of participants should be >0");
        }
        if participants == 0 && observers > 0 {
            return invalid("Observers w/o participants is an invalid configuration");
        }
        if participants == 1 && self.standalone_enabled && observers > 0 {
            return invalid("Observers w/o quorum is an invalid configuration");
        }
        if self.is_distributed() {
            if self.init_limit.unwrap_or(0) == 0 {
                return invalid("initLimit is not set");
            }
            if self.sync_limit.unwrap_or(0) == 0 {
                return invalid("syncLimit is not set");
            }
            if self.server_id.is_none() {
                return invalid("myid file is missing");
            }
        }
        Ok(())
    }

    /// `QuorumPeerConfig.isDistributed`: more than one participant, or
    /// standalone mode switched off. Otherwise the server runs standalone.
    pub fn is_distributed(&self) -> bool {
        !self.servers.is_empty() && (!self.standalone_enabled || self.participants() > 1)
    }

    /// `minSessionTimeout` with -1 resolved to 2 x `tickTime` (`ZooKeeperServer`).
    pub fn min_session_timeout_ms(&self) -> i32 {
        resolve_timeout(self.session_timeout_ms_min, self.tick_ms, 2)
    }

    /// `maxSessionTimeout` with -1 resolved to 20 x `tickTime` (`ZooKeeperServer`).
    pub fn max_session_timeout_ms(&self) -> i32 {
        resolve_timeout(self.session_timeout_ms_max, self.tick_ms, 20)
    }

    /// The state machine's share of the configuration.
    pub fn core_config(&self) -> CoreConfig {
        CoreConfig {
            tick_ms: i64::from(self.tick_ms),
            session_timeout_ms_min: self.min_session_timeout_ms(),
            session_timeout_ms_max: self.max_session_timeout_ms(),
            server_id: self.session_server_id(),
            extended_types_enabled: self.extended_types_enabled,
            skip_acl: self.skip_acl,
            super_digest: self.super_digest.clone(),
            digest_auth_enabled: self.digest_auth_enabled,
            x509_auth: self.tls.x509_auth,
            x509_super_user: self.tls.x509_super_user.clone(),
            enforce_quota: self.enforce_quota,
            container_check_interval_ms: saturating_i64(self.container_check_interval_ms),
            container_max_per_minute: self.container_max_per_minute,
            container_max_never_used_ms: saturating_i64(self.container_max_never_used_ms),
            config_znode_data: Vec::new(),
            enforce_auth_schemes: if self.enforce_auth_enabled {
                self.enforce_auth_schemes.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// Whether the four-letter word `cmd` may run (`FourLetterCommands.isEnabled`):
    /// listed, or `srvr` (zkServer.sh needs it), or `isro` in read-only mode.
    /// Whether the Prometheus endpoint runs: ZooKeeper's provider class is named, or
    /// `paddock.metrics.enabled=true`.
    pub fn prometheus_enabled(&self) -> bool {
        self.paddock_metrics_enabled
            || self.metrics_provider_class.as_deref() == Some(PROMETHEUS_PROVIDER)
    }

    pub fn four_letter_word_allowed(&self, cmd: &str) -> bool {
        cmd == "srvr"
            || (cmd == "isro" && self.read_only_mode_enabled)
            || self.four_letter_words.contains(cmd)
    }

    pub fn participants(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| s.role == Role::Participant)
            .count()
    }

    /// The byte session ids start with. A standalone ZooKeeperServer creates its
    /// session tracker with id 1 (`createSessionTrackerServerId`); a quorum peer
    /// uses its myid, of which `SessionTrackerImpl.initializeNextSessionId`
    /// keeps the low byte.
    fn session_server_id(&self) -> u8 {
        match self.server_id {
            Some(id) if self.is_distributed() => (id & 0xff) as u8,
            _ => 1,
        }
    }
}

fn resolve_timeout(configured: i32, tick_ms: u32, ticks: i64) -> i32 {
    if configured != -1 {
        return configured;
    }
    let derived = i64::from(tick_ms) * ticks;
    i32::try_from(derived).unwrap_or(i32::MAX)
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads a file as `FileInputStream` + `Properties.load` would, except that
/// valid UTF-8 is taken as UTF-8 (Java reads ISO-8859-1 only); other bytes are
/// read as ISO-8859-1.
fn read_text(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(not_utf8) => not_utf8
            .into_bytes()
            .iter()
            .map(|&b| char::from(b))
            .collect(),
    })
}

/// Resolves a host as `InetAddress.getByName` does: literals (IPv6 with or
/// without brackets) directly, the empty name as loopback, names through the
/// resolver, preferring IPv4 like Java's default.
fn resolve_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    if let Ok(ip) = bare.parse() {
        return Some(ip);
    }
    let addrs: Vec<IpAddr> = (bare, 0u16)
        .to_socket_addrs()
        .ok()?
        .map(|a| a.ip())
        .collect();
    addrs
        .iter()
        .find(|ip| ip.is_ipv4())
        .or(addrs.first())
        .copied()
}

mod parse;
use parse::parse_file_text;

#[cfg(test)]
mod tests;

/// Whether the TLS port asks clients for a certificate (`ssl.clientAuth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// A client certificate is required (ZooKeeper's default).
    #[default]
    Need,
    /// Asked for; a client without one is let in without an x509 identity.
    Want,
    /// Not asked for.
    None,
}

/// ZooKeeper's `ssl.*` keys for the TLS client port, in the PEM form Paddock reads (the key
/// store file holds the private key and the certificate chain, the trust store the CA
/// certificates), and the x509 authentication provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `ssl.keyStore.location`.
    pub key_store: Option<PathBuf>,
    /// `ssl.keyStore.type`: PEM (also taken from a `.pem` name); JKS and PKCS12 are refused.
    pub key_store_type: Option<String>,
    /// `ssl.trustStore.location`: the CAs client certificates must chain to.
    pub trust_store: Option<PathBuf>,
    /// `ssl.trustStore.type`.
    pub trust_store_type: Option<String>,
    /// `ssl.clientAuth`: `need` (default), `want` or `none`.
    pub client_auth: ClientAuth,
    /// An `authProvider.*` names `X509AuthenticationProvider`: a client certificate's subject
    /// becomes an `x509` id.
    pub x509_auth: bool,
    /// `X509AuthenticationProvider.superUser`: the subject that gets `super`.
    pub x509_super_user: Option<String>,
}
