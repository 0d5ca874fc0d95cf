//! Authentication providers and ACL checks (`ZooKeeperServer.checkACL`,
//! `DigestAuthenticationProvider`, `IPAuthenticationProvider`, `ReferenceCountedACLCache`).
//!
//! STUB: signatures fixed; bodies to be written.

use std::net::IpAddr;

use paddock_jute::{Acl, ErrorCode, Id};

/// The switches that decide how authentication and ACL checks behave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// `skipACL`: every check passes.
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest`, `super:<base64(sha1("super:password"))>`.
    pub super_digest: Option<String>,
    /// `DigestAuthenticationProvider.enabled`.
    pub digest_enabled: bool,
}

/// `user:base64(sha1("user:password"))` for the clear text `user:password`.
pub fn digest(user_password: &str) -> String {
    let _ = user_password;
    unimplemented!()
}

/// Handles an auth packet (`addauth scheme auth`). Returns the ids to add to the connection's
/// auth info, or `AuthFailed` for an unknown scheme or a rejected credential.
pub fn authenticate(
    cfg: &AuthConfig,
    scheme: &str,
    auth: &[u8],
    addr: IpAddr,
) -> Result<Vec<Id>, ErrorCode> {
    let _ = (cfg, scheme, auth, addr);
    unimplemented!()
}

/// The ids every new connection starts with (`ip:<address>`).
pub fn connection_ids(addr: IpAddr) -> Vec<Id> {
    let _ = addr;
    unimplemented!()
}

/// `checkACL`: Ok if `ids` grant `perm` on a node with `acl`, else `NoAuth`.
pub fn check(cfg: &AuthConfig, acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    let _ = (cfg, acl, perm, ids);
    unimplemented!()
}

/// `fixupACL`: validates a client's ACL list, expands the `auth` scheme into the caller's
/// ids, removes duplicates. Errors with `InvalidAcl`.
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let _ = (acl, ids);
    unimplemented!()
}

/// Interned, reference-counted ACL lists, as ZooKeeper's `ReferenceCountedACLCache`: nodes
/// store a key, snapshots store the map.
#[derive(Debug, Default)]
pub struct AclCache {}

impl AclCache {
    /// The key ZooKeeper reserves for `OPEN_ACL_UNSAFE`.
    pub const OPEN_UNSAFE_KEY: i64 = -1;

    pub fn new() -> Self {
        unimplemented!()
    }

    /// Returns the key for `acl`, adding one reference.
    pub fn intern(&mut self, acl: &[Acl]) -> i64 {
        let _ = acl;
        unimplemented!()
    }

    /// The list behind `key`. Panics on an unknown key: that is a bug, not bad input.
    pub fn get(&self, key: i64) -> &[Acl] {
        let _ = key;
        unimplemented!()
    }

    /// Drops one reference; the list is forgotten when none remain.
    pub fn release(&mut self, key: i64) {
        let _ = key;
        unimplemented!()
    }

    /// Number of distinct lists held.
    pub fn len(&self) -> usize {
        unimplemented!()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
