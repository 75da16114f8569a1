//! grpc-client: the first hop of route 1. Accepts `POST /notas` (JSON), validates the
//! grade, and forwards it to grpc-server over gRPC with the grades that arrive with it,
//! balancing calls over every grpc-server replica. Answers 201 with the stored record once grpc-server reports it committed.
//!
//! # Layout
//! - [`config`]: flags and environment variables.
//! - [`balance`]: client-side balancing over the replicas behind a headless Service.
//! - [`forward`]: the grades that arrive together sent in one `RegisterGrades` call.
//! - [`routes`]: the `POST /notas` handler and the outcome-to-HTTP mapping.
//! - [`app`]: binds the port, builds the router and runs until the shutdown token is cancelled.

pub mod app;
pub mod balance;
pub mod config;
pub mod forward;
pub mod routes;
