//! Golden bytes captured from Apache ZooKeeper 3.8.0's own jute classes
//! (Debian's `zookeeper-jute.jar` and `zookeeper.jar`): a small Java program
//! built each record below with the same field values and serialized it with
//! `BinaryOutputArchive`. The Java program is not kept; only its hex output is. For the 3.8
//! connect records, `readOnly` was appended by hand with `writeBool`, as 3.8's `ClientCnxn` and
//! `ProtocolManager` do (3.9 made it a jute field; the bytes are the same).

use paddock_jute::codec::{encode_connect_response, encode_notification, encode_reply};
use paddock_jute::proto::*;
use paddock_jute::txn::*;
use paddock_jute::{Acl, OpCode, Reader, Record, Stat, Writer};

const CONNECT_REQ_NO_RO: &str =
    "00000000000000000000123400007530000000000000000000000010000000000000000000000000\
    00000000";
const CONNECT_REQ_RO: &str =
    "00000000000000000000123400007530000000000000000000000010000000000000000000000000\
    0000000001";
const CONNECT_RESP_NO_RO: &str =
    "00000000000075300100abcd00000001000000100102030405060708090a0b0c0d0e0f10";
const CONNECT_RESP_RO: &str =
    "00000000000075300100abcd00000001000000100102030405060708090a0b0c0d0e0f1000";
const REPLY_HEADER: &str = "000000050000000100000002ffffff9b";
const STAT: &str =
    "000000000000000100000000000000020000018bcfe568000000018bcfe568010000000300000004\
    000000050100abcd0000000100000006000000070000000000000008";
const MULTI_RESP_FAILED: &str =
    "ffffffff000000000000000000ffffffff00ffffff9bffffff9bffffffff00fffffffefffffffeff\
    ffffff01ffffffff";
const MULTI_RESP_OK: &str =
    "000000010000000000000000022f610000000f0000000000000000022f6200000000000000010000\
    0000000000020000018bcfe568000000018bcfe568010000000300000004000000050100abcd0000\
    00010000000600000007000000000000000800000002000000000000000005000000000000000000\
    0000000100000000000000020000018bcfe568000000018bcfe56801000000030000000400000005\
    0100abcd00000001000000060000000700000000000000080000000d0000000000ffffffff01ffff\
    ffff";
const MULTI_REQ: &str =
    "0000000100ffffffff000000022f61000000020102000000010000001f00000005776f726c640000\
    0006616e796f6e65000000010000000200ffffffff000000022f62000000070000000500ffffffff\
    000000022f63ffffffffffffffff0000000d00ffffffff000000022f6400000002ffffffff01ffff\
    ffff";
const WATCHER_EVENT: &str = "0000000300000003000000022f61";
const SET_WATCHES2: &str =
    "000000000000000900000001000000022f6400000002000000022f65000000022f66000000000000\
    0001000000022f7000000001000000022f72";
const GET_DATA_RESP_NULL: &str =
    "ffffffff000000000000000100000000000000020000018bcfe568000000018bcfe5680100000003\
    00000004000000050100abcd0000000100000006000000070000000000000008";
const CREATE_TXN: &str =
    "000000022f610000000109000000010000001f00000005776f726c6400000006616e796f6e650100\
    000004";
const TXN_HEADER: &str = "0100abcd000000010000000700000001000000030000018bcfe568000000000e";
const MULTI_TXN: &str = "000000020000000200000006000000022f78ffffffff00000004ffffff9b";

fn hex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() % 2, 0);
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn stat() -> Stat {
    Stat {
        czxid: 1,
        mzxid: 2,
        ctime: 1_700_000_000_000,
        mtime: 1_700_000_000_001,
        version: 3,
        cversion: 4,
        aversion: 5,
        ephemeral_owner: 0x0100_abcd_0000_0001,
        data_length: 6,
        num_children: 7,
        pzxid: 8,
    }
}

/// Encodes `value` and checks it against the golden bytes, then decodes the golden bytes and
/// checks they give `value` back.
fn assert_golden<T: Record + PartialEq + std::fmt::Debug>(value: &T, golden: &str, len: usize) {
    let bytes = hex(golden);
    assert_eq!(bytes.len(), len);
    assert_eq!(value.to_bytes(), bytes);
    assert_eq!(&T::from_bytes(&bytes).unwrap(), value);
}

