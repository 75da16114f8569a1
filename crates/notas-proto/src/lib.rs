//! Generated gRPC types for `notas.v1` (see `proto/notas/v1/notas.proto`).
//!
//! Kept in its own crate so only the services that speak gRPC pay for `protoc`.

/// Version 1 of the grade-registration protocol.
pub mod v1 {
    tonic::include_proto!("notas.v1");
}
