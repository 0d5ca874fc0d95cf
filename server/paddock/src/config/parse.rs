//! From properties to [`ServerConfig`]: `QuorumPeerConfig.parseProperties`
//! and the system properties ZooKeeper reads elsewhere.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::properties::{self, java_trim, Entry};
use super::quorum;
use super::{read_text, resolve_ip, ConfigError, FourLetterWhitelist, LogFormat, ServerConfig};

/// Keys `QuorumPeerConfig.parseProperties` validates but Paddock does not act on
/// yet, with the kind of value ZooKeeper requires of them.
const IGNORED_INTS: &[&str] = &[
    "observerMasterPort",
    "clientPortListenBacklog",
    "connectToLearnerMasterLimit",
    "quorum.cnxn.threads.size",
    "multiAddress.reachabilityCheckTimeoutMs",
];
const IGNORED_LONGS: &[&str] = &[
    "jvm.pause.info-threshold.ms",
    "jvm.pause.warn-threshold.ms",
    "jvm.pause.sleep.time.ms",
];
const IGNORED_BOOLS: &[&str] = &[
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "syncEnabled",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.auth.enableSasl",
    "jvm.pause.monitor",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckEnabled",
];

/// Parses zoo.cfg text; `file` names it in errors, `base_dir` anchors relative paths.
pub(super) fn parse_file_text(
    text: &str,
    base_dir: &Path,
    file: &Path,
) -> Result<ServerConfig, ConfigError> {
    let entries = load(text, file)?;
    let mut parser = Parser {
        file: file.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        cfg: ServerConfig::zookeeper_defaults(),
        data_dir_set: false,
        data_log_dir_set: false,
        client_port: None,
        client_port_address: None,
        secure_client_port_address: None,
        extra_size: None,
        dynamic_config_file: None,
        has_dynamic_config_file: entries.iter().any(|e| e.key == "dynamicConfigFile"),
        quorum_entries: Vec::new(),
    };
    for entry in &entries {
        parser.entry(entry)?;
    }
    parser.finish()
}

/// `Properties.load`, then ZooKeeper's `trim()` of every key and value.
fn load(text: &str, file: &Path) -> Result<Vec<Entry>, ConfigError> {
    let entries = properties::parse(text).map_err(|e| ConfigError::Syntax {
        file: file.to_path_buf(),
        line: e.line,
    })?;
    Ok(entries
        .into_iter()
        .map(|e| Entry {
            key: java_trim(&e.key).to_string(),
            value: java_trim(&e.value).to_string(),
            line: e.line,
        })
        .collect())
}

struct Parser {
    file: PathBuf,
    base_dir: PathBuf,
    cfg: ServerConfig,
    data_dir_set: bool,
    data_log_dir_set: bool,
    client_port: Option<u16>,
    /// `clientPortAddress` and `secureClientPortAddress`, resolved once the ports are known.
    client_port_address: Option<Entry>,
    secure_client_port_address: Option<Entry>,
    extra_size: Option<u32>,
    dynamic_config_file: Option<String>,
    has_dynamic_config_file: bool,
    /// `server.*`, `group*` and `weight*` entries, with the file they came from.
    quorum_entries: Vec<(PathBuf, Entry)>,
}

/// ZooKeeper's x509 authentication provider class.
const X509_PROVIDER: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";

impl Parser {
    fn entry(&mut self, e: &Entry) -> Result<(), ConfigError> {
        if self.zoo_cfg_key(e)? || self.system_property(e)? {
            return Ok(());
        }
        // ZooKeeper sets an unknown key as a system property and starts; so do we.
        self.cfg.ignored_keys.push(e.key.clone());
        Ok(())
    }

