//! grpc-server: the second hop of route 1. Receives `notas.v1.GradeService` calls from
//! grpc-client (`RegisterGrades`, several grades each; `RegisterGrade`, one) and stores the
//! grades in MySQL, batching what concurrent calls bring into one `INSERT`. Serves the standard gRPC health service beside it (NOT_SERVING while
//! MySQL does not answer) and `/healthz`, `/readyz`, `/metrics` on an HTTP admin port.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`service`]: the RPC: parse, batch, answer.
//! - [`app`]: binds both ports, wires the store, the writer and the health reporter, and
//!   runs until the shutdown token is cancelled.

pub mod app;
pub mod config;
pub mod service;
