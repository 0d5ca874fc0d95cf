//! Frames the server sends, built from jute records.

use paddock_jute::proto::{ConnectResponse, ReplyHeader, Response, WatcherEvent};

pub fn reply_frame(hdr: &ReplyHeader, body: Option<&Response>) -> Vec<u8> {
    paddock_jute::codec::encode_reply(hdr, body)
}

pub fn notification_frame(zxid: i64, event: &WatcherEvent) -> Vec<u8> {
    paddock_jute::codec::encode_notification(zxid, event)
}

pub fn connect_response_frame(resp: &ConnectResponse) -> Vec<u8> {
    paddock_jute::codec::encode_connect_response(resp)
}