    /// Keys of `QuorumPeerConfig.parseProperties`. Returns whether `e` was one.
    fn zoo_cfg_key(&mut self, e: &Entry) -> Result<bool, ConfigError> {
        let key = e.key.as_str();
        match key {
            "dataDir" => {
                self.cfg.data_dir = self.base_dir.join(&e.value);
                self.data_dir_set = true;
            }
            "dataLogDir" => {
                self.cfg.data_log_dir = self.base_dir.join(&e.value);
                self.data_log_dir_set = true;
            }
            "clientPort" => {
                let port = self.port(e)?;
                self.client_port = Some(port);
                self.cfg.client_port = port;
            }
            "clientPortAddress" => self.client_port_address = Some(e.clone()),
            "tickTime" => self.cfg.tick_ms = self.non_negative(e, self.int(e)?.into())?,
            "maxClientCnxns" => {
                // NIOServerCnxnFactory limits only when maxClientCnxns > 0.
                self.cfg.max_client_connections_per_ip = self.int(e)?.max(0).unsigned_abs();
            }
            "minSessionTimeout" => self.cfg.session_timeout_ms_min = self.int(e)?,
            "maxSessionTimeout" => self.cfg.session_timeout_ms_max = self.int(e)?,
            "standaloneEnabled" => self.cfg.standalone_enabled = self.strict_bool(e)?,
            "quorumListenOnAllIPs" => self.cfg.quorum_listen_on_all_ips = self.strict_bool(e)?,
            "sslQuorum" => self.cfg.ssl_quorum = self.strict_bool(e)?,
            // QuorumCnxManager with these set refuses members that do not authenticate by
            // SASL. Paddock's links have no SASL: ignoring them would let any host that
            // reaches the election port take part, so a demand for it stops startup.
            "quorum.auth.serverRequireSasl" | "quorum.auth.learnerRequireSasl" => {
                if self.strict_bool(e)? {
                    return Err(self.value_error(
                        e,
                        "SASL between ensemble members is not supported; secure the members' \
                         links with sslQuorum=true (mutual TLS) instead",
                    ));
                }
            }
            "secureClientPort" => self.cfg.secure_client_port = Some(self.port(e)?),
            "secureClientPortAddress" => self.secure_client_port_address = Some(e.clone()),
            "initLimit" => self.cfg.init_limit = Some(self.non_negative(e, self.int(e)?.into())?),
            "syncLimit" => self.cfg.sync_limit = Some(self.non_negative(e, self.int(e)?.into())?),
            "reconfigEnabled" => self.cfg.reconfig_enabled = self.strict_bool(e)?,
            "dynamicConfigFile" => self.dynamic_config_file = Some(e.value.clone()),
            _ => return self.ignored_zoo_cfg_key(e),
        }
        Ok(true)
    }

