//! The report summaries (migration `report_summaries`), so the dashboard's reports read a
//! handful of rows at any size; and their backlog (migration `summary_backlog`), which lets
//! them be kept off the requests' path yet exact.
//!
//! A batch's transaction stores its grades and [`owe`]s their summaries: one backlog row
//! with the batch's first and last id. The writers' summarizer ([`catch_up`]) takes the
//! oldest backlog rows, [`add`]s their grades to the summaries and deletes those rows, in
//! one transaction: each grade is summarized once, whatever fails when. Many batches share
//! one summarizing transaction, and the requests no longer wait on the summary rows that
//! every batch touches.
//!
//! Every writer's replica runs a summarizer, but one round runs at a time: a round first
//! takes the `summarizer_turn` row, and ends at once if another round holds it. Concurrent
//! rounds deadlocked on the summary rows and the backlog (migration `summarizer_turn`).

use crate::{
    grade::{Grade, PASS_THRESHOLD},
    mysql::{
        begin_read_committed,
        grades::{GRADE_COLUMNS, GradeRow, stored_from_row},
    },
};
use sqlx::{MySql, MySqlConnection, QueryBuilder};
use std::collections::{BTreeMap, BTreeSet};

type Term = (&'static str, u16); // (semestre, year)

/// Adds `grades` to the summaries, on the summarizer's transaction.
async fn add(tx: &mut MySqlConnection, grades: &[Grade]) -> Result<(), sqlx::Error> {
    #[derive(Default)]
    struct Course {
        passed: u64,
        failed: u64,
        carnets: BTreeSet<u32>,
    }
    let mut courses: BTreeMap<(Term, &'static str), Course> = BTreeMap::new();
    // (semestre, year) = ("", 0) is the student's total over every term; the name is the
    // batch's latest for the student.
    let mut students: BTreeMap<(Term, u32), (u64, u64, &str)> = BTreeMap::new();
    for g in grades {
        let term = (g.semestre().code(), g.year());
        let course = courses.entry((term, g.curso().code())).or_default();
        if g.nota() >= PASS_THRESHOLD {
            course.passed += 1;
        } else {
            course.failed += 1;
        }
        course.carnets.insert(g.carnet());
        for key in [(term, g.carnet()), (("", 0), g.carnet())] {
            let (total, count, nombre) = students.entry(key).or_default();
            *total += u64::from(g.nota());
            *count += 1;
            *nombre = g.nombre();
        }
    }

    let students: Vec<_> = students.into_iter().collect();
    in_chunks(tx, &students, |chunk| {
        let mut upsert = QueryBuilder::new(
            "INSERT INTO student_stats (semestre, year, carnet, nombre, total, grades) ",
        );
        upsert.push_values(
            chunk,
            |mut row, (((semestre, year), carnet), (total, count, nombre))| {
                row.push_bind(*semestre)
                    .push_bind(*year)
                    .push_bind(*carnet)
                    .push_bind(*nombre)
                    .push_bind(*total)
                    .push_bind(*count);
            },
        );
        upsert.push(
            " ON DUPLICATE KEY UPDATE total = total + VALUES(total), \
             grades = grades + VALUES(grades), nombre = VALUES(nombre)",
        );
        upsert
    })
    .await?;

    // A student new to a course and term is a row INSERT IGNORE did insert; statements per
    // course and term tell how many.
    let mut new_students = Vec::with_capacity(courses.len());
    for (((semestre, year), curso), course) in &courses {
        let carnets: Vec<u32> = course.carnets.iter().copied().collect();
        let inserted = in_chunks(tx, &carnets, |chunk| {
            let mut insert = QueryBuilder::new(
                "INSERT IGNORE INTO course_term_students (semestre, year, curso, carnet) ",
            );
            insert.push_values(chunk, |mut row, carnet| {
                row.push_bind(*semestre)
                    .push_bind(*year)
                    .push_bind(*curso)
                    .push_bind(*carnet);
            });
            insert
        })
        .await?;
        new_students.push(inserted);
    }

    let courses: Vec<_> = courses.iter().zip(new_students).collect();
    in_chunks(tx, &courses, |chunk| {
        let mut upsert = QueryBuilder::new(
            "INSERT INTO course_term_stats (semestre, year, curso, passed, failed, students) ",
        );
        upsert.push_values(
            chunk,
            |mut row, ((((semestre, year), curso), course), new)| {
                row.push_bind(*semestre)
                    .push_bind(*year)
                    .push_bind(*curso)
                    .push_bind(course.passed)
                    .push_bind(course.failed)
                    .push_bind(*new);
            },
        );
        upsert.push(
            " ON DUPLICATE KEY UPDATE passed = passed + VALUES(passed), \
             failed = failed + VALUES(failed), students = students + VALUES(students)",
        );
        upsert
    })
    .await?;
    Ok(())
}

/// Rows per statement of the summarizer: its rows are cut into chunks of these sizes only,
/// so every statement's text is one of a few that the connection keeps prepared. With a text
/// of its own for every round, parsing them in `prepare` took a seventh of MariaDB's time.
const CHUNKS: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// Runs the statement `build` makes of each chunk of `rows` (largest sizes of [`CHUNKS`]
/// first); the rows they affected.
async fn in_chunks<'a, T>(
    tx: &mut MySqlConnection,
    rows: &'a [T],
    build: impl Fn(&'a [T]) -> QueryBuilder<'a, MySql>,
) -> sqlx::Result<u64> {
    let mut affected = 0;
    let mut rest = rows;
    while !rest.is_empty() {
        let size = CHUNKS.into_iter().find(|&n| n <= rest.len()).unwrap_or(1);
        let (chunk, after) = rest.split_at(size);
        affected += build(chunk)
            .build()
            .execute(&mut *tx)
            .await?
            .rows_affected();
        rest = after;
    }
    Ok(affected)
}

/// Records, on a batch's transaction, that the summaries owe its grades, ids `first_id` to
/// `last_id`.
pub async fn owe(tx: &mut MySqlConnection, first_id: u64, last_id: u64) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO summary_backlog (first_id, last_id) VALUES (?, ?)")
        .bind(first_id)
        .bind(last_id)
        .execute(tx)
        .await
        .map(drop)
}

/// Backlog rows (batches) one [`catch_up`] takes at most.
pub const CATCH_UP_BATCHES: u64 = 200;

/// One round of the summarizer: adds the grades of the oldest owed batches (at most
/// [`CATCH_UP_BATCHES`]) to the summaries and clears them from the backlog, in one
/// transaction; how many batches it cleared. `id_step` is the server's
/// `auto_increment_increment`, the step between a batch's ids.
///
/// It clears nothing while another round holds the summarizer's turn. READ COMMITTED
/// ([`begin_read_committed`]), so the locking read of the backlog does not block the writers
/// adding rows to it; `SKIP LOCKED`, so it skips the rows of batches not yet committed.
pub async fn catch_up(conn: &mut MySqlConnection, id_step: u64) -> sqlx::Result<u64> {
    let mut tx = begin_read_committed(conn).await?;
    let turn: Option<u8> =
        sqlx::query_scalar("SELECT id FROM summarizer_turn FOR UPDATE SKIP LOCKED")
            .fetch_optional(&mut *tx)
            .await?;
    if turn.is_none() {
        tx.commit().await?;
        return Ok(0);
    }
    let owed: Vec<(u64, u64)> = sqlx::query_as(
        "SELECT first_id, last_id FROM summary_backlog ORDER BY first_id LIMIT ? \
         FOR UPDATE SKIP LOCKED",
    )
    .bind(CATCH_UP_BATCHES)
    .fetch_all(&mut *tx)
    .await?;
    let (Some(&(first, _)), Some(last)) = (owed.first(), owed.iter().map(|o| o.1).max()) else {
        // Ended now, not by the rollback a dropped transaction leaves queued until the
        // connection's next use: until then its lock on the table would block DDL on it.
        tx.commit().await?;
        return Ok(0);
    };
    // One range read, keeping the ids of the batches taken (another summarizer may hold
    // batches in between, and a batch's ids are `id_step` apart).
    let ours = |id: u64| {
        let i = owed.partition_point(|(f, _)| *f <= id);
        i > 0 && id <= owed[i - 1].1 && (id - owed[i - 1].0).is_multiple_of(id_step)
    };
    let rows: Vec<GradeRow> = sqlx::query_as(&format!(
        "SELECT {GRADE_COLUMNS} FROM grades g WHERE g.id BETWEEN ? AND ? ORDER BY g.id"
    ))
    .bind(first)
    .bind(last)
    .fetch_all(&mut *tx)
    .await?;
    let grades: Vec<Grade> = rows
        .into_iter()
        .filter(|row| ours(row.0))
        .filter_map(stored_from_row)
        .map(|stored| stored.grade)
        .collect();
    add(&mut tx, &grades).await?;
    in_chunks(&mut tx, &owed, |chunk| {
        let mut clear = QueryBuilder::new("DELETE FROM summary_backlog WHERE first_id IN ");
        clear.push_tuples(chunk, |mut t, (first_id, _)| {
            t.push_bind(*first_id);
        });
        clear
    })
    .await?;
    tx.commit().await?;
    metrics::counter!("notas_summarized_total").increment(grades.len() as u64);
    Ok(owed.len() as u64)
}
