//! A null server: it completes the ZooKeeper handshake and answers every request at once with
//! a success and a zero `Stat`, keeping no tree, no log and no sessions.
//!
//! It is not a ZooKeeper. It measures the ceiling this load generator and this machine's
//! loopback TCP allow for a workload: with one request per session, every request and every
//! reply is its own packet, and a server cannot be faster than one that does nothing else.
//! `bench/RESULTS.md` compares both servers against it.

use anyhow::Context;
use paddock_jute::codec::{framed, Record};
use paddock_jute::frame::{DEFAULT_MAX_BUFFER, FRAME_HEADER_BYTES};
use paddock_jute::proto::{ConnectResponse, ReplyHeader};
use paddock_jute::types::Stat;
use paddock_jute::{frame_len, Reader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Accepts connections on `listener` and serves each on its own task until it closes.
pub async fn serve(listener: TcpListener) -> anyhow::Result<()> {
    let mut next_session = 1i64;
    loop {
        let (stream, _) = listener.accept().await.context("accepting a connection")?;
        stream.set_nodelay(true)?;
        let session_id = next_session;
        next_session += 1;
        tokio::spawn(async move {
            // A connection's end is the client's business; the next one is served regardless.
            let _ = answer(stream, session_id).await;
        });
    }
}

/// Reads what has arrived, answers every complete frame in it with one write.
async fn answer(mut stream: TcpStream, session_id: i64) -> anyhow::Result<()> {
    let mut input = Vec::with_capacity(64 * 1024);
    let mut out = Vec::with_capacity(64 * 1024);
    let mut connected = false;
    let success = framed(|w| {
        ReplyHeader::default().write(w);
        Stat::default().write(w);
    });
    loop {
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        let mut consumed = 0;
        while let Some(len) = frame_len(&input[consumed..], DEFAULT_MAX_BUFFER)? {
            let body = &input[consumed + FRAME_HEADER_BYTES..consumed + FRAME_HEADER_BYTES + len];
            if connected {
                // The reply's xid is the request's, its first field; the rest is fixed.
                let xid = Reader::new(body)
                    .read_i32()
                    .context("reading a request xid")?;
                let start = out.len();
                out.extend_from_slice(&success);
                out[start + FRAME_HEADER_BYTES..start + FRAME_HEADER_BYTES + 4]
                    .copy_from_slice(&xid.to_be_bytes());
            } else {
                connected = true;
                let response = ConnectResponse {
                    protocol_version: 0,
                    time_out: 30_000,
                    session_id,
                    passwd: vec![0; 16],
                    read_only: Some(false),
                };
                out.extend_from_slice(&framed(|w| response.write(w)));
            }
            consumed += FRAME_HEADER_BYTES + len;
        }
        input.drain(..consumed);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Session;
    use paddock_jute::proto::Request;
    use paddock_jute::proto::SetDataRequest;

    /// A null server on a free loopback port; its address.
    async fn null_server() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(serve(listener));
        addr
    }

    fn set_data(value_bytes: usize) -> Request {
        Request::SetData(SetDataRequest {
            path: "/a".into(),
            data: Some(vec![1; value_bytes]),
            version: -1,
        })
    }

    #[tokio::test]
    async fn answers_the_handshake_and_each_request_by_its_xid() {
        let addr = null_server().await;
        let mut first = Session::connect(&addr, 10_000).await.unwrap();
        let second = Session::connect(&addr, 10_000).await.unwrap();
        assert_ne!(first.session_id, second.session_id);
        let set = set_data(100);
        let replies = first
            .call_all(&[set.clone(), set.clone(), set])
            .await
            .unwrap();
        let xids: Vec<i32> = replies.iter().map(|r| r.xid).collect();
        assert_eq!(xids, vec![1, 2, 3]);
        assert!(replies.iter().all(|r| r.err == 0));
    }

    /// More replies than one read takes (5,000 x 88 bytes against 64 KiB per read), so
    /// frames straddle reads and the buffer keeps a partial frame between them.
    #[tokio::test]
    async fn replies_beyond_one_read_arrive_whole_and_in_order() {
        let addr = null_server().await;
        let mut session = Session::connect(&addr, 10_000).await.unwrap();
        let requests = vec![set_data(10); 5_000];
        let replies = session.call_all(&requests).await.unwrap();
        let xids: Vec<i32> = replies.iter().map(|r| r.xid).collect();
        assert_eq!(xids, (1..=5_000).collect::<Vec<i32>>());
        let after = session.call(&requests[0]).await.unwrap();
        assert_eq!(after.xid, 5_001);
    }
}
