//! What each operation is: a pure function from the operation's index (and a per-session RNG)
//! to the request to send, so the driver stays independent of the workload.

use clap::ValueEnum;
use paddock_jute::proto::{CreateRequest, PathWatchRequest, Request, SetDataRequest};
use paddock_jute::{Acl, CreateMode};
use rand::rngs::SmallRng;
use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// getData of a random key.
    Get,
    /// exists of a random key.
    Exists,
    /// setData (version -1) of a random key.
    Set,
    /// create of a persistent sequential znode under the root.
    Create,
    /// getData or setData of a random key, with `--read-ratio` reads.
    Mixed,
}

impl Workload {
    /// Whether the workload reads or writes the pre-created keys `root/k<i>`.
    pub fn needs_keys(self) -> bool {
        !matches!(self, Workload::Create)
    }
}

/// Everything an operation generator needs; cloned into every session.
#[derive(Debug, Clone)]
pub struct OpSpec {
    pub workload: Workload,
    pub root: String,
    pub keys: u64,
    pub value: Vec<u8>,
    pub read_ratio: f64,
}

impl OpSpec {
    pub fn request(&self, rng: &mut SmallRng) -> Request {
        match self.workload {
            Workload::Get => self.get(rng),
            Workload::Exists => Request::Exists(PathWatchRequest {
                path: self.random_key(rng),
                watch: false,
            }),
            Workload::Set => self.set(rng),
            Workload::Create => create(
                format!("{}/s-", self.root),
                &self.value,
                CreateMode::PersistentSequential,
            ),
            Workload::Mixed => {
                if rng.gen_bool(self.read_ratio.clamp(0.0, 1.0)) {
                    self.get(rng)
                } else {
                    self.set(rng)
                }
            }
        }
    }

    fn get(&self, rng: &mut SmallRng) -> Request {
        Request::GetData(PathWatchRequest {
            path: self.random_key(rng),
            watch: false,
        })
    }

    fn set(&self, rng: &mut SmallRng) -> Request {
        Request::SetData(SetDataRequest {
            path: self.random_key(rng),
            data: Some(self.value.clone()),
            version: -1,
        })
    }

    fn random_key(&self, rng: &mut SmallRng) -> String {
        key_path(&self.root, rng.gen_range(0..self.keys.max(1)))
    }
}

/// The path of key `i` of a workload's key space.
pub fn key_path(root: &str, i: u64) -> String {
    format!("{root}/k{i}")
}

/// The path of znode `i` of a populated tree: spread round-robin over `parents` parents so no
/// single parent holds a million children.
pub fn populate_path(root: &str, parents: u64, i: u64) -> String {
    format!("{root}/p{}/n{i}", i % parents.max(1))
}

pub fn populate_parent(root: &str, p: u64) -> String {
    format!("{root}/p{p}")
}

/// A create with `OPEN_ACL_UNSAFE`.
pub fn create(path: String, value: &[u8], mode: CreateMode) -> Request {
    Request::Create(CreateRequest {
        path,
        data: Some(value.to_vec()),
        acl: Acl::open_unsafe(),
        flags: mode as i32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn populate_paths_are_unique_and_spread_over_parents() {
        assert_eq!(populate_path("/pop", 10, 0), "/pop/p0/n0");
        assert_eq!(populate_path("/pop", 10, 13), "/pop/p3/n13");
        assert_eq!(populate_path("/pop", 0, 5), "/pop/p0/n5");
    }

    #[test]
    fn mixed_read_ratio_one_only_reads() {
        let spec = OpSpec {
            workload: Workload::Mixed,
            root: "/b".into(),
            keys: 4,
            value: vec![0; 3],
            read_ratio: 1.0,
        };
        let mut rng = SmallRng::seed_from_u64(1);
        for _ in 0..100 {
            assert!(matches!(spec.request(&mut rng), Request::GetData(_)));
        }
    }

    #[test]
    fn create_workload_asks_for_sequential_znodes() {
        let spec = OpSpec {
            workload: Workload::Create,
            root: "/b".into(),
            keys: 0,
            value: vec![7; 100],
            read_ratio: 0.0,
        };
        let Request::Create(c) = spec.request(&mut SmallRng::seed_from_u64(1)) else {
            panic!("not a create");
        };
        // ZooKeeper appends the counter to the given path (PrepRequestProcessor.pRequest2Txn).
        assert_eq!(c.path, "/b/s-");
        assert_eq!(c.flags, CreateMode::PersistentSequential as i32);
        assert_eq!(c.data.map(|d| d.len()), Some(100));
    }
}
