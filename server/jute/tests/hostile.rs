//! Hostile and edge-case input: the decoders never panic, never allocate from a declared
//! length, and keep "need more bytes" apart from "bad bytes". The proptests here are the
//! crate's fuzz target; they are bounded to run in a few seconds.

mod common;

use paddock_jute::frame::FrameError;
use paddock_jute::proto::*;
use paddock_jute::txn::*;
use paddock_jute::{four_letter_word, frame_len, DecodeError, OpCode, Reader, Record};
use proptest::prelude::*;

const ALL_OPCODES: [i32; 33] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101, 102,
    103, 104, 105, 106, 107, -10, -11, -1,
];

const TXN_TYPES: [i32; 16] = [1, 2, 5, 7, 13, 14, 15, 19, 20, 21, -10, -11, -1, 16, 0, 99];

/// Bytes that often look like lengths: small, -1, other negatives and huge values.
fn nasty_bytes() -> impl Strategy<Value = Vec<u8>> {
    let word = prop_oneof![
        Just(vec![0xff, 0xff, 0xff, 0xff]),
        Just(vec![0x7f, 0xff, 0xff, 0xff]),
        Just(vec![0x80, 0, 0, 0]),
        Just(vec![0, 0, 0, 0]),
        Just(vec![0, 0, 0, 1]),
        Just(vec![0xff, 0xff, 0xff, 0xfe]),
        proptest::collection::vec(any::<u8>(), 0..6),
    ];
    proptest::collection::vec(word, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Request::decode for every opcode returns a value or an error on any input.
    #[test]
    fn request_decode_never_panics(bytes in nasty_bytes()) {
        for op in ALL_OPCODES {
            let op = OpCode::try_from(op).unwrap();
            let _ = Request::decode(op, &mut Reader::new(&bytes));
            let _ = Response::read_for(op, &mut Reader::new(&bytes));
        }
    }

    #[test]
    fn connect_and_header_decoding_never_panics(bytes in nasty_bytes()) {
        let _ = ConnectRequest::from_bytes(&bytes);
        let _ = ConnectResponse::from_bytes(&bytes);
        let _ = RequestHeader::from_bytes(&bytes);
        let _ = SetWatches2::from_bytes(&bytes);
        let _ = TxnHeader::from_bytes(&bytes);
    }

    #[test]
    fn txn_read_body_never_panics(bytes in nasty_bytes()) {
        for t in TXN_TYPES {
            let _ = Txn::read_body(t, &mut Reader::new(&bytes));
        }
    }

    #[test]
    fn frame_len_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..12), max in any::<u32>()) {
        if let Ok(Some(n)) = frame_len(&bytes, max) {
            prop_assert!(n as u64 <= u64::from(max));
            prop_assert!(4 + n <= bytes.len());
        }
    }

    /// Cutting an encoded request anywhere gives an error, never a panic or a wrong value
    /// that consumed everything (for bodies whose last field is not optional).
    #[test]
    fn truncated_requests_are_errors(req in common::request(), cut in any::<prop::sample::Index>()) {
        let mut w = paddock_jute::Writer::new();
        req.write(&mut w);
        let bytes = w.into_inner();
        if !bytes.is_empty() {
            let cut = cut.index(bytes.len());
            let result = Request::decode(req.op_code(), &mut Reader::new(&bytes[..cut]));
            prop_assert!(result.is_err(), "{:?} cut at {} decoded", req, cut);
        }
    }
}

/// A hostile length such as 0x7fffffff must be rejected from the input size, not by trying to
/// allocate it (BinaryInputArchive allocates first; we must not).
#[test]
fn huge_buffer_length_is_incomplete_without_allocating() {
    let bytes = [0x7f, 0xff, 0xff, 0xff, 1, 2, 3];
    let err = Reader::new(&bytes).read_buffer().unwrap_err();
    assert_eq!(
        err,
        DecodeError::Incomplete {
            needed: 0x7fff_ffff - 3
        }
    );
}

#[test]
fn huge_vector_count_is_incomplete_without_allocating() {
    let bytes = [0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0];
    let err = Reader::new(&bytes).read_string_vec().unwrap_err();
    assert!(matches!(err, DecodeError::Incomplete { .. }));
}

