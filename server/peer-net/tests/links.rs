//! The links between members over real loopback sockets: delivery in order, refusal of
//! strangers, reconnection after a member restarts, and the bounds on queues and frames.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use paddock_peer_net::{Direction, Event, Net, NetConfig, NetError, Peer, SendError};
use paddock_testkit::free_addr;
use tokio::sync::mpsc;
use tokio::time::timeout;

const DEADLINE: Duration = Duration::from_secs(20);

fn config(my_id: u64, members: &[(u64, SocketAddr)]) -> NetConfig {
    let listen = members
        .iter()
        .find(|(id, _)| *id == my_id)
        .expect("member")
        .1;
    let peers = members
        .iter()
        .filter(|(id, _)| *id != my_id)
        .map(|&(id, addr)| Peer { id, addr })
        .collect();
    let mut cfg = NetConfig::new(my_id, listen, peers);
    cfg.retry_min_ms = 10;
    cfg.retry_max_ms = 100;
    cfg
}

/// `net` (member `from`) sends `payload` to member `to`, whose events are `to_events`; it
/// arrives there.
async fn deliver(
    net: &Net,
    from: u64,
    to: u64,
    to_events: &mut mpsc::Receiver<Event>,
    payload: &'static [u8],
) {
    net.send(to, Bytes::from_static(payload)).expect("queued");
    assert_eq!(
        next_frame(to_events).await,
        (from, Bytes::from_static(payload))
    );
}

/// The next frame in the inbox, skipping link events; fails the test at the deadline.
async fn next_frame(events: &mut mpsc::Receiver<Event>) -> (u64, Bytes) {
    timeout(DEADLINE, async {
        loop {
            match events.recv().await.expect("inbox open") {
                Event::Frame { from, frame } => return (from, frame),
                _ => continue,
            }
        }
    })
    .await
    .expect("a frame before the deadline")
}

async fn wait_for(events: &mut mpsc::Receiver<Event>, wanted: &Event) {
    timeout(DEADLINE, async {
        while events.recv().await.expect("inbox open") != *wanted {}
    })
    .await
    .unwrap_or_else(|_| panic!("no {wanted:?} before the deadline"));
}

/// Member 2 broke the stream from member 1 (its inbound side goes down); member 1 sees its
/// link go down and come back, and a frame sent after that arrives. Frames handed to the
/// broken stream are lost, so nothing is sent before the link is up again.
async fn link_from_one_to_two_recovers(
    one: &Net,
    one_events: &mut mpsc::Receiver<Event>,
    two_events: &mut mpsc::Receiver<Event>,
) {
    let inbound_down = Event::Down {
        peer: 1,
        direction: Direction::Inbound,
    };
    wait_for(two_events, &inbound_down).await;
    let outbound = |up| match up {
        true => Event::Up {
            peer: 2,
            direction: Direction::Outbound,
        },
        false => Event::Down {
            peer: 2,
            direction: Direction::Outbound,
        },
    };
    wait_for(one_events, &outbound(false)).await;
    wait_for(one_events, &outbound(true)).await;
    deliver(one, 1, 2, two_events, b"small").await;
}

#[tokio::test]
async fn three_members_exchange_frames_in_order() {
    let members: Vec<_> = (1..=3).map(|id| (id, free_addr())).collect();
    let mut nets = Vec::new();
    let mut inboxes = Vec::new();
    for &(id, _) in &members {
        let (net, events) = Net::start(config(id, &members)).await.expect("start");
        nets.push(net);
        inboxes.push(events);
    }
    // Send more frames than the hand-off channel holds, to every peer, from every member.
    for net in &nets {
        for &(to, _) in &members {
            if to == net.my_id() {
                continue;
            }
            for i in 0..500u32 {
                let frame = Bytes::from(format!("{}->{to}:{i}", net.my_id()));
                net.send(to, frame).expect("queued");
            }
        }
    }
    for (index, events) in inboxes.iter_mut().enumerate() {
        let me = index as u64 + 1;
        let mut next_seq = std::collections::HashMap::new();
        for _ in 0..1000 {
            let (from, frame) = next_frame(events).await;
            let seq = next_seq.entry(from).or_insert(0u32);
            assert_eq!(frame, Bytes::from(format!("{from}->{me}:{seq}")));
            *seq += 1;
        }
        assert_eq!(next_seq.len(), 2, "frames from both peers");
    }
}

