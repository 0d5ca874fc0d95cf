//! What each operation is: a pure function from the operation's index (and a per-session RNG)
//! to the request to send, so the driver stays independent of the workload.

use clap::ValueEnum;
use paddock_jute::proto::{
    CreateRequest, DeleteRequest, MultiOp, PathWatchRequest, Request, SetDataRequest,
};
use paddock_jute::{Acl, CreateMode};
use rand::rngs::SmallRng;
use rand::Rng;

use crate::driver::OpContext;

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
    /// getChildren of a random key, each of which has `--children` children.
    Children,
    /// Pairs of requests on one session: create a persistent znode, then delete it. Each
    /// request counts as one operation.
    CreateDelete,
    /// One multi of `--multi-ops` setData on random keys; each multi counts as one operation.
    Multi,
}

impl Workload {
    /// Whether the workload reads or writes the pre-created keys `root/k<i>`.
    pub fn needs_keys(self) -> bool {
        !matches!(self, Workload::Create | Workload::CreateDelete)
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
    /// setData requests inside each multi.
    pub multi_ops: u32,
    /// Distinguishes this run's create/delete paths from a previous run's leftovers (a run
    /// may stop between a create and its delete).
    pub run_nonce: u32,
}

impl OpSpec {
    pub fn request(&self, ctx: OpContext, rng: &mut SmallRng) -> Request {
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
            Workload::Children => Request::GetChildren(PathWatchRequest {
                path: self.random_key(rng),
                watch: false,
            }),
            Workload::CreateDelete => self.create_delete(ctx),
            Workload::Multi => Request::Multi(
                (0..self.multi_ops.max(1))
                    .map(|_| MultiOp::SetData(self.set_request(rng)))
                    .collect(),
            ),
        }
    }

    /// Even-numbered requests of a session create `root/cd<nonce>-<session>-<n>`, the next one
    /// deletes it; the session's ordering guarantees the create ran first.
    fn create_delete(&self, ctx: OpContext) -> Request {
        let path = format!(
            "{}/cd{}-{}-{}",
            self.root,
            self.run_nonce,
            ctx.session,
            ctx.seq / 2
        );
        if ctx.seq.is_multiple_of(2) {
            create(path, &self.value, CreateMode::Persistent)
        } else {
            Request::Delete(DeleteRequest { path, version: -1 })
        }
    }

    fn get(&self, rng: &mut SmallRng) -> Request {
        Request::GetData(PathWatchRequest {
            path: self.random_key(rng),
            watch: false,
        })
    }

    fn set(&self, rng: &mut SmallRng) -> Request {
        Request::SetData(self.set_request(rng))
    }

    fn set_request(&self, rng: &mut SmallRng) -> SetDataRequest {
        SetDataRequest {
            path: self.random_key(rng),
            data: Some(self.value.clone()),
            version: -1,
        }
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

/// The path of child `c` of key `i`, for the getChildren workload.
pub fn child_path(root: &str, i: u64, c: u64) -> String {
    format!("{root}/k{i}/c{c}")
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

    fn spec(workload: Workload) -> OpSpec {
        OpSpec {
            workload,
            root: "/b".into(),
            keys: 4,
            value: vec![7; 100],
            read_ratio: 0.5,
            multi_ops: 3,
            run_nonce: 9,
        }
    }

    fn ctx(session: u32, seq: u64) -> OpContext {
        OpContext {
            index: seq,
            session,
            seq,
        }
    }

    #[test]
    fn mixed_read_ratio_one_only_reads() {
        let spec = OpSpec {
            read_ratio: 1.0,
            ..spec(Workload::Mixed)
        };
        let mut rng = SmallRng::seed_from_u64(1);
        for seq in 0..100 {
            assert!(matches!(
                spec.request(ctx(0, seq), &mut rng),
                Request::GetData(_)
            ));
        }
    }

    #[test]
    fn mixed_read_ratio_half_sends_both_kinds() {
        let spec = spec(Workload::Mixed);
        let mut rng = SmallRng::seed_from_u64(1);
        let reads = (0..1000)
            .filter(|seq| matches!(spec.request(ctx(0, *seq), &mut rng), Request::GetData(_)))
            .count();
        assert!((400..600).contains(&reads), "{reads} reads of 1000");
    }

    #[test]
    fn create_delete_pairs_a_create_with_the_delete_of_the_same_path() {
        let spec = spec(Workload::CreateDelete);
        let mut rng = SmallRng::seed_from_u64(1);
        let Request::Create(c) = spec.request(ctx(3, 4), &mut rng) else {
            panic!("an even request of a session must be a create");
        };
        let Request::Delete(d) = spec.request(ctx(3, 5), &mut rng) else {
            panic!("an odd request of a session must be a delete");
        };
        assert_eq!(c.path, "/b/cd9-3-2");
        assert_eq!(d.path, c.path);
        // Version -1 matches any version (DataTree.deleteNode via PrepRequestProcessor).
        assert_eq!(d.version, -1);
    }

    #[test]
    fn multi_workload_sends_the_chosen_number_of_set_data() {
        let spec = spec(Workload::Multi);
        let Request::Multi(ops) = spec.request(ctx(0, 0), &mut SmallRng::seed_from_u64(1)) else {
            panic!("not a multi");
        };
        assert_eq!(ops.len(), 3);
        assert!(ops.iter().all(|op| matches!(op, MultiOp::SetData(_))));
    }

    #[test]
    fn children_workload_lists_a_key() {
        let spec = spec(Workload::Children);
        let Request::GetChildren(r) = spec.request(ctx(0, 0), &mut SmallRng::seed_from_u64(1))
        else {
            panic!("not a getChildren");
        };
        assert!(r.path.starts_with("/b/k"));
        assert!(!r.watch);
    }

    #[test]
    fn create_workload_asks_for_sequential_znodes() {
        let spec = spec(Workload::Create);
        let Request::Create(c) = spec.request(ctx(0, 0), &mut SmallRng::seed_from_u64(1)) else {
            panic!("not a create");
        };
        // ZooKeeper appends the counter to the given path (PrepRequestProcessor.pRequest2Txn).
        assert_eq!(c.path, "/b/s-");
        assert_eq!(c.flags, CreateMode::PersistentSequential as i32);
        assert_eq!(c.data.map(|d| d.len()), Some(100));
    }
}
