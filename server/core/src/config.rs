//! Knobs of the state machine. The server's zoo.cfg parser fills this in.

/// Configuration of `State`. Every time is in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreConfig {
    /// `tickTime`: the unit of session expiry buckets.
    pub tick_ms: i64,
    /// `minSessionTimeout` (default 2 x tickTime).
    pub session_timeout_ms_min: i32,
    /// `maxSessionTimeout` (default 20 x tickTime).
    pub session_timeout_ms_max: i32,
    /// The server id that session ids embed in their top byte: 1 for a standalone server
    /// (`ZooKeeperServer.createSessionTrackerServerId`), the low byte of myid in an ensemble.
    pub server_id: u8,
    /// `zookeeper.extendedTypesEnabled`: allows TTL nodes.
    pub extended_types_enabled: bool,
    /// `zookeeper.skipACL`: no ACL is checked.
    pub skip_acl: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `zookeeper.DigestAuthenticationProvider.enabled` (default true).
    pub digest_auth_enabled: bool,
    /// The `X509AuthenticationProvider` is registered: the `x509` scheme is known (its ids
    /// come from TLS client certificates).
    pub x509_auth: bool,
    /// `X509AuthenticationProvider.superUser`: the certificate subject that is `super`.
    pub x509_super_user: Option<String>,
    /// `zookeeper.enforceQuota`: hard quota limits answer QUOTAEXCEEDED.
    pub enforce_quota: bool,
    /// `znode.container.checkIntervalMs`: how often containers and TTL nodes are swept.
    pub container_check_interval_ms: i64,
    /// `znode.container.maxPerMinute`: at most this many sweeper deletes per minute.
    pub container_max_per_minute: u32,
    /// `znode.container.maxNeverUsedIntervalMs`: 0 keeps never-used containers forever.
    pub container_max_never_used_ms: i64,
    /// Data of `/zookeeper/config` (empty for a standalone server).
    pub config_znode_data: Vec<u8>,
    /// `zookeeper.enforce.auth.schemes` when `zookeeper.enforce.auth.enabled`; empty when
    /// not enforced. A connection must hold an id of one of them for any request but auth
    /// and SASL packets (`AuthenticationHelper`).
    pub enforce_auth_schemes: Vec<String>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        let tick_ms = 3000;
        CoreConfig {
            tick_ms,
            session_timeout_ms_min: (2 * tick_ms) as i32,
            session_timeout_ms_max: (20 * tick_ms) as i32,
            server_id: 1,
            extended_types_enabled: false,
            skip_acl: false,
            super_digest: None,
            digest_auth_enabled: true,
            x509_auth: false,
            x509_super_user: None,
            enforce_quota: false,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used_ms: 0,
            config_znode_data: Vec::new(),
            enforce_auth_schemes: Vec::new(),
        }
    }
}
