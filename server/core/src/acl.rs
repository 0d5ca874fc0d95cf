//! Authentication providers and ACL checks (`ZooKeeperServer.checkACL`,
//! `DigestAuthenticationProvider`, `IPAuthenticationProvider`, `ReferenceCountedACLCache`).
//!
//! The provider registry is ZooKeeper's default one: `ip` always, `digest` unless disabled.
//! `world` and `auth` are not providers (they are handled inline by `checkACL` and `fixupACL`),
//! `super` is only an id that `checkACL` honours, and `sasl`/`x509` are not registered, so ACLs
//! naming them are invalid and auth packets for them fail, exactly as on a default ZooKeeper.
//!
//! Several Java library behaviours are observable and mirrored here: `String.split`'s dropping
//! of trailing empty strings, `Integer.parseInt` accepting a sign, `new String(bytes)` replacing
//! bad UTF-8, and the iteration order of the `ConcurrentHashMap` set holding a connection's ids
//! (see `AuthInfo`).

use crate::fasthash::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use paddock_jute::{Acl, ErrorCode, Id};
use sha1::{Digest, Sha1};

/// The switches that decide how authentication and ACL checks behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `skipACL`: every check passes.
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest`, `super:<base64(sha1("super:password"))>`.
    pub super_digest: Option<String>,
    /// `DigestAuthenticationProvider.enabled`.
    pub digest_enabled: bool,
    /// `X509AuthenticationProvider` registered.
    pub x509: bool,
    /// `X509AuthenticationProvider.superUser`.
    pub x509_super_user: Option<String>,
}

impl Default for AuthConfig {
    /// ZooKeeper's defaults: ACLs checked, no super user, digest enabled
    /// (`zookeeper.DigestAuthenticationProvider.enabled` defaults to true).
    fn default() -> Self {
        AuthConfig {
            skip_acl: false,
            super_digest: None,
            digest_enabled: true,
            x509: false,
            x509_super_user: None,
        }
    }
}

/// `user:base64(sha1("user:password"))` for the clear text `user:password`
/// (`DigestAuthenticationProvider.generateDigest`). Text without a colon keeps its whole self as
/// the user part, as Java's `split(":", 2)[0]` does.
pub fn digest(user_password: &str) -> String {
    let user = user_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(user_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// Handles an auth packet (`addauth scheme auth`). Returns the ids to add to the connection's
/// auth info, or `AuthFailed` for an unknown scheme or a rejected credential.
///
/// The digest provider accepts any bytes: `new String(authData)` replaces bad UTF-8 with
/// U+FFFD and text without a colon digests as a user with that whole name, so only a disabled
/// provider fails. A super digest yields `super:` before the digest id, in the Java order.
pub fn authenticate(
    cfg: &AuthConfig,
    scheme: &str,
    auth: &[u8],
    addr: IpAddr,
) -> Result<Vec<Id>, ErrorCode> {
    match scheme {
        "ip" => Ok(connection_ids(addr)),
        "digest" if cfg.digest_enabled => {
            let text = String::from_utf8_lossy(auth);
            let id = digest(&text);
            let mut ids = Vec::with_capacity(2);
            if cfg.super_digest.as_deref() == Some(id.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", &id));
            Ok(ids)
        }
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// `X509AuthenticationProvider.handleAuthentication`: the ids of a TLS client whose
/// certificate has `subject` (`X500Principal.getName()`): `x509:<subject>`, after `super:`
/// when it is the configured super user.
pub fn x509_ids(cfg: &AuthConfig, subject: &str) -> Vec<Id> {
    if !cfg.x509 {
        return Vec::new();
    }
    let mut ids = Vec::with_capacity(2);
    if cfg.x509_super_user.as_deref() == Some(subject) {
        ids.push(Id::new("super", subject));
    }
    ids.push(Id::new("x509", subject));
    ids
}

/// The ids every new connection starts with (`ip:<address>`), as `NIOServerCnxn` adds them
/// with `InetAddress.getHostAddress()`.
pub fn connection_ids(addr: IpAddr) -> Vec<Id> {
    vec![Id::new("ip", &host_address(addr))]
}

/// `InetAddress.getHostAddress()` of a peer. Java hands an IPv4 client of a dual-stack socket
/// over as an `Inet4Address`, so an IPv4-mapped IPv6 address prints as dotted IPv4; other IPv6
/// addresses print as eight lowercase hex groups without compression (`0:0:0:0:0:0:0:1`).
pub fn host_address(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
                groups.join(":")
            }
        },
    }
}

/// `checkACL`: Ok if `ids` grant `perm` on a node with `acl`, else `NoAuth`.
pub fn check(cfg: &AuthConfig, acl: &[Acl], perm: i32, ids: &[Id]) -> Result<(), ErrorCode> {
    if cfg.skip_acl || acl.is_empty() || ids.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for entry in acl.iter().filter(|entry| entry.perms & perm != 0) {
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            return Ok(());
        }
        let Some(provider) = Provider::lookup(cfg, &id.scheme) else {
            continue;
        };
        let granted = ids
            .iter()
            .any(|auth| auth.scheme == id.scheme && provider.matches(&auth.id, &id.id));
        if granted {
            return Ok(());
        }
    }
    Err(ErrorCode::NoAuth)
}

/// `fixupACL`: validates a client's ACL list, expands the `auth` scheme into the caller's
/// ids, removes duplicates. Errors with `InvalidAcl`. Assumes the digest provider is enabled
/// (ZooKeeper's default); see `fixup_with` for a server that disabled it.
pub fn fixup(acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    fixup_with(&AuthConfig::default(), acl, ids)
}

/// `fixupACL` with the provider registry `cfg` describes: with digest disabled, `digest` ACLs
/// are invalid and digest ids no longer expand `auth`, because ZooKeeper never registered the
/// provider. Permission bits are not validated, as in ZooKeeper. Duplicates are removed before
/// expansion only, so an expanded `auth` entry may repeat an explicit one.
pub fn fixup_with(cfg: &AuthConfig, acl: &[Acl], ids: &[Id]) -> Result<Vec<Acl>, ErrorCode> {
    let mut unique: Vec<&Acl> = Vec::with_capacity(acl.len());
    for entry in acl {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    if unique.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut fixed = Vec::with_capacity(unique.len());
    for entry in unique {
        let id = &entry.id;
        if id.scheme == "world" && id.id == "anyone" {
            fixed.push(entry.clone());
        } else if id.scheme == "auth" {
            let before = fixed.len();
            let authenticated = ids.iter().filter(|caller| {
                Provider::lookup(cfg, &caller.scheme).is_some_and(Provider::is_authenticated)
            });
            fixed.extend(authenticated.map(|caller| Acl {
                perms: entry.perms,
                id: caller.clone(),
            }));
            if fixed.len() == before {
                return Err(ErrorCode::InvalidAcl);
            }
        } else {
            match Provider::lookup(cfg, &id.scheme) {
                Some(provider) if provider.is_valid(&id.id) => fixed.push(entry.clone()),
                _ => return Err(ErrorCode::InvalidAcl),
            }
        }
    }
    Ok(fixed)
}

/// The registered authentication providers of a default ZooKeeper (`ProviderRegistry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    Ip,
    Digest,
    X509,
}