fn connect_request(read_only: Option<bool>) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0x1234,
        time_out: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only,
    }
}

fn connect_response(read_only: Option<bool>) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        time_out: 30_000,
        session_id: 0x0100_abcd_0000_0001,
        passwd: (1..=16).collect(),
        read_only,
    }
}

// ConnectRequest: 4+8+4+8+(4+16) = 44 bytes, 45 with readOnly (ProtocolManager.java).
#[test]
fn connect_request_without_read_only_is_44_bytes() {
    assert_golden(&connect_request(None), CONNECT_REQ_NO_RO, 44);
}

#[test]
fn connect_request_with_read_only_is_45_bytes() {
    assert_golden(&connect_request(Some(true)), CONNECT_REQ_RO, 45);
}

// ConnectResponse: 4+4+8+(4+16) = 36 bytes, 37 with readOnly.
#[test]
fn connect_response_without_read_only_is_36_bytes() {
    assert_golden(&connect_response(None), CONNECT_RESP_NO_RO, 36);
}

#[test]
fn connect_response_with_read_only_is_37_bytes() {
    assert_golden(&connect_response(Some(false)), CONNECT_RESP_RO, 37);
}

#[test]
fn connect_response_frame_is_length_prefixed() {
    let frame = encode_connect_response(&connect_response(Some(false)));
    assert_eq!(frame[..4], 37i32.to_be_bytes());
    assert_eq!(frame[4..], hex(CONNECT_RESP_RO));
}

#[test]
fn reply_header_matches_zookeeper() {
    let hdr = ReplyHeader {
        xid: 5,
        zxid: 0x1_0000_0002,
        err: -101,
    };
    assert_golden(&hdr, REPLY_HEADER, 16);
}

// data.Stat: 6 longs and 5 ints = 68 bytes.
#[test]
fn stat_is_68_bytes_and_matches_zookeeper() {
    assert_golden(&stat(), STAT, 68);
}

#[test]
fn watcher_event_matches_zookeeper() {
    let ev = WatcherEvent {
        event_type: 3,
        state: 3,
        path: "/a".into(),
    };
    assert_golden(&ev, WATCHER_EVENT, 14);
}

// NIOServerCnxn.process: notifications are ReplyHeader{-1, zxid, 0} + WatcherEvent.
#[test]
fn notification_frame_is_header_with_xid_minus_one_then_event() {
    let ev = WatcherEvent {
        event_type: 3,
        state: 3,
        path: "/a".into(),
    };
    let frame = encode_notification(7, &ev);
    let mut expected = Vec::new();
    expected.extend_from_slice(&30i32.to_be_bytes());
    expected.extend_from_slice(&(-1i32).to_be_bytes());
    expected.extend_from_slice(&7i64.to_be_bytes());
    expected.extend_from_slice(&0i32.to_be_bytes());
    expected.extend_from_slice(&hex(WATCHER_EVENT));
    assert_eq!(frame, expected);
}

#[test]
fn set_watches2_matches_zookeeper() {
    let sw = SetWatches2 {
        relative_zxid: 9,
        data_watches: vec!["/d".into()],
        exist_watches: vec!["/e".into(), "/f".into()],
        child_watches: vec![],
        persistent_watches: vec!["/p".into()],
        persistent_recursive_watches: vec!["/r".into()],
    };
    assert_golden(&sw, SET_WATCHES2, 58);
}

/// Encodes a response body and checks it against golden bytes, then reads it back.
fn assert_golden_response(op: OpCode, resp: &Response, golden: &str, len: usize) {
    let bytes = hex(golden);
    assert_eq!(bytes.len(), len);
    let mut w = Writer::new();
    resp.write(&mut w);
    assert_eq!(w.into_inner(), bytes);
    let mut r = Reader::new(&bytes);
    assert_eq!(&Response::read_for(op, &mut r).unwrap(), resp);
    assert_eq!(r.remaining(), 0);
}

// A failed multi (FinalRequestProcessor / MultiResponse.serialize): ops before the failure
// report 0, the failing op its code, later ops RUNTIMEINCONSISTENCY (-2); each is
// MultiHeader{-1, false, err} + ErrorResponse{err}, then MultiHeader{-1, true, -1}.
#[test]
fn failed_multi_response_matches_zookeeper() {
    let resp = Response::Multi(vec![
        OpResult::Error { err: 0 },
        OpResult::Error { err: -101 },
        OpResult::Error { err: -2 },
    ]);
    assert_golden_response(OpCode::Multi, &resp, MULTI_RESP_FAILED, 48);
}