#[tokio::test]
async fn a_server_id_outside_the_ensemble_is_refused() {
    let a = free_addr();
    let b = free_addr();
    let stranger = free_addr();
    // Member 1 knows only member 2; server 9 believes member 1 is its peer.
    let (one, mut one_events) = Net::start(config(1, &[(1, a), (2, b)]))
        .await
        .expect("start");
    let (nine, mut nine_events) = Net::start(config(9, &[(9, stranger), (1, a)]))
        .await
        .expect("start");
    nine.send(1, Bytes::from_static(b"hello")).expect("queued");
    let down = Event::Down {
        peer: 1,
        direction: Direction::Outbound,
    };
    wait_for(&mut nine_events, &down).await;
    while let Ok(event) = one_events.try_recv() {
        let from_stranger = matches!(
            event,
            Event::Frame { from: 9, .. } | Event::Up { peer: 9, .. }
        );
        assert!(!from_stranger, "member 1 accepted {event:?}");
    }
    drop(one);
}

#[tokio::test]
async fn a_restarted_member_is_reconnected() {
    let members = [(1, free_addr()), (2, free_addr())];
    let (one, mut one_events) = Net::start(config(1, &members)).await.expect("start");
    let (two, mut two_events) = Net::start(config(2, &members)).await.expect("start");
    deliver(&one, 1, 2, &mut two_events, b"first").await;

    drop(two);
    drop(two_events);
    let down = Event::Down {
        peer: 2,
        direction: Direction::Outbound,
    };
    wait_for(&mut one_events, &down).await;

    let (two, mut two_events) = Net::start(config(2, &members)).await.expect("restart");
    let up = Event::Up {
        peer: 2,
        direction: Direction::Outbound,
    };
    wait_for(&mut one_events, &up).await;
    deliver(&one, 1, 2, &mut two_events, b"again").await;
    deliver(&two, 2, 1, &mut one_events, b"back").await;
}

#[tokio::test]
async fn a_full_send_queue_refuses_frames_and_counts_them() {
    // Member 2 is never started, so nothing drains the queue to it.
    let members = [(1, free_addr()), (2, free_addr())];
    let mut cfg = config(1, &members);
    cfg.send_queue_frames = 4;
    let (one, _events) = Net::start(cfg).await.expect("start");
    let mut refused = 0;
    for _ in 0..32 {
        if one.send(2, Bytes::from_static(b"x")) == Err(SendError::QueueFull(2)) {
            refused += 1;
        }
    }
    // At most the queue plus the frames the link task took before its first connect failed.
    assert!(refused >= 32 - 4 - 2, "only {refused} refused");
    let stats = one.stats(2).expect("stats");
    assert_eq!(
        stats
            .frames_dropped
            .load(std::sync::atomic::Ordering::Relaxed),
        refused
    );
    assert_eq!(one.send(7, Bytes::new()), Err(SendError::UnknownPeer(7)));
}

#[tokio::test]
async fn an_oversized_frame_breaks_the_link_and_later_frames_still_arrive() {
    let members = [(1, free_addr()), (2, free_addr())];
    let mut cfg_one = config(1, &members);
    cfg_one.max_piece_bytes = 1 << 20;
    let mut cfg_two = config(2, &members);
    cfg_two.max_piece_bytes = 1024;
    let (one, mut one_events) = Net::start(cfg_one).await.expect("start");
    let (_two, mut two_events) = Net::start(cfg_two).await.expect("start");
    one.send(2, Bytes::from(vec![7u8; 4096])).expect("queued");
    link_from_one_to_two_recovers(&one, &mut one_events, &mut two_events).await;
}