impl Provider {
    fn lookup(cfg: &AuthConfig, scheme: &str) -> Option<Provider> {
        match scheme {
            "ip" => Some(Provider::Ip),
            "digest" if cfg.digest_enabled => Some(Provider::Digest),
            "x509" if cfg.x509 => Some(Provider::X509),
            _ => None,
        }
    }

    /// `isAuthenticated`: whether the id proves who the caller is (the `auth` scheme expands
    /// only to such ids).
    fn is_authenticated(self) -> bool {
        matches!(self, Provider::Digest | Provider::X509)
    }

    /// `isValid`: whether an ACL id is well formed for this scheme.
    fn is_valid(self, id: &str) -> bool {
        match self {
            // `id.split(":").length == 2`, with Java dropping trailing empty strings.
            Provider::Digest => java_split_drop_trailing(id, ':').len() == 2,
            Provider::Ip => parse_ip_expr(id).is_some(),
            Provider::X509 => true,
        }
    }

    /// `matches(id, aclExpr)`: whether the caller's id satisfies an ACL id.
    fn matches(self, id: &str, acl_expr: &str) -> bool {
        match self {
            Provider::Digest | Provider::X509 => id == acl_expr,
            Provider::Ip => ip_matches(id, acl_expr),
        }
    }
}

/// Java's `s.split(sep)` (limit 0): a string without the separator is returned whole, else
/// the pieces with trailing empty ones dropped.
fn java_split_drop_trailing(s: &str, sep: char) -> Vec<&str> {
    if !s.contains(sep) {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// `Integer.parseInt(s, radix)` for ASCII digits: an optional sign, at least one digit, and
/// no overflow. Java also accepts non-ASCII Unicode digits; those are rejected here.
fn java_parse_int(s: &str, radix: u32) -> Option<i32> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut value: i64 = 0;
    for ch in digits.chars() {
        value = value * i64::from(radix) + i64::from(ch.to_digit(radix)?);
        if value > i64::from(i32::MAX) + 1 {
            return None;
        }
    }
    let value = if negative { -value } else { value };
    i32::try_from(value).ok()
}

/// `IPAuthenticationProvider.addr2Bytes`: a colon means IPv6, else a dot means IPv4.
fn addr_to_bytes(addr: &str) -> Option<Vec<u8>> {
    if addr.contains(':') {
        v6_to_bytes(addr)
    } else if addr.contains('.') {
        v4_to_bytes(addr)
    } else {
        None
    }
}

/// `v4addr2Bytes`: exactly four dot-separated `parseInt` values in 0..=255 (`+1` and `-0` pass).
fn v4_to_bytes(addr: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    parts
        .iter()
        .map(|part| java_parse_int(part, 10).and_then(|v| u8::try_from(v).ok()))
        .collect()
}

/// `parseV6addr`: eight groups, or fewer around one `::`; no embedded IPv4.
fn v6_to_bytes(addr: &str) -> Option<Vec<u8>> {
    let halves: Vec<&str> = addr.split("::").collect();
    let split_groups = |s: &'_ str| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(':').map(str::to_owned).collect()
        }
    };
    let (head, tail) = match halves.as_slice() {
        [whole] => {
            let groups: Vec<String> = whole.split(':').map(str::to_owned).collect();
            if groups.len() != 8 {
                return None;
            }
            (groups, Vec::new())
        }
        [before, after] => {
            let (head, tail) = (split_groups(before), split_groups(after));
            if head.len() + tail.len() >= 8 {
                return None;
            }
            (head, tail)
        }
        _ => return None,
    };
    let mut bytes = vec![0u8; 16];
    write_v6_groups(&mut bytes, 0, &head)?;
    write_v6_groups(&mut bytes, 16 - tail.len() * 2, &tail)?;
    Some(bytes)
}

