//! The monitor: its readings of fixture `/proc` trees and of this machine's, and the
//! service itself over real HTTP and a real Redis (see `notas_testkit`).

mod helpers;
mod readings;
mod service;