/// A frame longer than the largest link message (a SNAP of a big tree is) travels in pieces
/// and arrives whole, in order with the frames around it.
#[tokio::test]
async fn a_frame_longer_than_a_message_arrives_whole_and_in_order() {
    let members = [(1, free_addr()), (2, free_addr())];
    let mut cfg_one = config(1, &members);
    cfg_one.max_piece_bytes = 1000;
    let mut cfg_two = config(2, &members);
    cfg_two.max_piece_bytes = 1000;
    let (one, _one_events) = Net::start(cfg_one).await.expect("start");
    let (_two, mut two_events) = Net::start(cfg_two).await.expect("start");
    let big = Bytes::from((0..=255u8).cycle().take(10_500).collect::<Vec<u8>>());
    let head = big.slice(..1_500);
    one.send(2, Bytes::from_static(b"before")).expect("queued");
    one.send(2, big.clone()).expect("queued");
    // A frame sent in two parts (a SNAP behind its header), each longer than a piece, and
    // one whose second part is empty: each arrives as one frame.
    one.send_split(2, head.clone(), big.clone())
        .expect("queued");
    one.send_split(2, Bytes::from_static(b"head"), Bytes::new())
        .expect("queued");
    one.send(2, Bytes::from_static(b"after")).expect("queued");
    let first = next_frame(&mut two_events).await;
    assert_eq!(first, (1, Bytes::from_static(b"before")));
    assert_eq!(next_frame(&mut two_events).await, (1, big.clone()));
    let joined = Bytes::from([head, big].concat());
    assert_eq!(next_frame(&mut two_events).await, (1, joined));
    assert_eq!(
        next_frame(&mut two_events).await,
        (1, Bytes::from_static(b"head"))
    );
    let last = next_frame(&mut two_events).await;
    assert_eq!(last, (1, Bytes::from_static(b"after")));
}

/// Frames have a bound as a whole: the sender refuses one over its own, and a receiver
/// with a smaller bound breaks the link rather than collect pieces without end.
#[tokio::test]
async fn a_frame_over_the_frame_bound_is_refused() {
    let members = [(1, free_addr()), (2, free_addr())];
    let mut cfg_one = config(1, &members);
    cfg_one.max_piece_bytes = 100;
    cfg_one.max_frame_bytes = 10_000;
    let mut cfg_two = config(2, &members);
    cfg_two.max_frame_bytes = 1_000;
    let (one, mut one_events) = Net::start(cfg_one).await.expect("start");
    let (_two, mut two_events) = Net::start(cfg_two).await.expect("start");
    let refused = one.send(2, Bytes::from(vec![1u8; 10_001]));
    assert_eq!(
        refused,
        Err(SendError::TooLarge {
            bytes: 10_001,
            max_bytes: 10_000
        })
    );
    let refused = one.send_split(
        2,
        Bytes::from(vec![1u8; 5_001]),
        Bytes::from(vec![1u8; 5_000]),
    );
    assert_eq!(
        refused,
        Err(SendError::TooLarge {
            bytes: 10_001,
            max_bytes: 10_000
        }),
        "the bound is on both parts together"
    );
    deliver(&one, 1, 2, &mut two_events, b"fits").await;
    one.send(2, Bytes::from(vec![2u8; 5_000])).expect("queued");
    link_from_one_to_two_recovers(&one, &mut one_events, &mut two_events).await;
}

#[tokio::test]
async fn bad_peer_lists_are_refused() {
    let a = free_addr();
    let self_peer = NetConfig::new(1, a, vec![Peer { id: 1, addr: a }]);
    assert!(matches!(
        Net::start(self_peer).await,
        Err(NetError::SelfAsPeer(1))
    ));
    let b = free_addr();
    let twice = NetConfig::new(1, a, vec![Peer { id: 2, addr: b }, Peer { id: 2, addr: b }]);
    assert!(matches!(
        Net::start(twice).await,
        Err(NetError::DuplicatePeer(2))
    ));
}

/// A CA and one certificate for 127.0.0.1 that every member uses (as `sslQuorum` setups
/// often do), as PEM.
fn tls_material() -> paddock_peer_net::NetTls {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    paddock_peer_net::NetTls {
        cert_pem: cert.pem().into_bytes(),
        key_pem: key.serialize_pem().into_bytes(),
        ca_pem: ca_cert.pem().into_bytes(),
    }
}

