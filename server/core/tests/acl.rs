//! ACL checks, `fixupACL`, authentication providers and the ACL cache, against ZooKeeper 3.9
//! (`ZooKeeperServer.checkACL`, `PrepRequestProcessor.fixupACL`, `DigestAuthenticationProvider`,
//! `IPAuthenticationProvider`, `ReferenceCountedACLCache`). Golden strings were produced by
//! running the Java classes of Apache ZooKeeper.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use paddock_core::acl::{
    authenticate, check, connection_ids, digest, fixup, fixup_with, AclCache, AuthConfig, AuthInfo,
};
use paddock_jute::{perms, Acl, ErrorCode, Id};

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id::new(scheme, id),
    }
}

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

// DigestAuthenticationProvider.generateDigest, golden values from the Java method.
#[test]
fn digest_matches_zookeeper_generate_digest() {
    assert_eq!(digest("user:password"), "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=");
    assert_eq!(digest("super:secret"), "super:lK75jTNcA+U9vtVEw5vB51mj/w4=");
    assert_eq!(digest("a:b:c"), "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0=");
    assert_eq!(digest("ü:ß"), "ü:vB6Co0vguxtrKN0lKrXliXiGJq4=");
}

// DigestAuthenticationProvider.generateDigest: split(":", 2)[0] is the whole text when there
// is no colon, so such credentials still authenticate.
#[test]
fn digest_without_colon_uses_whole_text_as_user() {
    assert_eq!(digest("nocolon"), "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=");
    assert_eq!(digest(""), ":2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
    let ids = authenticate(&AuthConfig::default(), "digest", b"nocolon", LOCALHOST).unwrap();
    assert_eq!(
        ids,
        vec![Id::new("digest", "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=")]
    );
}

// DigestAuthenticationProvider.handleAuthentication: `new String(authData)` replaces bad
// UTF-8 with U+FFFD before digesting (golden from Java with bytes 61 ff 3a e2 82 62).
#[test]
fn digest_auth_replaces_invalid_utf8_like_java() {
    let ids = authenticate(
        &AuthConfig::default(),
        "digest",
        b"a\xff:\xe2\x82b",
        LOCALHOST,
    )
    .unwrap();
    assert_eq!(
        ids,
        vec![Id::new("digest", "a\u{fffd}:HLmb9HEgYHTJBJrmWZW32DDWmCI=")]
    );
}

// DigestAuthenticationProvider.handleAuthentication: the super id comes first, then the
// digest id, only when the whole digest equals superDigest.
#[test]
fn super_digest_adds_super_id() {
    let cfg = AuthConfig {
        super_digest: Some("super:lK75jTNcA+U9vtVEw5vB51mj/w4=".into()),
        ..AuthConfig::default()
    };
    let ids = authenticate(&cfg, "digest", b"super:secret", LOCALHOST).unwrap();
    assert_eq!(
        ids,
        vec![
            Id::new("super", ""),
            Id::new("digest", "super:lK75jTNcA+U9vtVEw5vB51mj/w4=")
        ]
    );
    let wrong = authenticate(&cfg, "digest", b"super:wrong", LOCALHOST).unwrap();
    assert_eq!(wrong.len(), 1);
    // checkACL: any super id passes every ACL.
    assert_eq!(
        check(
            &cfg,
            &[acl(perms::READ, "digest", "x:y")],
            perms::ADMIN,
            &ids
        ),
        Ok(())
    );
}

// ProviderRegistry: digest is registered only when enabled; unknown schemes have no provider
// and ZooKeeperServer answers AUTHFAILED.
#[test]
fn unknown_scheme_or_disabled_digest_fails_auth() {
    let disabled = AuthConfig {
        digest_enabled: false,
        ..AuthConfig::default()
    };
    assert_eq!(
        authenticate(&disabled, "digest", b"u:p", LOCALHOST),
        Err(ErrorCode::AuthFailed)
    );
    for scheme in ["super", "world", "auth", "sasl", "x509", ""] {
        assert_eq!(
            authenticate(&AuthConfig::default(), scheme, b"u:p", LOCALHOST),
            Err(ErrorCode::AuthFailed),
            "{scheme}"
        );
    }
}

// IPAuthenticationProvider.handleAuthentication ignores the bytes and adds the peer address.
#[test]
fn ip_auth_returns_peer_address() {
    let ids = authenticate(&AuthConfig::default(), "ip", b"whatever", LOCALHOST).unwrap();
    assert_eq!(ids, vec![Id::new("ip", "127.0.0.1")]);
}

// NIOServerCnxn constructor: `new Id("ip", addr.getHostAddress())`. Java prints IPv6 as eight
// uncompressed groups and turns IPv4-mapped addresses into Inet4Address.
#[test]
fn connection_ids_use_java_host_address_format() {
    assert_eq!(connection_ids(LOCALHOST), vec![Id::new("ip", "127.0.0.1")]);
    assert_eq!(
        connection_ids(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        vec![Id::new("ip", "0:0:0:0:0:0:0:1")]
    );
    let v6: IpAddr = "2001:db8::ab:1".parse().unwrap();
    assert_eq!(
        connection_ids(v6),
        vec![Id::new("ip", "2001:db8:0:0:0:0:ab:1")]
    );
    let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
    assert_eq!(connection_ids(mapped), vec![Id::new("ip", "10.1.2.3")]);
}

// ZooKeeperServer.checkACL: skipACL and an empty ACL let everything through.
#[test]
fn skip_acl_and_empty_acl_pass() {
    let skip = AuthConfig {
        skip_acl: true,
        ..AuthConfig::default()
    };
    let locked = [acl(perms::READ, "digest", "a:b")];
    assert_eq!(check(&skip, &locked, perms::WRITE, &[]), Ok(()));
    assert_eq!(
        check(&AuthConfig::default(), &[], perms::WRITE, &[]),
        Ok(())
    );
    assert_eq!(
        check(&AuthConfig::default(), &locked, perms::WRITE, &[]),
        Err(ErrorCode::NoAuth)
    );
}

// ZooKeeperServer.checkACL: an entry grants only the perms it carries; world:anyone matches
// everybody, other world ids nobody.
#[test]
fn check_requires_the_perm_bit() {
    let cfg = AuthConfig::default();
    let read_only = Acl::read_unsafe();
    assert_eq!(check(&cfg, &read_only, perms::READ, &[]), Ok(()));
    assert_eq!(
        check(&cfg, &read_only, perms::WRITE, &[]),
        Err(ErrorCode::NoAuth)
    );
    let odd_world = [acl(perms::ALL, "world", "someone")];
    assert_eq!(
        check(&cfg, &odd_world, perms::READ, &[]),
        Err(ErrorCode::NoAuth)
    );
}

// DigestAuthenticationProvider.matches is string equality; disabled digest never matches.
#[test]
fn digest_acl_matches_equal_id_only() {
    let cfg = AuthConfig::default();
    let node = [acl(
        perms::ALL,
        "digest",
        "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY=",
    )];
    let me = authenticate(&cfg, "digest", b"user:password", LOCALHOST).unwrap();
    let other = authenticate(&cfg, "digest", b"user:other", LOCALHOST).unwrap();
    assert_eq!(check(&cfg, &node, perms::READ, &me), Ok(()));
    assert_eq!(
        check(&cfg, &node, perms::READ, &other),
        Err(ErrorCode::NoAuth)
    );
    let disabled = AuthConfig {
        digest_enabled: false,
        ..AuthConfig::default()
    };
    assert_eq!(
        check(&disabled, &node, perms::READ, &me),
        Err(ErrorCode::NoAuth)
    );
}

// ZooKeeperServer.checkACL only matches an auth id of the same scheme; "auth" is no provider.
#[test]
fn scheme_must_match_and_auth_scheme_never_matches() {
    let cfg = AuthConfig::default();
    let ids = [Id::new("ip", "10.0.0.1"), Id::new("digest", "10.0.0.1")];
    assert_eq!(
        check(&cfg, &[acl(perms::ALL, "auth", "")], perms::READ, &ids),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        check(
            &cfg,
            &[acl(perms::ALL, "x509", "CN=a")],
            perms::READ,
            &[Id::new("x509", "CN=a")]
        ),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(
        check(
            &cfg,
            &[acl(perms::ALL, "digest", "10.0.0.1")],
            perms::READ,
            &ids
        ),
        Ok(())
    );
}

fn ip_allows(expr: &str, peer: &str) -> bool {
    check(
        &AuthConfig::default(),
        &[acl(perms::READ, "ip", expr)],
        perms::READ,
        &[Id::new("ip", peer)],
    )
    .is_ok()
}

// IPAuthenticationProvider.matches: `addr[/bits]` prefix match over IPv4 bytes.
#[test]
fn ip_cidr_matching_ipv4() {
    assert!(ip_allows("127.0.0.1", "127.0.0.1"));
    assert!(!ip_allows("127.0.0.1", "127.0.0.2"));
    assert!(ip_allows("10.1.0.0/16", "10.1.255.7"));
    assert!(!ip_allows("10.1.0.0/16", "10.2.0.1"));
    assert!(ip_allows("10.1.2.3/0", "192.168.0.1"));
    assert!(ip_allows("192.168.1.128/25", "192.168.1.200"));
    assert!(!ip_allows("192.168.1.128/25", "192.168.1.100"));
    // Integer.parseInt takes a sign; 33 bits is out of range; a missing prefix is invalid.
    assert!(ip_allows("+10.-0.0.1", "10.0.0.1"));
    assert!(!ip_allows("10.0.0.1/33", "10.0.0.1"));
    assert!(!ip_allows("10.0.0.1/", "10.0.0.1"));
    assert!(!ip_allows("10.0.0", "10.0.0.0"));
    assert!(!ip_allows("localhost", "localhost"));
}

// IPAuthenticationProvider.matches / parseV6addr: IPv6 with and without "::", prefixes up to
// 128 bits, and never across address families.
#[test]
fn ip_cidr_matching_ipv6() {
    assert!(ip_allows("::1", "0:0:0:0:0:0:0:1"));
    assert!(ip_allows("0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1"));
    assert!(ip_allows("2001:db8::/32", "2001:db8:ffff:0:0:0:0:1"));
    assert!(!ip_allows("2001:db8::/32", "2001:db9:0:0:0:0:0:1"));
    assert!(ip_allows("fe80::/10", "febf:0:0:0:0:0:0:1"));
    assert!(!ip_allows("fe80::/10", "fec0:0:0:0:0:0:0:1"));
    assert!(!ip_allows("::1/129", "0:0:0:0:0:0:0:1"));
    // Families never match, even for an all-zero prefix.
    assert!(!ip_allows("::/0", "127.0.0.1"));
    assert!(!ip_allows("0.0.0.0/0", "0:0:0:0:0:0:0:1"));
    // Embedded IPv4 is not understood; "-1" parses as hex -1, i.e. ffff.
    assert!(!ip_allows("::ffff:127.0.0.1", "0:0:0:0:0:ffff:7f00:1"));
    assert!(ip_allows("-1::", "ffff:0:0:0:0:0:0:0"));
    assert!(!ip_allows("1:2:3:4:5:6:7::8", "1:2:3:4:5:6:7:8"));
    assert!(!ip_allows("1::2::3", "1:0:2:0:0:0:0:3"));
}

// PrepRequestProcessor.fixupACL: an empty list is invalid.
#[test]
fn fixup_rejects_empty_list() {
    assert_eq!(fixup(&[], &[]), Err(ErrorCode::InvalidAcl));
}

// PrepRequestProcessor.removeDuplicates keeps the first of equal entries, in order; perms are
// not validated.
#[test]
fn fixup_removes_duplicates_keeping_order() {
    let input = [
        acl(perms::READ, "world", "anyone"),
        acl(0, "ip", "10.0.0.1"),
        acl(perms::READ, "world", "anyone"),
        acl(-1, "ip", "10.0.0.1"),
        acl(0, "ip", "10.0.0.1"),
    ];
    let fixed = fixup(&input, &[]).unwrap();
    assert_eq!(
        fixed,
        vec![input[0].clone(), input[1].clone(), input[3].clone()]
    );
}

// PrepRequestProcessor.fixupACL: "auth" expands to every caller id whose provider
// isAuthenticated (digest yes, ip no, super has no provider), in the caller's id order, and
// duplicates created by the expansion stay.
#[test]
fn fixup_expands_auth_to_authenticated_ids() {
    let ids = [
        Id::new("ip", "127.0.0.1"),
        Id::new("digest", "u1:h1"),
        Id::new("super", ""),
        Id::new("digest", "u2:h2"),
    ];
    let input = [
        acl(perms::ALL, "digest", "u1:h1"),
        acl(perms::ALL, "auth", "ignored"),
    ];
    let fixed = fixup(&input, &ids).unwrap();
    assert_eq!(
        fixed,
        vec![
            acl(perms::ALL, "digest", "u1:h1"),
            acl(perms::ALL, "digest", "u1:h1"),
            acl(perms::ALL, "digest", "u2:h2"),
        ]
    );
}

// PrepRequestProcessor.fixupACL: "auth" with no authenticated id is invalid; with digest
// disabled digest ids do not count.
#[test]
fn fixup_auth_without_authenticated_ids_is_invalid() {
    let only_ip = [Id::new("ip", "127.0.0.1"), Id::new("super", "")];
    assert_eq!(
        fixup(&[acl(perms::ALL, "auth", "")], &only_ip),
        Err(ErrorCode::InvalidAcl)
    );
    let disabled = AuthConfig {
        digest_enabled: false,
        ..AuthConfig::default()
    };
    let digest_id = [Id::new("digest", "u:h")];
    assert_eq!(
        fixup_with(&disabled, &[acl(perms::ALL, "auth", "")], &digest_id),
        Err(ErrorCode::InvalidAcl)
    );
}

// PrepRequestProcessor.fixupACL: world must be anyone; digest ids must pass isValid
// (`split(":").length == 2`, trailing empties dropped); ip ids must parse; other schemes have
// no provider.
#[test]
fn fixup_validates_ids_per_provider() {
    let valid = |scheme: &str, id: &str| fixup(&[acl(perms::ALL, scheme, id)], &[]).is_ok();
    assert!(valid("world", "anyone"));
    assert!(!valid("world", "everyone"));
    assert!(valid("digest", "user:hash"));
    assert!(valid("digest", ":hash"));
    assert!(valid("digest", "user:hash:"));
    assert!(!valid("digest", "user:"));
    assert!(!valid("digest", "user"));
    assert!(!valid("digest", "a:b:c"));
    assert!(!valid("digest", ":"));
    assert!(valid("ip", "10.0.0.0/8"));
    assert!(valid("ip", "::1/128"));
    assert!(!valid("ip", "10.0.0.0/x"));
    assert!(!valid("ip", "host.example"));
    assert!(!valid("super", ""));
    assert!(!valid("sasl", "user"));
    assert!(!valid("x509", "CN=a"));
    let disabled = AuthConfig {
        digest_enabled: false,
        ..AuthConfig::default()
    };
    assert!(fixup_with(&disabled, &[acl(perms::ALL, "digest", "u:h")], &[]).is_err());
}

// ServerCnxn.authInfo is a ConcurrentHashMap key set; getAuthInfo lists it in table order.
// Golden orders from Java 17 (Collections.newSetFromMap(new ConcurrentHashMap<>())).
#[test]
fn auth_info_lists_ids_in_java_set_order() {
    let mut info = AuthInfo::new();
    for id in [
        Id::new("ip", "127.0.0.1"),
        Id::new("digest", "user1:abc"),
        Id::new("digest", "user2:def"),
    ] {
        assert!(info.insert(id));
    }
    assert!(!info.insert(Id::new("digest", "user1:abc")));
    assert_eq!(
        info.to_vec(),
        vec![
            Id::new("digest", "user2:def"),
            Id::new("digest", "user1:abc"),
            Id::new("ip", "127.0.0.1")
        ]
    );

    let mut info = AuthInfo::new();
    info.insert(Id::new("ip", "0:0:0:0:0:0:0:1"));
    info.insert(Id::new("super", ""));
    info.insert(Id::new("digest", "super:D/InIHSb7yEEbrWz8b9l71RjZJU="));
    let schemes: Vec<String> = info.to_vec().into_iter().map(|id| id.scheme).collect();
    assert_eq!(schemes, ["super", "digest", "ip"]);
}

// ConcurrentHashMap.transfer: growing past 12 and 24 entries reorders bins as Java does.
#[test]
fn auth_info_order_survives_table_growth_like_java() {
    let mut info = AuthInfo::new();
    info.insert(Id::new("ip", "127.0.0.1"));
    for i in 0..30 {
        info.insert(Id::new("digest", &format!("u{i}:x")));
    }
    let order: Vec<String> = info.to_vec().into_iter().map(|id| id.id).collect();
    let golden = "u3:x,u2:x,u5:x,u4:x,u7:x,u21:x,u6:x,u20:x,u9:x,u8:x,127.0.0.1,u1:x,u0:x,u25:x,\
                  u24:x,u23:x,u22:x,u29:x,u28:x,u27:x,u26:x,u10:x,u19:x,u13:x,u14:x,u11:x,u12:x,\
                  u18:x,u17:x,u15:x,u16:x";
    assert_eq!(order.join(","), golden);
    assert_eq!(info.len(), 31);
}

// ReferenceCountedACLCache.convertAcls: equal lists share a key, keys count from 1, and
// OPEN_ACL_UNSAFE content gets a normal key (-1 is only for the null ACL).
#[test]
fn acl_cache_interns_lists_with_counting_keys() {
    let mut cache = AclCache::new();
    let open = Acl::open_unsafe();
    let read = Acl::read_unsafe();
    assert_eq!(cache.intern(&open), 1);
    assert_eq!(cache.intern(&read), 2);
    assert_eq!(cache.intern(&open), 1);
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.ref_count(1), 2);
    assert_eq!(cache.get(2), read.as_slice());
    assert_eq!(cache.get(AclCache::OPEN_UNSAFE_KEY), open.as_slice());
}

// ReferenceCountedACLCache.removeUsage: the list goes when its count reaches zero and its key
// is never reused; -1 is never counted.
#[test]
fn acl_cache_forgets_unreferenced_lists() {
    let mut cache = AclCache::new();
    let open = Acl::open_unsafe();
    let key = cache.intern(&open);
    cache.release(key);
    assert!(cache.is_empty());
    assert_eq!(cache.intern(&open), 2);
    cache.release(AclCache::OPEN_UNSAFE_KEY);
    cache.release(99);
    assert_eq!(cache.len(), 1);
}

// ReferenceCountedACLCache.deserialize / purgeUnused: loaded entries start unreferenced,
// numbering continues after the largest key, and unused ones are purged.
#[test]
fn acl_cache_loads_snapshot_entries() {
    let mut cache = AclCache::new();
    cache.insert_with_key(7, Acl::open_unsafe());
    cache.insert_with_key(3, Acl::read_unsafe());
    cache.add_usage(7);
    assert_eq!(cache.intern(&Acl::open_unsafe()), 7);
    assert_eq!(cache.ref_count(7), 2);
    assert_eq!(cache.intern(&[acl(perms::ALL, "ip", "10.0.0.1")]), 8);
    let keys: Vec<i64> = cache.entries().iter().map(|&(key, _, _)| key).collect();
    assert_eq!(keys, [3, 7, 8]);
    cache.purge_unused();
    let keys: Vec<(i64, u64)> = cache
        .entries()
        .iter()
        .map(|&(key, _, refs)| (key, refs))
        .collect();
    assert_eq!(keys, [(7, 2), (8, 1)]);
}

// X509AuthenticationProvider: the certificate subject is the id; the configured super user
// also gets `super`; without the provider the scheme is unknown and gives nothing.
#[test]
fn x509_subjects_are_ids_and_the_super_user_is_super() {
    let cfg = AuthConfig {
        x509: true,
        x509_super_user: Some("CN=admin".into()),
        ..AuthConfig::default()
    };
    assert_eq!(
        paddock_core::acl::x509_ids(&cfg, "CN=client1,O=Paddock"),
        vec![Id::new("x509", "CN=client1,O=Paddock")]
    );
    let admin = paddock_core::acl::x509_ids(&cfg, "CN=admin");
    assert!(admin.iter().any(|id| id.scheme == "super"));
    let acl = vec![Acl {
        perms: 1,
        id: Id::new("x509", "CN=someone-else"),
    }];
    assert!(
        paddock_core::acl::check(&cfg, &acl, 1, &admin).is_ok(),
        "super passes every ACL"
    );
    assert!(paddock_core::acl::x509_ids(&AuthConfig::default(), "CN=client1").is_empty());
}