/// `parseV6Segment`: each group is 1..=4 UTF-16 units parsed as signed hex, so `-1` is `ffff`.
fn write_v6_groups(bytes: &mut [u8], start: usize, groups: &[String]) -> Option<()> {
    for (i, group) in groups.iter().enumerate() {
        if group.is_empty() || group.encode_utf16().count() > 4 {
            return None;
        }
        let value = java_parse_int(group, 16)?;
        bytes[start + 2 * i] = ((value >> 8) & 0xff) as u8;
        bytes[start + 2 * i + 1] = (value & 0xff) as u8;
    }
    Some(())
}

/// Parses an ip ACL expression `addr[/bits]` into its address bytes and prefix length.
fn parse_ip_expr(expr: &str) -> Option<(Vec<u8>, usize)> {
    let mut parts = expr.splitn(2, '/');
    let addr = addr_to_bytes(parts.next().unwrap_or(""))?;
    let full = addr.len() * 8;
    let bits = match parts.next() {
        None => full,
        Some(bits) => {
            let bits = usize::try_from(java_parse_int(bits, 10)?).ok()?;
            if bits > full {
                return None;
            }
            bits
        }
    };
    Some((addr, bits))
}

/// `IPAuthenticationProvider.mask`: keeps the top `bits` bits.
fn mask(bytes: &mut [u8], bits: usize) {
    for (i, byte) in bytes.iter_mut().enumerate() {
        let keep = bits.saturating_sub(i * 8).min(8);
        *byte &= !(0xffu16 >> keep) as u8;
    }
}

