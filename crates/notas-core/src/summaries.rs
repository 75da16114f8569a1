//! The report summaries (migration `report_summaries`), kept in the transaction that stores
//! each batch of grades, so the dashboard's reports read a handful of rows at any size.
//!
//! Rows are written in key order in every statement, so concurrent batches take their row
//! locks in the same order; a deadlock that slips through is retried by the caller. The
//! per-course rows, which nearly every batch touches (ten of them per year), are written
//! last, so each batch holds their locks only for that statement and its commit.

use crate::grade::{Grade, PASS_THRESHOLD};
use sqlx::{MySql, MySqlConnection, QueryBuilder};
use std::collections::{BTreeMap, BTreeSet};

type Term = (&'static str, u16); // (semestre, year)

/// Adds `grades` to the summaries, on the batch's transaction.
pub async fn add(tx: &mut MySqlConnection, grades: &[&Grade]) -> Result<(), sqlx::Error> {
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

    let mut averages = QueryBuilder::<MySql>::new(
        "INSERT INTO student_stats (semestre, year, carnet, nombre, total, grades) ",
    );
    averages.push_values(
        &students,
        |mut row, (((semestre, year), carnet), (total, count, nombre))| {
            row.push_bind(*semestre)
                .push_bind(*year)
                .push_bind(*carnet)
                .push_bind(*nombre)
                .push_bind(*total)
                .push_bind(*count);
        },
    );
    averages.push(
        " ON DUPLICATE KEY UPDATE total = total + VALUES(total), grades = grades + VALUES(grades), \
         nombre = VALUES(nombre)",
    );
    averages.build().execute(&mut *tx).await?;

    // A student new to a course and term is a row INSERT IGNORE did insert; one statement
    // per course and term tells how many.
    let mut new_students = Vec::with_capacity(courses.len());
    for (((semestre, year), curso), course) in &courses {
        let mut insert = QueryBuilder::<MySql>::new(
            "INSERT IGNORE INTO course_term_students (semestre, year, curso, carnet) ",
        );
        insert.push_values(&course.carnets, |mut row, carnet| {
            row.push_bind(*semestre)
                .push_bind(*year)
                .push_bind(*curso)
                .push_bind(*carnet);
        });
        new_students.push(insert.build().execute(&mut *tx).await?.rows_affected());
    }

    let mut stats = QueryBuilder::<MySql>::new(
        "INSERT INTO course_term_stats (semestre, year, curso, passed, failed, students) ",
    );
    stats.push_values(
        courses.iter().zip(&new_students),
        |mut row, ((((semestre, year), curso), course), new)| {
            row.push_bind(*semestre)
                .push_bind(*year)
                .push_bind(*curso)
                .push_bind(course.passed)
                .push_bind(course.failed)
                .push_bind(*new);
        },
    );
    stats.push(
        " ON DUPLICATE KEY UPDATE passed = passed + VALUES(passed), failed = failed + VALUES(failed), \
         students = students + VALUES(students)",
    );
    stats.build().execute(&mut *tx).await?;
    Ok(())
}
