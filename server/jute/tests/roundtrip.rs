//! Round trips: every record, request, response and transaction decodes to what was encoded,
//! and consumes exactly the bytes written (jute has no padding or optional fields apart from
//! the trailing `readOnly` byte of the connect records).

mod common;

use common::*;
use paddock_jute::proto::*;
use paddock_jute::txn::*;
use paddock_jute::{OpCode, Reader, Record, Writer};
use proptest::prelude::*;

fn assert_round_trip<T: Record + PartialEq + std::fmt::Debug>(value: T) {
    let bytes = value.to_bytes();
    assert_eq!(T::from_bytes(&bytes).unwrap(), value);
}

/// Declares one proptest per record type, each round-tripping values from a strategy.
macro_rules! round_trips {
    ($($name:ident: $strategy:expr;)*) => {
        proptest! {
            $(
                #[test]
                fn $name(value in $strategy) {
                    assert_round_trip(value);
                }
            )*
        }
    };
}

round_trips! {
    id_round_trips: id();
    acl_round_trips: acl();
    stat_round_trips: stat();
    stat_persisted_round_trips: stat_persisted();
    client_info_round_trips: client_info();
    connect_request_round_trips: connect_request();
    connect_response_round_trips: connect_response();
    request_header_round_trips: (any::<i32>(), any::<i32>())
        .prop_map(|(xid, op_type)| RequestHeader { xid, op_type });
    reply_header_round_trips: (any::<i32>(), any::<i64>(), any::<i32>())
        .prop_map(|(xid, zxid, err)| ReplyHeader { xid, zxid, err });
    multi_header_round_trips: (any::<i32>(), any::<bool>(), any::<i32>())
        .prop_map(|(op_type, done, err)| MultiHeader { op_type, done, err });
    auth_packet_round_trips: auth_packet();
    set_watches_round_trips: set_watches();
    set_watches2_round_trips: set_watches2();
    watcher_event_round_trips: watcher_event();
    error_response_round_trips: any::<i32>().prop_map(|err| ErrorResponse { err });
    create_request_round_trips: create_request();
    create_ttl_request_round_trips: create_ttl_request();
    delete_request_round_trips: delete_request();
    path_request_round_trips: path_request();
    path_watch_request_round_trips: path_watch();
    set_data_request_round_trips: set_data_request();
    set_acl_request_round_trips: set_acl_request();
    check_version_request_round_trips: check_request();
    add_watch_request_round_trips: add_watch_request();
    watches_request_round_trips: watches_request();
    reconfig_request_round_trips: reconfig_request();
    get_sasl_request_round_trips: bytes().prop_map(|token| GetSaslRequest { token });
    txn_header_round_trips: (any::<i64>(), any::<i32>(), any::<i64>(), any::<i64>(), any::<i32>())
        .prop_map(|(client_id, cxid, zxid, time, txn_type)| TxnHeader { client_id, cxid, zxid, time, txn_type });
    txn_digest_round_trips: (any::<i32>(), any::<i64>())
        .prop_map(|(version, tree_digest)| TxnDigest { version, tree_digest });
    create_txn_round_trips: create_txn();
    txn_entry_round_trips: (any::<i32>(), bytes()).prop_map(|(txn_type, data)| TxnEntry { txn_type, data });
    close_session_txn_round_trips: strings().prop_map(|paths2_delete| CloseSessionTxn { paths2_delete });
}

proptest! {
    /// Request::write then Request::decode with the request's own opcode gives it back, and
    /// the body is consumed exactly.
    #[test]
    fn request_round_trips(req in request()) {
        let mut w = Writer::new();
        req.write(&mut w);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(Request::decode(req.op_code(), &mut r).unwrap(), req);
        prop_assert_eq!(r.remaining(), 0);
    }

    /// A client frame is length + RequestHeader + body.
    #[test]
    fn request_frame_carries_header_and_body(req in request(), xid in any::<i32>()) {
        let frame = req.encode_frame(xid);
        let n = paddock_jute::frame_len(&frame, u32::MAX).unwrap().unwrap();
        prop_assert_eq!(n + 4, frame.len());
        let mut r = Reader::new(&frame[4..]);
        let hdr = RequestHeader::read(&mut r).unwrap();
        prop_assert_eq!(hdr, RequestHeader { xid, op_type: req.op_code() as i32 });
        let op = OpCode::try_from(hdr.op_type).unwrap();
        prop_assert_eq!(Request::decode(op, &mut r).unwrap(), req);
    }

    /// Response::write then Response::read_for with a matching opcode gives it back.
    #[test]
    fn response_round_trips((op, resp) in response_for_op()) {
        let mut w = Writer::new();
        resp.write(&mut w);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        // The length a reply's buffer is sized by is the length written.
        prop_assert_eq!(resp.encoded_len(), bytes.len());
        prop_assert_eq!(Response::read_for(op, &mut r).unwrap(), resp);
        prop_assert_eq!(r.remaining(), 0);
    }

    /// Txn::write_body then Txn::read_body with the txn's own type gives it back.
    #[test]
    fn txn_round_trips(txn in txn()) {
        let mut w = Writer::new();
        txn.write_body(&mut w);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(txn.body_len(), bytes.len());
        prop_assert_eq!(Txn::read_body(txn.txn_type(), &mut r).unwrap(), txn);
        prop_assert_eq!(r.remaining(), 0);
    }
}