    /// QuorumPeerConfig keys Paddock parses (so bad values fail as in ZooKeeper)
    /// but does not act on yet: they are recorded in `ignored_keys`.
    fn ignored_zoo_cfg_key(&mut self, e: &Entry) -> Result<bool, ConfigError> {
        let key = e.key.as_str();
        match key {
            "electionAlg" => {
                if self.int(e)? != 3 {
                    return Err(
                        self.value_error(e, "Invalid electionAlg value. Only 3 is supported.")
                    );
                }
            }
            "peerType" => {
                quorum::parse_role(&e.value).map_err(|reason| self.value_error(e, &reason))?;
            }
            "autopurge.snapRetainCount" => {
                // QuorumPeerConfig raises anything below 3 to 3 (PurgeTxnLog's minimum).
                self.cfg.autopurge_snap_retain_count = self.int(e)?.max(3).unsigned_abs();
                return Ok(true);
            }
            "autopurge.purgeInterval" => {
                // DatadirCleanupManager does not purge when the interval is <= 0.
                self.cfg.autopurge_purge_interval_hours = self.int(e)?.max(0).unsigned_abs();
                return Ok(true);
            }
            "metricsProvider.className" => {
                self.cfg.metrics_provider_class = Some(e.value.clone());
                return Ok(true);
            }
            "metricsProvider.httpHost" => {
                self.cfg.metrics_http_host = e.value.clone();
                return Ok(true);
            }
            "metricsProvider.httpPort" => {
                self.cfg.metrics_http_port = self.port(e)?;
                return Ok(true);
            }
            "paddock.otlp.endpoint" => {
                self.cfg.otlp_endpoint = Some(e.value.clone());
                return Ok(true);
            }
            // Paddock's own switch for the Prometheus endpoint, for configurations that do
            // not name ZooKeeper's provider class.
            "paddock.metrics.enabled" => {
                self.cfg.paddock_metrics_enabled = self.strict_bool(e)?;
                return Ok(true);
            }
            "paddock.logMemoryLimitInKb" => {
                let kb: u64 = self.non_negative(e, self.long(e)?)?;
                if kb == 0 {
                    return Err(self.value_error(e, "must be at least 1"));
                }
                self.cfg.log_memory_limit_kb = kb;
                return Ok(true);
            }
            "paddock.log.format" => {
                self.cfg.log_format = match e.value.as_str() {
                    "human" => LogFormat::Human,
                    "json" => LogFormat::Json,
                    _ => return Err(self.value_error(e, "must be human or json")),
                };
                return Ok(true);
            }
            _ if key.starts_with("server.")
                || key.starts_with("group")
                || key.starts_with("weight") =>
            {
                if self.has_dynamic_config_file {
                    return Err(self.value_error(
                        e,
                        &format!("parameter: {key} must be in a separate dynamic config file"),
                    ));
                }
                self.quorum_entries.push((self.file.clone(), e.clone()));
                return Ok(true);
            }
            _ if IGNORED_INTS.contains(&key) => {
                self.int(e)?;
            }
            _ if IGNORED_LONGS.contains(&key) => {
                self.long(e)?;
            }
            _ if IGNORED_BOOLS.contains(&key) => {
                self.strict_bool(e)?;
            }
            _ if key.starts_with("metricsProvider.")
                || key.starts_with("quorum.auth.")
                || key == "oraclePath" => {}
            _ => return Ok(false),
        }
        self.cfg.ignored_keys.push(e.key.clone());
        Ok(true)
    }

