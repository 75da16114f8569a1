//! The Redis side of the dashboard: the live view route 2 maintains (layout in
//! [`notas_core::live`]), served as a REST snapshot and pushed over socket.io.
//!
//! # socket.io protocol (namespace `/`, websocket transport only)
//! - server → client `live`: `{"total": n, "recent": [record, ...]}`, on connect and
//!   whenever route 2 stored grades since the last push;
//! - client → server `select`: `{"curso": "SO1", "semestre": "2S", "year": 2023}` puts the
//!   socket in that selection's room (leaving its previous one);
//! - server → client `count`: `{"curso", "semestre", "year", "count"}`, right after `select`
//!   and whenever that selection's count changed; `select_error`: `{"error", "field"}`;
//! - server → client `host`: a host monitor's newest sample (the VM-monitoring brief's
//!   fields, plus `host`), at most once per push interval per host.
//!
//! # Layout
//! - `reader`: [`LiveReader`], the reads of the live view and the hosts' samples, and
//!   `GET /api/live`, `GET /api/hosts`.
//! - `sockets`: the socket.io handlers (greeting, `select`).
//! - `feed`: follows Redis' announcements and pushes coalesced updates to the rooms.

mod feed;
mod reader;
mod sockets;

pub use feed::run_feed;
pub use reader::{LiveReader, hosts, snapshot};
pub use sockets::serve_sockets;

use notas_core::{
    grade::{Course, InvalidField, Semester, parse_year, required},
    live::count_field,
};
use serde::Deserialize;

/// A course in a semester of a year, as a browser selects it. Each selection is a
/// socket.io room, named with `ROOM_PREFIX` and the selection's count field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selection {
    curso: Course,
    semestre: Semester,
    year: u16,
}

/// The prefix of the rooms of selections (`count:SO1:2S:2023`).
const ROOM_PREFIX: &str = "count:";

/// A `select` as sent.
#[derive(Debug, Deserialize)]
pub struct SelectionInput {
    curso: Option<String>,
    semestre: Option<String>,
    year: Option<i64>,
}

impl Selection {
    /// Checks a selection with the rules of a grade's fields.
    fn parse(input: SelectionInput) -> Result<Selection, InvalidField> {
        Ok(Selection {
            curso: Course::parse(&required("curso", input.curso)?)?,
            semestre: Semester::parse(&required("semestre", input.semestre)?)?,
            year: parse_year(required("year", input.year)?)?,
        })
    }

    fn from_codes(curso: &str, semestre: &str, year: u16) -> Option<Selection> {
        Some(Selection {
            curso: Course::from_code(curso)?,
            semestre: Semester::from_code(semestre)?,
            year,
        })
    }

    /// `SO1:2S:2023` back into a selection.
    fn from_field(field: &str) -> Option<Selection> {
        let mut parts = field.split(':');
        let (curso, semestre, year) = (parts.next()?, parts.next()?, parts.next()?);
        Selection::from_codes(curso, semestre, year.parse().ok()?)
    }

    /// The field of the live view's `counts` hash that holds this selection's count.
    fn field(&self) -> String {
        count_field(self.curso, self.semestre, self.year)
    }

    fn room(&self) -> String {
        format!("{ROOM_PREFIX}{}", self.field())
    }

    /// The selection a room is for; `None` for any other room.
    fn of_room(room: &str) -> Option<Selection> {
        Selection::from_field(room.strip_prefix(ROOM_PREFIX)?)
    }
}