// BinaryInputArchive.readBuffer / readString: -1 is null, other negatives fail checkLength.
#[test]
fn minus_one_is_null_and_other_negative_lengths_are_errors() {
    let null = (-1i32).to_be_bytes();
    assert_eq!(Reader::new(&null).read_buffer().unwrap(), None);
    assert_eq!(Reader::new(&null).read_ustring().unwrap(), None);
    assert_eq!(Reader::new(&null).read_string().unwrap(), "");
    let empty = 0i32.to_be_bytes();
    assert_eq!(Reader::new(&empty).read_buffer().unwrap(), Some(vec![]));
    let neg = (-2i32).to_be_bytes();
    assert_eq!(
        Reader::new(&neg).read_buffer(),
        Err(DecodeError::NegativeLength(-2))
    );
    assert_eq!(
        Reader::new(&neg).read_ustring(),
        Err(DecodeError::NegativeLength(-2))
    );
}

// BinaryInputArchive.startVector + BinaryIndex.done(): -1 is null and any count <= 0 is an
// empty vector, so a negative count is accepted, not an error.
#[test]
fn negative_vector_counts_read_as_empty() {
    for count in [-1i32, -2, i32::MIN] {
        let bytes = count.to_be_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.read_string_vec().unwrap(), Vec::<String>::new());
        assert_eq!(r.remaining(), 0);
    }
}

// DataInputStream.readBoolean: any nonzero byte is true.
#[test]
fn any_nonzero_byte_is_true() {
    assert!(Reader::new(&[2]).read_bool().unwrap());
    assert!(!Reader::new(&[0]).read_bool().unwrap());
}

// BinaryInputArchive.readString decodes with `new String(b, UTF_8)`, which replaces invalid
// sequences rather than failing.
#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let bytes = [0, 0, 0, 3, b'/', 0xff, b'a'];
    assert_eq!(Reader::new(&bytes).read_string().unwrap(), "/\u{fffd}a");
}

#[test]
fn from_bytes_rejects_trailing_bytes() {
    let mut bytes = PathRequest { path: "/a".into() }.to_bytes();
    bytes.push(0);
    assert_eq!(
        PathRequest::from_bytes(&bytes),
        Err(DecodeError::TrailingBytes(1))
    );
}

// ProtocolManager.deserializeConnectRequest: 3.3-era clients omit readOnly.
#[test]
fn connect_request_without_read_only_byte_reads_as_none() {
    let req = ConnectRequest {
        passwd: vec![0; 16],
        read_only: None,
        ..Default::default()
    };
    let bytes = req.to_bytes();
    assert_eq!(bytes.len(), 44);
    assert_eq!(ConnectRequest::from_bytes(&bytes).unwrap().read_only, None);
}

// NIOServerCnxn.readLength: `len < 0 || len > maxBuffer` closes the connection.
#[test]
fn frame_len_has_three_outcomes() {
    let max = 0xfffff;
    assert_eq!(frame_len(&[0, 0, 0], max), Ok(None));
    assert_eq!(frame_len(&[0, 0, 0, 2, 9], max), Ok(None));
    assert_eq!(frame_len(&[0, 0, 0, 2, 9, 9, 7], max), Ok(Some(2)));
    assert_eq!(frame_len(&[0, 0, 0, 0], max), Ok(Some(0)));
    assert_eq!(
        frame_len(&(-1i32).to_be_bytes(), max),
        Err(FrameError::NegativeLength(-1))
    );
    assert_eq!(
        frame_len(&0x10_0000i32.to_be_bytes(), max),
        Err(FrameError::TooLong {
            len: 0x10_0000,
            max
        })
    );
    // Exactly jute.maxbuffer is allowed; the check is strictly greater.
    assert_eq!(frame_len(&0xfffffi32.to_be_bytes(), max), Ok(None));
}

// FourLetterCommands.cmd2String.
#[test]
fn four_letter_words_are_recognised_exactly() {
    for word in [
        "conf", "cons", "crst", "dump", "envi", "ruok", "srst", "srvr", "stat", "wchs", "wchc",
        "wchp", "dirs", "mntr", "gtmk", "stmk", "isro", "hash",
    ] {
        let first4: [u8; 4] = word.as_bytes().try_into().unwrap();
        assert_eq!(four_letter_word(&first4), Some(word));
    }
    assert_eq!(
        four_letter_word(&[0xff, 0xf4, 0xff, 0xfd]),
        Some("telnet close")
    );
    assert_eq!(four_letter_word(b"RUOK"), None);
    assert_eq!(four_letter_word(&[0, 0, 0, 44]), None);
}