/// `IPAuthenticationProvider.matches`: prefix match of the caller's address against
/// `addr[/bits]`; an IPv4 caller never matches an IPv6 expression or the reverse.
fn ip_matches(id: &str, acl_expr: &str) -> bool {
    let Some((mut acl_addr, bits)) = parse_ip_expr(acl_expr) else {
        return false;
    };
    let Some(mut remote) = addr_to_bytes(id) else {
        return false;
    };
    mask(&mut acl_addr, bits);
    mask(&mut remote, bits);
    remote == acl_addr
}

/// A connection's authenticated ids, kept as ZooKeeper keeps them
/// (`ServerCnxn.authInfo`, a `ConcurrentHashMap`-backed set): no duplicates, and listed in that
/// map's iteration order. The order is visible to clients: `auth` ACLs expand in it and
/// `whoAmI` lists it. The simulation covers the table growth of a default map; bins that Java
/// would turn into trees (eight colliding ids) are kept as lists.
#[derive(Debug, Clone)]
pub struct AuthInfo {
    /// Buckets of `(spread hash, id)` in Java's bin order.
    table: Vec<Vec<(u32, Id)>>,
    len: usize,
}

impl Default for AuthInfo {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthInfo {
    /// `ConcurrentHashMap`'s default capacity.
    const INITIAL_CAPACITY: usize = 16;

    pub fn new() -> Self {
        AuthInfo {
            table: vec![Vec::new(); Self::INITIAL_CAPACITY],
            len: 0,
        }
    }

    /// Adds `id`; false if it was already present (`Set.add`).
    pub fn insert(&mut self, id: Id) -> bool {
        let hash = spread(java_id_hash(&id));
        let bin = hash as usize & (self.table.len() - 1);
        if self.table[bin].iter().any(|(_, held)| *held == id) {
            return false;
        }
        self.table[bin].push((hash, id));
        self.len += 1;
        // `addCount`: the table doubles once the size reaches three quarters of it.
        if self.len >= self.table.len() - self.table.len() / 4 {
            self.grow();
        }
        true
    }