#[test]
fn successful_multi_response_matches_zookeeper() {
    let resp = Response::Multi(vec![
        OpResult::Create { path: "/a".into() },
        OpResult::Create2 {
            path: "/b".into(),
            stat: stat(),
        },
        OpResult::Delete,
        OpResult::SetData { stat: stat() },
        OpResult::Check,
    ]);
    assert_golden_response(OpCode::Multi, &resp, MULTI_RESP_OK, 202);
}

// GetDataResponse with null data: length -1, kept distinct from empty.
#[test]
fn get_data_response_with_null_data_matches_zookeeper() {
    let resp = Response::GetData {
        data: None,
        stat: stat(),
    };
    assert_golden_response(OpCode::GetData, &resp, GET_DATA_RESP_NULL, 72);
}

#[test]
fn reply_frame_is_length_header_body() {
    let hdr = ReplyHeader {
        xid: 5,
        zxid: 0x1_0000_0002,
        err: 0,
    };
    let resp = Response::GetData {
        data: None,
        stat: stat(),
    };
    let frame = encode_reply(&hdr, Some(&resp));
    assert_eq!(frame[..4], (16i32 + 72).to_be_bytes());
    assert_eq!(frame[4..20], hdr.to_bytes());
    assert_eq!(frame[20..], hex(GET_DATA_RESP_NULL));
    assert_eq!(
        encode_reply(&hdr, None),
        [&16i32.to_be_bytes()[..], &hdr.to_bytes()].concat()
    );
}

// MultiOperationRecord.serialize: MultiHeader{type, false, -1} + request, then {-1, true, -1}.
#[test]
fn multi_request_matches_zookeeper() {
    let req = Request::Multi(vec![
        MultiOp::Create {
            op: OpCode::Create,
            req: CreateRequest {
                path: "/a".into(),
                data: Some(vec![1, 2]),
                acl: Acl::open_unsafe(),
                flags: 1,
            },
        },
        MultiOp::Delete(DeleteRequest {
            path: "/b".into(),
            version: 7,
        }),
        MultiOp::SetData(SetDataRequest {
            path: "/c".into(),
            data: None,
            version: -1,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: "/d".into(),
            version: 2,
        }),
    ]);
    let bytes = hex(MULTI_REQ);
    assert_eq!(bytes.len(), 122);
    let mut w = Writer::new();
    req.write(&mut w);
    assert_eq!(w.into_inner(), bytes);
    let mut r = Reader::new(&bytes);
    assert_eq!(Request::decode(OpCode::Multi, &mut r).unwrap(), req);
    assert_eq!(r.remaining(), 0);
}

#[test]
fn create_txn_matches_zookeeper() {
    let txn = CreateTxn {
        path: "/a".into(),
        data: Some(vec![9]),
        acl: Acl::open_unsafe(),
        ephemeral: true,
        parent_c_version: 4,
    };
    assert_golden(&txn, CREATE_TXN, 43);
}

#[test]
fn txn_header_matches_zookeeper() {
    let hdr = TxnHeader {
        client_id: 0x0100_abcd_0000_0001,
        cxid: 7,
        zxid: 0x1_0000_0003,
        time: 1_700_000_000_000,
        txn_type: 14,
    };
    assert_golden(&hdr, TXN_HEADER, 32);
}

// MultiTxn{vector<Txn{type, data}>}: each sub-record serialized into `data`; an error
// sub-entry has type -1 (PrepRequestProcessor, case multi).
#[test]
fn multi_txn_matches_zookeeper() {
    let txn = Txn::Multi(vec![
        Txn::Delete(DeleteTxn { path: "/x".into() }),
        Txn::Error(ErrorTxn { err: -101 }),
    ]);
    let bytes = hex(MULTI_TXN);
    assert_eq!(bytes.len(), 30);
    let mut w = Writer::new();
    txn.write_body(&mut w);
    assert_eq!(w.into_inner(), bytes);
    assert_eq!(Txn::read_body(14, &mut Reader::new(&bytes)).unwrap(), txn);
}