    /// Settings ZooKeeper reads as Java system properties. A zoo.cfg key it
    /// does not know becomes `zookeeper.<key>`, so `skipACL=yes` in zoo.cfg is
    /// `-Dzookeeper.skipACL=yes`; both spellings are accepted here. Returns
    /// whether `e` was one.
    fn system_property(&mut self, e: &Entry) -> Result<bool, ConfigError> {
        let name = e.key.strip_prefix("zookeeper.").unwrap_or(&e.key);
        let value = e.value.as_str();
        let cfg = &mut self.cfg;
        match name {
            "extendedTypesEnabled" => cfg.extended_types_enabled = java_bool(value),
            // ZooKeeperServer: System.getProperty(SKIP_ACL, "no").equals("yes").
            "skipACL" => cfg.skip_acl = value == "yes",
            "DigestAuthenticationProvider.superDigest" => {
                cfg.super_digest = Some(value.to_string())
            }
            "DigestAuthenticationProvider.enabled" => cfg.digest_auth_enabled = java_bool(value),
            "enforceQuota" => cfg.enforce_quota = java_bool(value),
            // AuthenticationHelper.initConfigurations.
            "enforce.auth.enabled" => cfg.enforce_auth_enabled = java_bool(value),
            "enforce.auth.schemes" => {
                cfg.enforce_auth_schemes = value.split(',').map(|s| s.trim().to_string()).collect()
            }
            // Enforces the `sasl` scheme, which Paddock has no provider of.
            "sessionRequireClientSASLAuth" => {
                if java_bool(value) {
                    return Err(self.value_error(e, "Authentication scheme sasl is not available."));
                }
            }
            "4lw.commands.whitelist" => cfg.four_letter_words = FourLetterWhitelist::parse(value),
            // FileTxnLog: !System.getProperty("zookeeper.forceSync", "yes").equals("no").
            "forceSync" => cfg.force_sync = value != "no",
            // QuorumPeer reads it with Boolean.getBoolean("readonlymode.enabled").
            "readonlymode.enabled" => cfg.read_only_mode_enabled = java_bool(value),
            "ssl.quorum.keyStore.location" => cfg.quorum_tls.key_store = Some(value.into()),
            "ssl.quorum.keyStore.type" => cfg.quorum_tls.key_store_type = Some(value.to_string()),
            "ssl.quorum.trustStore.location" => cfg.quorum_tls.trust_store = Some(value.into()),
            "ssl.quorum.trustStore.type" => {
                cfg.quorum_tls.trust_store_type = Some(value.to_string())
            }
            "ssl.keyStore.location" => cfg.tls.key_store = Some(value.into()),
            "ssl.keyStore.type" => cfg.tls.key_store_type = Some(value.to_string()),
            "ssl.trustStore.location" => cfg.tls.trust_store = Some(value.into()),
            "ssl.trustStore.type" => cfg.tls.trust_store_type = Some(value.to_string()),
            // PEMFileLoader needs a key store password only to decrypt an encrypted key, which
            // Paddock refuses when it loads the store, and never reads a trust store password.
            // Deployments set them anyway, so they are accepted without a warning.
            "ssl.keyStore.password"
            | "ssl.trustStore.password"
            | "ssl.quorum.keyStore.password"
            | "ssl.quorum.trustStore.password" => {}
            // X509Util: ClientAuth.fromPropertyValue, NEED when unset.
            "ssl.clientAuth" => {
                cfg.tls.client_auth = match value.to_ascii_lowercase().as_str() {
                    "want" => crate::config::ClientAuth::Want,
                    "none" => crate::config::ClientAuth::None,
                    "need" | "" => crate::config::ClientAuth::Need,
                    _ => {
                        return Err(self.value_error(e, "ssl.clientAuth must be need, want or none"))
                    }
                }
            }
            "X509AuthenticationProvider.superUser" => {
                cfg.tls.x509_super_user = Some(value.to_string())
            }
            // ProviderRegistry: every authProvider.* names a class to register.
            name if name.starts_with("authProvider.") => {
                if value.trim() == X509_PROVIDER {
                    cfg.tls.x509_auth = true;
                } else {
                    self.cfg.ignored_keys.push(e.key.clone());
                }
            }
            // ZooKeeper needs Netty for TLS; Paddock has one connection layer for both ports.
            "serverCnxnFactory" => {}
            "globalOutstandingLimit" => {
                self.cfg.global_outstanding_limit = self.non_negative(e, self.int(e)?.into())?;
            }
            "maxCnxns" => {
                // ServerCnxnFactory limits only when maxCnxns > 0.
                self.cfg.max_connections = self.int(e)?.max(0).unsigned_abs();
            }
            "jute.maxbuffer" => {
                self.cfg.jute_max_buffer_bytes = self.non_negative(e, self.int(e)?.into())?;
            }
            "jute.maxbuffer.extrasize" => {
                self.extra_size = Some(self.non_negative(e, self.int(e)?.into())?);
            }
            "znode.container.checkIntervalMs" => {
                self.cfg.container_check_interval_ms = self.non_negative(e, self.int(e)?.into())?;
            }
            "znode.container.maxPerMinute" => {
                self.cfg.container_max_per_minute = self.non_negative(e, self.int(e)?.into())?;
            }
            "znode.container.maxNeverUsedIntervalMs" => {
                self.cfg.container_max_never_used_ms = self.non_negative(e, self.long(e)?)?;
            }
            "snapCount" => self.cfg.snap_count = self.non_negative(e, self.int(e)?.into())?,
            "snapSizeLimitInKb" => self.cfg.snap_size_limit_kb = self.long(e)?,
            "preAllocSize" => self.cfg.pre_alloc_size_kb = self.non_negative(e, self.long(e)?)?,
            // SnapStream: "gz", "snappy" or empty (no compression).
            "snapshot.compression.method" => match value {
                "" | "gz" | "snappy" => self.cfg.snapshot_compression = value.to_string(),
                _ => return Err(self.value_error(e, "must be gz, snappy or empty")),
            },
            _ => return self.ignored_system_property(e, name),
        }
        Ok(true)
    }