    pub fn contains(&self, id: &Id) -> bool {
        let hash = spread(java_id_hash(id));
        let bin = hash as usize & (self.table.len() - 1);
        self.table[bin].iter().any(|(_, held)| held == id)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids in the order `cnxn.getAuthInfo()` lists them.
    pub fn to_vec(&self) -> Vec<Id> {
        self.table
            .iter()
            .flatten()
            .map(|(_, id)| id.clone())
            .collect()
    }

    /// `ConcurrentHashMap.transfer`: each bin splits into a low and a high bin. The longest
    /// tail whose entries all go the same way moves as is; the entries before it are
    /// prepended one by one, which reverses them.
    fn grow(&mut self) {
        let old_len = self.table.len();
        let mut table = vec![Vec::new(); old_len * 2];
        for (index, bin) in std::mem::take(&mut self.table).into_iter().enumerate() {
            let goes_high = |hash: u32| hash as usize & old_len != 0;
            let mut last_run = 0;
            for i in 1..bin.len() {
                if goes_high(bin[i].0) != goes_high(bin[i - 1].0) {
                    last_run = i;
                }
            }
            let (mut low, mut high) = (Vec::new(), Vec::new());
            let tail_high = bin.first().is_some_and(|_| goes_high(bin[last_run].0));
            let mut entries = bin.into_iter();
            let head: Vec<(u32, Id)> = entries.by_ref().take(last_run).collect();
            let tail: Vec<(u32, Id)> = entries.collect();
            if tail_high {
                high = tail;
            } else {
                low = tail;
            }
            for entry in head {
                if goes_high(entry.0) {
                    high.insert(0, entry);
                } else {
                    low.insert(0, entry);
                }
            }
            table[index] = low;
            table[index + old_len] = high;
        }
        self.table = table;
    }
}

/// `String.hashCode` over UTF-16 code units.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The jute-generated `Id.hashCode`.
fn java_id_hash(id: &Id) -> i32 {
    let h = 17i32
        .wrapping_mul(37)
        .wrapping_add(java_string_hash(&id.scheme));
    h.wrapping_mul(37).wrapping_add(java_string_hash(&id.id))
}

/// `ConcurrentHashMap.spread`.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    (h ^ (h >> 16)) & 0x7fff_ffff
}

impl Default for AclCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Interned, reference-counted ACL lists, as ZooKeeper's `ReferenceCountedACLCache`: nodes
/// store a key, snapshots store the map.
///
/// As in ZooKeeper, every interned list gets a numbered key, even one equal to
/// `OPEN_ACL_UNSAFE`; the key -1 stands for the null ACL of the nodes the server creates
/// itself (`/`, `/zookeeper`, `/zookeeper/quota`) and is never stored in the map. Keys count
/// up from 1 and are not reused after a list is forgotten.
#[derive(Debug, Clone)]
pub struct AclCache {
    by_key: HashMap<i64, CacheEntry>,
    by_list: HashMap<Vec<Acl>, i64>,
    /// `aclIndex`: the last key handed out.
    last_key: i64,
    /// What key -1 stands for.
    open_unsafe: Arc<[Acl]>,
    /// What `UNRESOLVED_KEY` stands for: one entry granting nothing.
    unresolved: Arc<[Acl]>,
}

/// A list is shared (`Arc`), so that prepare's change records can hold one without copying
/// its ids for every write.
#[derive(Debug, Clone)]
struct CacheEntry {
    acl: Arc<[Acl]>,
    refs: u64,
}

impl AclCache {
    /// The key ZooKeeper reserves for `OPEN_ACL_UNSAFE`.
    pub const OPEN_UNSAFE_KEY: i64 = -1;

    /// The key a node loaded from a snapshot gets when the snapshot's ACL map lacks its key
    /// (see `DataTree::load_node`). It stands for a list that grants no permission, so only
    /// the super user can reach such a node until replay sets its real ACL. ZooKeeper keeps
    /// the dangling key and fails every access to the node instead.
    pub const UNRESOLVED_KEY: i64 = -2;

    pub fn new() -> Self {
        AclCache {
            by_key: HashMap::default(),
            by_list: HashMap::default(),
            last_key: 0,
            open_unsafe: Acl::open_unsafe().into(),
            unresolved: Arc::from([Acl {
                perms: 0,
                id: Id::new("world", "anyone"),
            }]),
        }
    }

    /// Whether `key` is stored (never true for the reserved negative keys).
    pub fn contains_key(&self, key: i64) -> bool {
        self.by_key.contains_key(&key)
    }

    /// `aclIndex`: the last key handed out. Keys above it are newer.
    pub fn last_key(&self) -> i64 {
        self.last_key
    }