// PrepRequestProcessor never receives these as requests.
#[test]
fn server_only_opcodes_are_not_requests() {
    for op in [OpCode::Notification, OpCode::CreateSession, OpCode::Error] {
        assert_eq!(
            Request::decode(op, &mut Reader::new(&[])),
            Err(DecodeError::NotARequest(op as i32))
        );
    }
}

fn multi_body(op_type: i32, body: &[u8]) -> Vec<u8> {
    let mut w = paddock_jute::Writer::new();
    MultiHeader {
        op_type,
        done: false,
        err: -1,
    }
    .write(&mut w);
    let mut bytes = w.into_inner();
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(
        &MultiHeader {
            op_type: -1,
            done: true,
            err: -1,
        }
        .to_bytes(),
    );
    bytes
}

// MultiOperationRecord.deserialize: only the listed types; multi and multiRead do not mix.
#[test]
fn multi_rejects_ops_of_the_wrong_kind() {
    let get = PathWatchRequest {
        path: "/a".into(),
        watch: false,
    }
    .to_bytes();
    let bytes = multi_body(OpCode::GetData as i32, &get);
    assert_eq!(
        Request::decode(OpCode::Multi, &mut Reader::new(&bytes)),
        Err(DecodeError::BadMultiOp(4))
    );
    let read = Request::decode(OpCode::MultiRead, &mut Reader::new(&bytes)).unwrap();
    assert_eq!(
        read,
        Request::MultiRead(vec![MultiOp::GetData(PathWatchRequest {
            path: "/a".into(),
            watch: false
        })])
    );

    let del = DeleteRequest {
        path: "/a".into(),
        version: -1,
    }
    .to_bytes();
    let bytes = multi_body(OpCode::Delete as i32, &del);
    assert_eq!(
        Request::decode(OpCode::MultiRead, &mut Reader::new(&bytes)),
        Err(DecodeError::BadMultiOp(2))
    );
    let bytes = multi_body(OpCode::Sync as i32, &del);
    assert_eq!(
        Request::decode(OpCode::Multi, &mut Reader::new(&bytes)),
        Err(DecodeError::BadMultiOp(9))
    );
}

// MultiOperationRecord.deserialize: "invalid flag ... for create mode".
#[test]
fn multi_create_with_unknown_flags_is_an_error() {
    let create = CreateRequest {
        path: "/a".into(),
        data: None,
        acl: vec![],
        flags: 7,
    }
    .to_bytes();
    let bytes = multi_body(OpCode::Create as i32, &create);
    assert!(matches!(
        Request::decode(OpCode::Multi, &mut Reader::new(&bytes)),
        Err(DecodeError::Invalid(_))
    ));
}

// SerializeUtils.deserializeTxn: closeSession logged without a body reads as no paths.
#[test]
fn close_session_txn_without_body_reads_as_empty() {
    assert_eq!(
        Txn::read_body(OpCode::CloseSession as i32, &mut Reader::new(&[])).unwrap(),
        Txn::CloseSession(CloseSessionTxn::default())
    );
}

// SerializeUtils.deserializeTxn: a create without parentCVersion is CreateTxnV0 and gets -1.
#[test]
fn create_txn_v0_reads_with_parent_cversion_minus_one() {
    let full = CreateTxn {
        path: "/a".into(),
        data: Some(vec![1]),
        acl: vec![],
        ephemeral: true,
        parent_c_version: 3,
    };
    let bytes = full.to_bytes();
    let v0 = &bytes[..bytes.len() - 4];
    let txn = Txn::read_body(OpCode::Create as i32, &mut Reader::new(v0)).unwrap();
    assert_eq!(
        txn,
        Txn::Create(CreateTxn {
            parent_c_version: -1,
            ..full
        })
    );
}

#[test]
fn unknown_txn_type_is_an_error() {
    assert_eq!(
        Txn::read_body(99, &mut Reader::new(&[])),
        Err(DecodeError::UnknownTxnType(99))
    );
}