    /// The AdminServer's system properties (`JettyAdminServer`).
    fn ignored_system_property(&mut self, e: &Entry, name: &str) -> Result<bool, ConfigError> {
        match name {
            // AdminServerFactory: only the exact value "false" disables it.
            "admin.enableServer" => self.cfg.admin_enable_server = e.value != "false",
            "admin.serverAddress" => self.cfg.admin_server_address = self.ip(e, &e.value)?,
            "admin.serverPort" => self.cfg.admin_server_port = self.port(e)?,
            "admin.commandURL" => self.cfg.admin_command_url = e.value.clone(),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `AuthenticationHelper.validateConfiguredProperties`: enforcement needs schemes, each
    /// of an authentication provider this server has (`ip`, `digest` unless disabled,
    /// `x509` when registered; Paddock has no SASL).
    fn check_enforce_auth(&self) -> Result<(), ConfigError> {
        let cfg = &self.cfg;
        if !cfg.enforce_auth_enabled {
            return Ok(());
        }
        if cfg.enforce_auth_schemes.iter().all(|s| s.is_empty()) {
            return Err(self.invalid_file(
                "zookeeper.enforce.auth.enabled is true zookeeper.enforce.auth.schemes must be  \
                 configured.",
            ));
        }
        for scheme in &cfg.enforce_auth_schemes {
            let available = match scheme.as_str() {
                "ip" => true,
                "digest" => cfg.digest_auth_enabled,
                "x509" => cfg.tls.x509_auth,
                _ => false,
            };
            if !available {
                return Err(
                    self.invalid_file(&format!("Authentication scheme {scheme} is not available."))
                );
            }
        }
        Ok(())
    }

    /// The checks that follow the key loop of `parseProperties`, then the
    /// quorum part (`setupQuorumPeerConfig`).
    fn finish(mut self) -> Result<ServerConfig, ConfigError> {
        if !self.data_dir_set {
            return Err(self.invalid_file("dataDir is not set"));
        }
        if !self.data_log_dir_set {
            self.cfg.data_log_dir = self.cfg.data_dir.clone();
        }
        self.cfg.jute_max_buffer_extra_bytes =
            self.extra_size.unwrap_or(self.cfg.jute_max_buffer_bytes);
        self.client_addresses()?;
        if self.cfg.tick_ms == 0 {
            return Err(self.invalid_file("tickTime is not set"));
        }
        self.check_enforce_auth()?;
        // QuorumPeerConfig resolves -1 here, so the struct holds what ZooKeeper uses.
        self.cfg.session_timeout_ms_min = self.cfg.min_session_timeout_ms();
        self.cfg.session_timeout_ms_max = self.cfg.max_session_timeout_ms();
        if self.cfg.session_timeout_ms_min > self.cfg.session_timeout_ms_max {
            return Err(self.invalid_file(&format!(
                "minSessionTimeout must not be larger than maxSessionTimeout ({} > {})",
                self.cfg.session_timeout_ms_min, self.cfg.session_timeout_ms_max
            )));
        }
        self.read_dynamic_config_file()?;
        self.quorum()?;
        self.cfg.validate().map_err(|e| match e {
            ConfigError::Invalid { reason, .. } => self.invalid_file(&reason),
            other => other,
        })?;
        Ok(self.cfg)
    }

    /// `clientPortAddress` and `secureClientPortAddress`, in ZooKeeper's order; without an
    /// address ZooKeeper binds all interfaces.
    fn client_addresses(&mut self) -> Result<(), ConfigError> {
        let plain = self.port_address(
            self.client_port_address.as_ref(),
            self.client_port,
            "clientPort",
        )?;
        if let Some(ip) = plain {
            self.cfg.client_port_address = ip;
        }
        let secure = self.port_address(
            self.secure_client_port_address.as_ref(),
            self.cfg.secure_client_port,
            "secureClientPort",
        )?;
        if let Some(ip) = secure {
            self.cfg.secure_client_port_address = ip;
        }
        Ok(())
    }

    /// A port's address key resolved through `InetAddress.getByName`, as
    /// `QuorumPeerConfig` does after the key loop: an address without its port is an error.
    fn port_address(
        &self,
        address: Option<&Entry>,
        port: Option<u16>,
        port_key: &str,
    ) -> Result<Option<IpAddr>, ConfigError> {
        let Some(e) = address else {
            return Ok(None);
        };
        if port.is_none() {
            return Err(self.invalid_file(&format!("{} is set but {port_key} is not set", e.key)));
        }
        self.ip(e, &e.value).map(Some)
    }

    /// `dynamicConfigFile`: a properties file of `server.N`, `group`, `weight`
    /// lines only, opened relative to the working directory (`FileInputStream`).
    fn read_dynamic_config_file(&mut self) -> Result<(), ConfigError> {
        let Some(name) = self.dynamic_config_file.clone() else {
            return Ok(());
        };
        let path = self.base_dir.join(&name);
        let entries = load(&read_text(&path)?, &path)?;
        for e in entries {
            let (file, key) = (path.clone(), e.key.as_str());
            if key == "version" {
                return Err(ConfigError::Invalid {
                    file: Some(file),
                    reason: "dynamic file shouldn't have version inside".into(),
                });
            }
            if !(key.starts_with("server.")
                || key.starts_with("group")
                || key.starts_with("weight"))
            {
                return Err(ConfigError::Invalid {
                    file: Some(file),
                    reason: format!("Unrecognised parameter: {key}"),
                });
            }
            self.quorum_entries.push((file, e));
        }
        Ok(())
    }

    /// `server.N` lines, `myid`, and the client port a server line may carry
    /// (`setupMyId`, `setupClientPort`).
    fn quorum(&mut self) -> Result<(), ConfigError> {
        // A `group` key makes ZooKeeper count votes with QuorumHierarchical (a majority of
        // groups, each by a weighted majority). Paddock counts a plain majority of the
        // voters, so it refuses to start rather than commit with quorums that
        // configuration forbids. Weights without groups are ignored, as QuorumMaj does.
        if let Some((file, e)) = self
            .quorum_entries
            .iter()
            .find(|(_, e)| e.key.starts_with("group"))
        {
            return Err(ConfigError::Value {
                file: file.clone(),
                line: e.line,
                key: e.key.clone(),
                value: e.value.clone(),
                reason: "hierarchical quorums (group.N, weight.N) are not supported: \
                         Paddock counts a plain majority of the voters"
                    .into(),
            });
        }
        for (file, e) in std::mem::take(&mut self.quorum_entries) {
            let Some(id_text) = e.key.strip_prefix("server.") else {
                // weight.N without groups: QuorumMaj does not read it either.
                self.cfg.ignored_keys.push(e.key.clone());
                continue;
            };
            let value_error = |reason: String| ConfigError::Value {
                file: file.clone(),
                line: e.line,
                key: e.key.clone(),
                value: e.value.clone(),
                reason,
            };
            let id: u64 = id_text
                .parse()
                .map_err(|_| value_error(format!("server id {id_text:?} is not a number")))?;
            let line = quorum::parse_server_line(id, &e.value).map_err(value_error)?;
            self.cfg.servers.retain(|s| s.id != id);
            self.cfg.servers.push(line);
        }
        self.cfg.servers.sort_by_key(|s| s.id);
        self.read_my_id()?;
        self.server_line_client_port()?;
        if self.client_port.is_none() {
            // ZooKeeper starts without a client listener; a Paddock without
            // clients is useless, so this is an error here.
            return Err(self.invalid_file("clientPort is not set"));
        }
        Ok(())
    }

    /// `setupMyId`: the first line of `<dataDir>/myid`, if that file exists.
    fn read_my_id(&mut self) -> Result<(), ConfigError> {
        let path = self.cfg.data_dir.join("myid");
        if !path.is_file() {
            return Ok(());
        }
        let text = read_text(&path)?;
        let first = text.split(['\r', '\n']).next().unwrap_or("");
        let id = first.parse::<u64>().map_err(|_| ConfigError::Invalid {
            file: Some(path.clone()),
            reason: format!("serverid {first} is not a number"),
        })?;
        self.cfg.server_id = Some(id);
        Ok(())
    }

    /// `setupClientPort`: this server's `;[host:]port` wins over `clientPort`,
    /// and the two must agree when both are given.
    fn server_line_client_port(&mut self) -> Result<(), ConfigError> {
        let Some(my_id) = self.cfg.server_id else {
            return Ok(());
        };
        let Some((host, port)) = self
            .cfg
            .servers
            .iter()
            .find(|s| s.id == my_id)
            .and_then(|s| s.client_addr.clone())
        else {
            return Ok(());
        };
        let entry = Entry {
            key: format!("server.{my_id}"),
            value: format!("{host}:{port}"),
            line: 0,
        };
        let ip = self.ip(&entry, &host)?;
        if let Some(static_port) = self.client_port {
            let static_ip = self.cfg.client_port_address;
            let differs = if static_ip.is_unspecified() {
                static_port != port
            } else {
                (static_ip, static_port) != (ip, port)
            };
            if differs {
                return Err(self.invalid_file(&format!(
                    "client address for this server (id = {my_id}) in static config file is \
                     {static_ip}:{static_port} is different from client address found in dynamic file: {host}:{port}"
                )));
            }
        }
        self.client_port = Some(port);
        self.cfg.client_port = port;
        self.cfg.client_port_address = ip;
        Ok(())
    }

    // Value helpers. Numbers follow Integer.parseInt / Long.parseLong: an
    // optional sign and decimal digits, nothing else.

    fn int(&self, e: &Entry) -> Result<i32, ConfigError> {
        e.value
            .parse()
            .map_err(|_| self.value_error(e, "not a 32-bit integer"))
    }

    fn long(&self, e: &Entry) -> Result<i64, ConfigError> {
        e.value
            .parse()
            .map_err(|_| self.value_error(e, "not a 64-bit integer"))
    }

    fn non_negative<T: TryFrom<i64>>(&self, e: &Entry, value: i64) -> Result<T, ConfigError> {
        T::try_from(value).map_err(|_| self.value_error(e, "must not be negative"))
    }

    /// `Integer.parseInt`, then `InetSocketAddress`'s range check.
    fn port(&self, e: &Entry) -> Result<u16, ConfigError> {
        let number = self.int(e)?;
        u16::try_from(number)
            .map_err(|_| self.value_error(e, &format!("port out of range:{number}")))
    }

    /// `QuorumPeerConfig.parseBoolean`: "true" or "false", any case, nothing else.
    fn strict_bool(&self, e: &Entry) -> Result<bool, ConfigError> {
        if e.value.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if e.value.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(self.value_error(e, "Choose 'true' or 'false.'"))
        }
    }

    fn ip(&self, e: &Entry, host: &str) -> Result<IpAddr, ConfigError> {
        resolve_ip(host).ok_or_else(|| self.value_error(e, &format!("unknown host {host:?}")))
    }

    fn value_error(&self, e: &Entry, reason: &str) -> ConfigError {
        ConfigError::Value {
            file: self.file.clone(),
            line: e.line,
            key: e.key.clone(),
            value: e.value.clone(),
            reason: reason.to_string(),
        }
    }

    fn invalid_file(&self, reason: &str) -> ConfigError {
        ConfigError::Invalid {
            file: Some(self.file.clone()),
            reason: reason.to_string(),
        }
    }
}

/// `Boolean.parseBoolean`: "true" in any case is true, anything else false.
fn java_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true")
}