// sslQuorum: members with TLS material exchange frames over mutual TLS; a member that
// speaks plain TCP to them never gets a frame through.
#[tokio::test]
async fn tls_links_deliver_and_plain_peers_cannot_join_them() {
    let members: Vec<_> = (1..=3).map(|id| (id, free_addr())).collect();
    let tls = tls_material();
    let with_tls = |id| {
        let mut cfg = config(id, &members);
        cfg.tls = Some(std::sync::Arc::new(tls.clone()));
        cfg
    };
    let (one, mut one_events) = Net::start(with_tls(1)).await.expect("start 1");
    let (two, mut two_events) = Net::start(with_tls(2)).await.expect("start 2");
    // Member 3 forgot sslQuorum.
    let (three, _three_events) = Net::start(config(3, &members)).await.expect("start 3");
    deliver(&one, 1, 2, &mut two_events, b"over tls").await;
    deliver(&two, 2, 1, &mut one_events, b"back").await;
    for _ in 0..5 {
        let _ = three.send(1, Bytes::from_static(b"plain"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    while let Ok(event) = one_events.try_recv() {
        assert!(
            !matches!(event, Event::Frame { from: 3, .. }),
            "a plain-TCP member got a frame through to a TLS one"
        );
    }
}

/// Material that can be swapped while the member runs (the host reloading its files).
struct Swappable(std::sync::Mutex<paddock_peer_net::NetTls>);

impl paddock_peer_net::TlsSource for Swappable {
    fn current(&self) -> paddock_peer_net::NetTls {
        self.0.lock().unwrap().clone()
    }
}

// Certificate reload: a member whose material changes uses the new one for its next
// connections, without a restart. Member 2 comes back with a new CA and certificate; member
// 1 reaches it only once its own source has the new material too.
#[tokio::test]
async fn new_links_use_reloaded_tls_material() {
    let members: Vec<_> = (1..=2).map(|id| (id, free_addr())).collect();
    let old = tls_material();
    let new = tls_material();
    let source = std::sync::Arc::new(Swappable(std::sync::Mutex::new(old.clone())));
    let mut one_cfg = config(1, &members);
    one_cfg.tls = Some(source.clone());
    let (one, _one_events) = Net::start(one_cfg).await.expect("start 1");
    let mut two_cfg = config(2, &members);
    two_cfg.tls = Some(std::sync::Arc::new(old.clone()));
    let (two, mut two_events) = Net::start(two_cfg).await.expect("start 2");
    deliver(&one, 1, 2, &mut two_events, b"old").await;
    drop(two);
    drop(two_events);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Member 2 restarts on the new CA: member 1's old material no longer gets through.
    let mut two_cfg = config(2, &members);
    two_cfg.tls = Some(std::sync::Arc::new(new.clone()));
    let (_two, mut two_events) = Net::start(two_cfg).await.expect("restart 2");
    for _ in 0..5 {
        let _ = one.send(2, Bytes::from_static(b"stale"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every queued event, not just the first: a frame behind an Up or Down would count.
    while let Ok(event) = two_events.try_recv() {
        assert!(
            !matches!(event, Event::Frame { .. }),
            "a link with the old CA got through"
        );
    }
    // Member 1 reloads: its next connection attempt carries the new material.
    *source.0.lock().unwrap() = new;
    loop {
        let _ = one.send(2, Bytes::from_static(b"new"));
        let (from, frame) = next_frame(&mut two_events).await;
        if frame == Bytes::from_static(b"new") {
            assert_eq!(from, 1);
            break;
        }
    }
}

/// `count` frames of `len` bytes queued for member 2 before it starts, then delivered; returns
/// the messages member 1 sent them in.
async fn queued_before_connect(count: u32, len: usize, max_piece_bytes: usize) -> u64 {
    let members = [(1, free_addr()), (2, free_addr())];
    let mut cfg_one = config(1, &members);
    cfg_one.max_piece_bytes = max_piece_bytes;
    let (one, _one_events) = Net::start(cfg_one).await.expect("start");
    let frame = |i: u32| {
        let mut bytes = vec![(i % 251) as u8; len];
        bytes[..4].copy_from_slice(&i.to_be_bytes());
        Bytes::from(bytes)
    };
    for i in 0..count {
        one.send(2, frame(i)).expect("queued");
    }
    let (_two, mut two_events) = Net::start(config(2, &members)).await.expect("start");
    for i in 0..count {
        assert_eq!(
            next_frame(&mut two_events).await,
            (1, frame(i)),
            "frame {i}"
        );
    }
    let stats = one.stats(2).expect("stats");
    let sent = |n: &std::sync::atomic::AtomicU64| n.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(sent(&stats.frames_sent), u64::from(count));
    sent(&stats.messages_sent)
}

/// Short frames waiting together go as one message, each arriving whole and in order.
#[tokio::test]
async fn queued_short_frames_go_together_as_one_message() {
    assert_eq!(queued_before_connect(300, 40, 4 << 20).await, 1);
}

/// A batch stays within the largest message: 100 frames of 1,000 bytes (1,004 with their
/// length) in messages of at most 10,000 bytes go nine to a message.
#[tokio::test]
async fn batches_stay_within_the_largest_message() {
    assert_eq!(queued_before_connect(100, 1_000, 10_000).await, 12);
}