    /// Returns the key for `acl`, adding one reference.
    pub fn intern(&mut self, acl: &[Acl]) -> i64 {
        let key = match self.by_list.get(acl) {
            Some(&key) => key,
            None => {
                self.last_key += 1;
                let key = self.last_key;
                self.by_key.insert(
                    key,
                    CacheEntry {
                        acl: Arc::from(acl),
                        refs: 0,
                    },
                );
                self.by_list.insert(acl.to_vec(), key);
                key
            }
        };
        self.add_usage(key);
        key
    }

    /// The list behind `key`. Panics on an unknown key: that is a bug, not bad input.
    pub fn get(&self, key: i64) -> &[Acl] {
        self.list(key)
    }

    /// The list behind `key`, shared: a reference count, not a copy. Panics as [`Self::get`].
    pub fn get_shared(&self, key: i64) -> Arc<[Acl]> {
        self.list(key).clone()
    }

    fn list(&self, key: i64) -> &Arc<[Acl]> {
        match key {
            Self::OPEN_UNSAFE_KEY => &self.open_unsafe,
            Self::UNRESOLVED_KEY => &self.unresolved,
            _ => match self.by_key.get(&key) {
                Some(entry) => &entry.acl,
                None => panic!("ACL cache has no key {key}"),
            },
        }
    }

    /// Drops one reference; the list is forgotten when none remain.
    pub fn release(&mut self, key: i64) {
        let Some(entry) = self.by_key.get_mut(&key) else {
            return;
        };
        entry.refs = entry.refs.saturating_sub(1);
        if entry.refs == 0 {
            self.forget(key);
        }
    }

    /// `addUsage`: one more reference to an existing key; -1 and unknown keys are ignored.
    pub fn add_usage(&mut self, key: i64) {
        if let Some(entry) = self.by_key.get_mut(&key) {
            entry.refs += 1;
        }
    }

    /// Number of distinct lists held.
    pub fn len(&self) -> usize {
        self.by_list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// References held on `key` (0 for -1 and unknown keys).
    pub fn ref_count(&self, key: i64) -> u64 {
        self.by_key.get(&key).map_or(0, |entry| entry.refs)
    }

    /// Every stored `(key, list, references)`, by ascending key, for writing a snapshot.
    /// (ZooKeeper writes its `HashMap` order; readers do not depend on the order.)
    pub fn entries(&self) -> Vec<(i64, &[Acl], u64)> {
        let mut entries: Vec<(i64, &[Acl], u64)> = self
            .by_key
            .iter()
            .map(|(&key, e)| (key, &*e.acl, e.refs))
            .collect();
        entries.sort_by_key(|&(key, _, _)| key);
        entries
    }

    /// Loads a snapshot entry (`deserialize`): `key` maps to `acl` with no references yet, and
    /// new keys continue after the largest loaded one. Follow with `add_usage` per node and
    /// then `purge_unused`, as `DataTree.deserialize` does.
    pub fn insert_with_key(&mut self, key: i64, acl: Vec<Acl>) {
        self.last_key = self.last_key.max(key);
        if let Some(old) = self.by_key.insert(
            key,
            CacheEntry {
                acl: Arc::from(acl.as_slice()),
                refs: 0,
            },
        ) {
            self.by_list.remove(&*old.acl);
        }
        self.by_list.insert(acl, key);
    }

    /// `purgeUnused`: forgets every list no node references.
    pub fn purge_unused(&mut self) {
        let unused: Vec<i64> = self
            .by_key
            .iter()
            .filter(|(_, e)| e.refs == 0)
            .map(|(&key, _)| key)
            .collect();
        for key in unused {
            self.forget(key);
        }
    }

    fn forget(&mut self, key: i64) {
        if let Some(entry) = self.by_key.remove(&key) {
            self.by_list.remove(&*entry.acl);
        }
    }
}
