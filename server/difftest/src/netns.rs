//! Network namespaces for ensemble tests: each member gets a namespace of its own, every pair of
//! members a veth link, and the test process (in the root namespace) a veth link to each
//! member, so a test can cut any link, in one direction or both, while clients keep reaching
//! the members.
//!
//! Member `i` answers on `10.77.<k>.<i>` (an address on its loopback device), where `k` is
//! the topology's slot, so topologies of tests running side by side never share an address.
//! Routes say which link reaches which member; a cut replaces a route with a blackhole route,
//! which drops packets silently the way a broken network does (no reset, no ICMP error), and
//! healing puts the route back. Creating namespaces needs root (CAP_NET_ADMIN).

use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The largest number of members: interface names must fit Linux's 15 characters.
pub const MAX_MEMBERS: u8 = 9;
/// Slots `k` that topologies use; one slot per live topology on this machine.
const SLOTS: u8 = 200;

/// A set of member namespaces and their links. Dropping it deletes them all.
#[derive(Debug)]
pub struct Topology {
    slot: u8,
    members: u8,
}

impl Topology {
    /// Whether this process may create namespaces (it runs as root and `ip` works).
    pub fn available() -> bool {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        root && Command::new("ip").arg("-V").output().is_ok()
    }

    /// Creates members `1..=members`, fully linked to each other and to the root namespace.
    pub fn create(members: u8) -> Result<Topology> {
        if !(1..=MAX_MEMBERS).contains(&members) {
            bail!("a topology has 1 to {MAX_MEMBERS} members, not {members}");
        }
        let slot = claim_slot()?;
        // From here on, Drop cleans up whatever was created.
        let topology = Topology { slot, members };
        topology.build().context("build network namespaces")?;
        Ok(topology)
    }

    /// The namespace of member `i`.
    pub fn namespace(&self, i: u8) -> String {
        namespace(self.slot, i)
    }

    /// The address member `i` listens on.
    pub fn addr(&self, i: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.slot, i)
    }

    /// A command that runs `program` inside member `i`'s namespace.
    pub fn command(&self, i: u8, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.namespace(i), program]);
        cmd
    }

    /// Drops everything member `from` sends to member `to`; `to` may still reach `from`.
    pub fn cut_one_way(&self, from: u8, to: u8) -> Result<()> {
        self.route(from, to, false)
    }

    /// Cuts the link between `a` and `b` in both directions.
    pub fn cut(&self, a: u8, b: u8) -> Result<()> {
        self.route(a, b, false)?;
        self.route(b, a, false)
    }

    /// Restores the link between `a` and `b` in both directions.
    pub fn heal(&self, a: u8, b: u8) -> Result<()> {
        self.route(a, b, true)?;
        self.route(b, a, true)
    }

    /// Cuts member `i` from every other member (clients still reach it).
    pub fn isolate(&self, i: u8) -> Result<()> {
        for j in self.others(i) {
            self.cut(i, j)?;
        }
        Ok(())
    }

    /// Restores every link of member `i`.
    pub fn rejoin(&self, i: u8) -> Result<()> {
        for j in self.others(i) {
            self.heal(i, j)?;
        }
        Ok(())
    }

    fn others(&self, i: u8) -> impl Iterator<Item = u8> {
        (1..=self.members).filter(move |&j| j != i)
    }

    fn build(&self) -> Result<()> {
        let k = self.slot;
        // The root side needs the source address it puts on its packets.
        ip(&[
            "addr",
            "add",
            &format!("{}/32", self.root_addr()),
            "dev",
            "lo",
        ])?;
        for i in 1..=self.members {
            let ns = self.namespace(i);
            if i > 1 {
                ip(&["netns", "add", &ns])?;
            }
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/32", self.addr(i)),
                "dev",
                "lo",
            ])?;
            // The link to the root namespace, where the test and its clients run.
            let (outer, inner) = (format!("pk{k}r{i}"), format!("pk{k}r{i}n"));
            // A previous topology of this slot may still be going away (namespaces are
            // destroyed asynchronously); its veth would clash with this one.
            let _ = ip(&["link", "del", &outer]);
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ])?;
            ip(&["link", "set", &inner, "netns", &ns])?;
            ip(&["link", "set", &outer, "up"])?;
            ip(&["-n", &ns, "link", "set", &inner, "up"])?;
            let root = self.root_addr().to_string();
            ip(&[
                "route",
                "replace",
                &format!("{}/32", self.addr(i)),
                "dev",
                &outer,
                "src",
                &root,
            ])?;
            let (dst, src) = (format!("{root}/32"), self.addr(i).to_string());
            ip(&[
                "-n", &ns, "route", "replace", &dst, "dev", &inner, "src", &src,
            ])?;
        }
        for a in 1..=self.members {
            for b in a + 1..=self.members {
                let (end_a, end_b) = (link_name(k, a, b, 'a'), link_name(k, a, b, 'b'));
                ip(&[
                    "link", "add", &end_a, "type", "veth", "peer", "name", &end_b,
                ])?;
                ip(&["link", "set", &end_a, "netns", &self.namespace(a)])?;
                ip(&["link", "set", &end_b, "netns", &self.namespace(b)])?;
                ip(&["-n", &self.namespace(a), "link", "set", &end_a, "up"])?;
                ip(&["-n", &self.namespace(b), "link", "set", &end_b, "up"])?;
                self.heal(a, b)?;
            }
        }
        Ok(())
    }

    /// The address the root namespace uses towards the members.
    fn root_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.slot, 254)
    }

    /// Points `from`'s route to `to` at their link (`open`) or at a blackhole.
    fn route(&self, from: u8, to: u8, open: bool) -> Result<()> {
        let ns = self.namespace(from);
        let dst = format!("{}/32", self.addr(to));
        if !open {
            return ip(&["-n", &ns, "route", "replace", "blackhole", &dst]);
        }
        let (lo, hi) = (from.min(to), from.max(to));
        let dev = link_name(self.slot, lo, hi, if from == lo { 'a' } else { 'b' });
        let src = self.addr(from).to_string();
        ip(&[
            "-n", &ns, "route", "replace", &dst, "dev", &dev, "src", &src,
        ])
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veths in it, and with them their peers.
        let _ = ip(&[
            "addr",
            "del",
            &format!("{}/32", self.root_addr()),
            "dev",
            "lo",
        ]);
        for i in (1..=self.members).rev() {
            // Deleting the root end synchronously frees its name for the next topology of
            // this slot; the namespace's own cleanup runs later in the kernel.
            let _ = ip(&["link", "del", &format!("pk{}r{i}", self.slot)]);
            let _ = ip(&["netns", "del", &self.namespace(i)]);
        }
    }
}

