//! `Record` impls for the plain jute records, field order as in `zookeeper.jute`.
//!
//! Most records are a straight list of fields, so they are declared with `jute_record!`, which
//! names each field's jute type; the few with special rules (`ConnectRequest`,
//! `ConnectResponse`) are written by hand.

use crate::codec::{Reader, Record, Writer};
use crate::error::DecodeError;
use crate::proto::*;
use crate::txn::*;
use crate::types::{Acl, ClientInfo, Id, Stat, StatPersisted};

/// Writes or reads one field by its jute type:
/// `int`, `long`, `boolean`, `buffer` (`Option<Vec<u8>>`, null kept), `bytes` (`Vec<u8>`, null
/// read as empty), `ustring` (`String`, null read as empty), `strings` (`vector<ustring>`),
/// `vector` (`vector<record>`) and `record` (a nested record).
macro_rules! jute_field {
    (write int, $w:ident, $v:expr) => {
        $w.write_i32($v)
    };
    (write long, $w:ident, $v:expr) => {
        $w.write_i64($v)
    };
    (write boolean, $w:ident, $v:expr) => {
        $w.write_bool($v)
    };
    (write buffer, $w:ident, $v:expr) => {
        $w.write_buffer($v.as_deref())
    };
    (write bytes, $w:ident, $v:expr) => {
        $w.write_bytes(&$v)
    };
    (write ustring, $w:ident, $v:expr) => {
        $w.write_string(&$v)
    };
    (write strings, $w:ident, $v:expr) => {
        $w.write_string_vec(&$v)
    };
    (write vector, $w:ident, $v:expr) => {
        $w.write_vec(&$v)
    };
    (write record, $w:ident, $v:expr) => {
        $v.write($w)
    };
    (read int, $r:ident) => {
        $r.read_i32()?
    };
    (read long, $r:ident) => {
        $r.read_i64()?
    };
    (read boolean, $r:ident) => {
        $r.read_bool()?
    };
    (read buffer, $r:ident) => {
        $r.read_buffer()?
    };
    (read bytes, $r:ident) => {
        $r.read_bytes()?
    };
    (read ustring, $r:ident) => {
        $r.read_string()?
    };
    (read strings, $r:ident) => {
        $r.read_string_vec()?
    };
    (read vector, $r:ident) => {
        $r.read_vec()?
    };
    (read record, $r:ident) => {
        Record::read($r)?
    };
}

/// Implements `Record` for a struct whose fields are encoded in declaration order. Struct
/// literal fields are evaluated in the order written, so reads happen in wire order.
macro_rules! jute_record {
    ($($ty:ident { $($field:ident : $kind:ident),* $(,)? })*) => {$(
        impl Record for $ty {
            fn write(&self, w: &mut Writer) {
                $( jute_field!(write $kind, w, self.$field); )*
            }

            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok($ty { $( $field: jute_field!(read $kind, r), )* })
            }
        }
    )*};
}

// module org.apache.zookeeper.data
jute_record! {
    Id { scheme: ustring, id: ustring }
    Acl { perms: int, id: record }
    Stat {
        czxid: long, mzxid: long, ctime: long, mtime: long, version: int, cversion: int,
        aversion: int, ephemeral_owner: long, data_length: int, num_children: int, pzxid: long,
    }
    StatPersisted {
        czxid: long, mzxid: long, ctime: long, mtime: long, version: int, cversion: int,
        aversion: int, ephemeral_owner: long, pzxid: long,
    }
    ClientInfo { auth_scheme: ustring, user: ustring }
}

// module org.apache.zookeeper.proto
jute_record! {
    RequestHeader { xid: int, op_type: int }
    ReplyHeader { xid: int, zxid: long, err: int }
    MultiHeader { op_type: int, done: boolean, err: int }
    AuthPacket { auth_type: int, scheme: ustring, auth: bytes }
    SetWatches {
        relative_zxid: long, data_watches: strings, exist_watches: strings,
        child_watches: strings,
    }
    SetWatches2 {
        relative_zxid: long, data_watches: strings, exist_watches: strings,
        child_watches: strings, persistent_watches: strings,
        persistent_recursive_watches: strings,
    }
    WatcherEvent { event_type: int, state: int, path: ustring }
    ErrorResponse { err: int }
    CreateRequest { path: ustring, data: buffer, acl: vector, flags: int }
    CreateTtlRequest { path: ustring, data: buffer, acl: vector, flags: int, ttl: long }
    DeleteRequest { path: ustring, version: int }
    PathRequest { path: ustring }
    PathWatchRequest { path: ustring, watch: boolean }
    SetDataRequest { path: ustring, data: buffer, version: int }
    SetAclRequest { path: ustring, acl: vector, version: int }
    CheckVersionRequest { path: ustring, version: int }
    AddWatchRequest { path: ustring, mode: int }
    WatchesRequest { path: ustring, watcher_type: int }
    ReconfigRequest {
        joining_servers: ustring, leaving_servers: ustring, new_members: ustring,
        cur_config_id: long,
    }
    GetSaslRequest { token: bytes }
}

// module org.apache.zookeeper.txn
jute_record! {
    TxnHeader { client_id: long, cxid: int, zxid: long, time: long, txn_type: int }
    TxnDigest { version: int, tree_digest: long }
    CreateTxn {
        path: ustring, data: buffer, acl: vector, ephemeral: boolean, parent_c_version: int,
    }
    CreateContainerTxn { path: ustring, data: buffer, acl: vector, parent_c_version: int }
    CreateTtlTxn {
        path: ustring, data: buffer, acl: vector, parent_c_version: int, ttl: long,
    }
    DeleteTxn { path: ustring }
    SetDataTxn { path: ustring, data: buffer, version: int }
    CheckVersionTxn { path: ustring, version: int }
    SetAclTxn { path: ustring, acl: vector, version: int }
    CreateSessionTxn { time_out: int }
    CloseSessionTxn { paths2_delete: strings }
    ErrorTxn { err: int }
    TxnEntry { txn_type: int, data: bytes }
    MultiTxn { txns: vector }
}

/// `ConnectRequest`: the trailing `readOnly` byte is optional on input, because clients up to
/// 3.3 never send it (`ProtocolManager.deserializeConnectRequest` tries to read it and falls
/// back). It is written only when `Some`. A null `passwd` reads as empty.
impl Record for ConnectRequest {
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.protocol_version);
        w.write_i64(self.last_zxid_seen);
        w.write_i32(self.time_out);
        w.write_i64(self.session_id);
        w.write_bytes(&self.passwd);
        if let Some(read_only) = self.read_only {
            w.write_bool(read_only);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_bytes()?,
            read_only: read_optional_bool(r)?,
        })
    }
}

/// `ConnectResponse`, with the same optional trailing `readOnly` byte
/// (`ProtocolManager.deserializeConnectResponse` / `serializeConnectResponse`).
impl Record for ConnectResponse {
    fn write(&self, w: &mut Writer) {
        w.write_i32(self.protocol_version);
        w.write_i32(self.time_out);
        w.write_i64(self.session_id);
        w.write_bytes(&self.passwd);
        if let Some(read_only) = self.read_only {
            w.write_bool(read_only);
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            time_out: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_bytes()?,
            read_only: read_optional_bool(r)?,
        })
    }
}

fn read_optional_bool(r: &mut Reader<'_>) -> Result<Option<bool>, DecodeError> {
    if r.remaining() == 0 {
        return Ok(None);
    }
    r.read_bool().map(Some)
}
