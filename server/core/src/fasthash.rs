//! The hash maps of the request path, keyed by aHash (randomly seeded per process) instead of
//! the standard library's SipHash: connection ids, session ids and paths are hashed several
//! times per request, and SipHash was a visible share of the server's CPU per write. The
//! iteration order of these maps is never shown to clients (where ZooKeeper's `HashSet` order
//! shows, `javahash` reproduces it).

pub type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;
pub type HashSet<T> = std::collections::HashSet<T, ahash::RandomState>;
