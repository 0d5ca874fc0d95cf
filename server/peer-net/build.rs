//! Generates the tonic service for member links from a Rust description, not a .proto file:
//! the frames are Paddock's own encoding (see `codec.rs`), so no protoc is needed to build.

fn main() {
    let send = tonic_build::manual::Method::builder()
        .name("send")
        .route_name("Send")
        .input_type("crate::codec::Message")
        .output_type("crate::codec::Message")
        .codec_path("crate::codec::LinkCodec")
        .client_streaming()
        .build();
    let service = tonic_build::manual::Service::builder()
        .name("Link")
        .package("paddock.peer")
        .method(send)
        .build();
    tonic_build::manual::Builder::new().compile(&[service]);
}