fn namespace(slot: u8, i: u8) -> String {
    format!("paddock-{slot}-{i}")
}

fn link_name(slot: u8, a: u8, b: u8, end: char) -> String {
    format!("pk{slot}m{a}{b}{end}")
}

/// Takes the first free slot by creating its first namespace: `ip netns add` fails when the
/// name exists, so two test processes never take the same slot.
fn claim_slot() -> Result<u8> {
    for slot in 0..SLOTS {
        let taken = Command::new("ip")
            .args(["netns", "add", &namespace(slot, 1)])
            .output()
            .context("run ip netns add")?;
        if taken.status.success() {
            return Ok(slot);
        }
    }
    bail!("all {SLOTS} namespace slots are in use (stale paddock-* namespaces? `ip netns list`)")
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip").args(args).output().context("run ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::process::{Child, Stdio};
    use std::time::Duration;

    /// A one-shot TCP echo server in member `i`'s namespace, written in Python so that it
    /// needs nothing built.
    fn echo_server(t: &Topology, i: u8, port: u16) -> Child {
        let script = format!(
            "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             s.bind(('{}',{port}))\ns.listen(8)\nprint('ready',flush=True)\n\
             while True:\n c,_=s.accept()\n c.sendall(c.recv(64))\n c.close()\n",
            t.addr(i)
        );
        let mut child = t
            .command(i, "python3")
            .args(["-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn echo server");
        let mut ready = [0u8; 5];
        child
            .stdout
            .as_mut()
            .expect("stdout")
            .read_exact(&mut ready)
            .expect("echo server ready");
        child
    }

    /// Whether member `from` reaches member `to`'s echo server within a short timeout.
    fn reaches(t: &Topology, from: u8, to: u8, port: u16) -> bool {
        let script = format!(
            "import socket,sys\ntry:\n c=socket.create_connection(('{}',{port}),timeout=1)\n \
             c.sendall(b'hi')\n sys.exit(0 if c.recv(2)==b'hi' else 1)\nexcept OSError:\n sys.exit(1)\n",
            t.addr(to)
        );
        t.command(from, "python3")
            .args(["-c", &script])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    fn root_reaches(t: &Topology, i: u8, port: u16) -> bool {
        let addr = SocketAddr::from((t.addr(i), port));
        let Ok(mut c) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
            return false;
        };
        let mut buf = [0u8; 2];
        c.write_all(b"hi").is_ok() && c.read_exact(&mut buf).is_ok() && &buf == b"hi"
    }

    // Needs root; skipped (with a message) elsewhere, required when PADDOCK_REQUIRED=1.
    #[test]
    fn links_can_be_cut_one_way_both_ways_and_healed() {
        if !Topology::available() {
            assert!(
                std::env::var_os("PADDOCK_REQUIRED").is_none(),
                "network namespaces need root"
            );
            eprintln!("skipped: network namespaces need root");
            return;
        }
        let t = Topology::create(3).expect("topology");
        let port = 7777;
        let mut servers: Vec<Child> = (1..=3).map(|i| echo_server(&t, i, port)).collect();
        assert!(reaches(&t, 1, 2, port) && reaches(&t, 2, 1, port) && reaches(&t, 3, 1, port));
        assert!((1..=3).all(|i| root_reaches(&t, i, port)));

        // A TCP connect needs both directions, so a one-way cut fails it from either side.
        t.cut_one_way(1, 2).expect("cut");
        assert!(!reaches(&t, 1, 2, port) && !reaches(&t, 2, 1, port));
        assert!(reaches(&t, 1, 3, port) && reaches(&t, 2, 3, port));

        t.heal(1, 2).expect("heal");
        assert!(reaches(&t, 1, 2, port));

        t.isolate(3).expect("isolate");
        assert!(!reaches(&t, 1, 3, port) && !reaches(&t, 3, 2, port));
        assert!(reaches(&t, 1, 2, port) && root_reaches(&t, 3, port));
        t.rejoin(3).expect("rejoin");
        assert!(reaches(&t, 3, 1, port) && reaches(&t, 2, 3, port));

        for s in &mut servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}
