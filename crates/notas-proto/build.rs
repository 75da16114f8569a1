//! Compiles the workspace's `proto/` with `protoc` (Debian: protobuf-compiler; Nix: protobuf).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "../../proto/notas/v1/notas.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure().compile_protos(&[proto], &["../../proto"])?;
    Ok(())
}
