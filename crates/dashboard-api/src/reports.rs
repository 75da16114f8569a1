//! The MySQL side of the dashboard: stored records and the three reports of the brief,
//! which read the summaries each batch of grades keeps (`notas_core::summaries`).
//! Handlers are thin; each query is one `push_*` function with its SQL in plain sight, so
//! the tests can `EXPLAIN` exactly what the handlers run.
//!
//! | endpoint | answers |
//! |---|---|
//! | `GET /api/grades?curso&semestre&year&before&limit` | records newest first, keyset-paginated |
//! | `GET /api/reports/pass-fail?curso&semestre&year` | passed (nota ≥ 61) and failed counts |
//! | `GET /api/reports/top-courses?semestre&year` | the 3 courses with most distinct students |
//! | `GET /api/reports/top-students[?semestre&year]` | the 5 best averages, in a term or overall |

use crate::{app::AppState, params::RawParams};
use axum::{
    Json, Router,
    extract::{Query, State},
    routing::get,
};
use notas_core::{
    grade::{Course, InvalidField, Semester, required},
    http::ApiError,
};
use serde::Serialize;
use sqlx::{MySql, QueryBuilder};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/grades", get(grades))
        .route("/api/reports/pass-fail", get(pass_fail))
        .route("/api/reports/top-courses", get(top_courses))
        .route("/api/reports/top-students", get(top_students))
}

/// Which records: any combination of course, semester and year, older than `before`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecordFilter {
    pub curso: Option<Course>,
    pub semestre: Option<Semester>,
    pub year: Option<u16>,
    pub before: Option<u64>,
}

/// A stored record as the dashboard shows it.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Record {
    pub id: u64,
    pub carnet: u32,
    pub nombre: String,
    pub curso: String,
    pub nota: u8,
    pub semestre: String,
    pub year: u16,
    pub route: String,
    /// When the record was stored, in milliseconds since the Unix epoch.
    pub created_at_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Page {
    pub items: Vec<Record>,
    /// Pass as `before` to get the next (older) page; `null` on the last page.
    pub next_before: Option<u64>,
}

async fn grades(
    State(state): State<AppState>,
    Query(params): Query<RawParams>,
) -> Result<Json<Page>, ApiError> {
    let filter = RecordFilter {
        curso: params.curso()?,
        semestre: params.semestre()?,
        year: params.year()?,
        before: params.before()?,
    };
    let limit = params.limit()?;
    let mut query = QueryBuilder::new("");
    push_records(&mut query, &filter, limit + 1);
    let mut items: Vec<Record> = state
        .run(query.build_query_as().fetch_all(&state.pool))
        .await?;
    let next_before = (items.len() > limit as usize).then(|| {
        items.truncate(limit as usize);
        items.last().map(|r| r.id)
    });
    Ok(Json(Page {
        items,
        next_before: next_before.flatten(),
    }))
}

/// Newest first. With all three filters `idx_grades_course_term` gives the order; with
/// none the primary key does.
pub fn push_records(q: &mut QueryBuilder<'static, MySql>, f: &RecordFilter, limit: u32) {
    q.push(
        "SELECT id, carnet, nombre, curso, nota, CAST(semestre AS CHAR) AS semestre, year, \
         CAST(route AS CHAR) AS route, CAST(UNIX_TIMESTAMP(created_at) * 1000 AS UNSIGNED) AS created_at_ms \
         FROM grades WHERE TRUE",
    );
    if let Some(curso) = f.curso {
        q.push(" AND curso = ").push_bind(curso.code());
    }
    if let Some(semestre) = f.semestre {
        q.push(" AND semestre = ").push_bind(semestre.code());
    }
    if let Some(year) = f.year {
        q.push(" AND year = ").push_bind(year);
    }
    if let Some(before) = f.before {
        q.push(" AND id < ").push_bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
}

#[derive(Debug, Serialize)]
pub struct PassFail {
    pub curso: Course,
    pub semestre: Semester,
    pub year: u16,
    pub passed: u64,
    pub failed: u64,
}

async fn pass_fail(
    State(state): State<AppState>,
    Query(params): Query<RawParams>,
) -> Result<Json<PassFail>, ApiError> {
    let curso = required("curso", params.curso()?)?;
    let semestre = required("semestre", params.semestre()?)?;
    let year = required("year", params.year()?)?;
    let mut query = QueryBuilder::new("");
    push_pass_fail(&mut query, curso, semestre, year);
    let (passed, failed): (u64, u64) = state
        .run(query.build_query_as().fetch_optional(&state.pool))
        .await?
        .unwrap_or((0, 0));
    Ok(Json(PassFail {
        curso,
        semestre,
        year,
        passed,
        failed,
    }))
}

/// One row of `course_term_stats` (kept by every batch of grades); none if the course has
/// no grades in the term.
pub fn push_pass_fail(
    q: &mut QueryBuilder<'static, MySql>,
    curso: Course,
    semestre: Semester,
    year: u16,
) {
    q.push("SELECT passed, failed FROM course_term_stats WHERE semestre = ")
        .push_bind(semestre.code())
        .push(" AND year = ")
        .push_bind(year)
        .push(" AND curso = ")
        .push_bind(curso.code());
}

#[derive(Debug, Serialize)]
pub struct CourseStudents {
    pub curso: Course,
    pub nombre: &'static str,
    pub students: u64,
}

#[derive(Debug, Serialize)]
pub struct TopCourses {
    pub semestre: Semester,
    pub year: u16,
    pub courses: Vec<CourseStudents>,
}

async fn top_courses(
    State(state): State<AppState>,
    Query(params): Query<RawParams>,
) -> Result<Json<TopCourses>, ApiError> {
    let semestre = required("semestre", params.semestre()?)?;
    let year = required("year", params.year()?)?;
    let mut query = QueryBuilder::new("");
    push_top_courses(&mut query, semestre, year);
    let rows: Vec<(String, u64)> = state
        .run(query.build_query_as().fetch_all(&state.pool))
        .await?;
    let courses = rows
        .into_iter()
        .filter_map(|(code, students)| {
            let curso = Course::from_code(&code)?;
            Some(CourseStudents {
                curso,
                nombre: curso.name(),
                students,
            })
        })
        .collect();
    Ok(Json(TopCourses {
        semestre,
        year,
        courses,
    }))
}

/// Distinct students per course; ties go to the course code in alphabetical order. At most
/// five rows of `course_term_stats` (one per course).
pub fn push_top_courses(q: &mut QueryBuilder<'static, MySql>, semestre: Semester, year: u16) {
    q.push("SELECT curso, students FROM course_term_stats WHERE semestre = ")
        .push_bind(semestre.code())
        .push(" AND year = ")
        .push_bind(year)
        .push(" AND students > 0 ORDER BY students DESC, curso LIMIT 3");
}

#[derive(Debug, Serialize)]
pub struct StudentAverage {
    pub carnet: u32,
    /// The name on the student's most recent record.
    pub nombre: String,
    /// Rounded to two decimals.
    pub average: f64,
    pub grades: u64,
}

#[derive(Debug, Serialize)]
pub struct TopStudents {
    pub semestre: Option<Semester>,
    pub year: Option<u16>,
    pub students: Vec<StudentAverage>,
}

async fn top_students(
    State(state): State<AppState>,
    Query(params): Query<RawParams>,
) -> Result<Json<TopStudents>, ApiError> {
    let term = match (params.semestre()?, params.year()?) {
        (Some(semestre), Some(year)) => Some((semestre, year)),
        (None, None) => None,
        (None, Some(_)) => {
            return Err(InvalidField::new("semestre", "is required with year").into());
        }
        (Some(_), None) => {
            return Err(InvalidField::new("year", "is required with semestre").into());
        }
    };
    let (semestre, year) = (term.map(|t| t.0), term.map(|t| t.1));
    let mut query = QueryBuilder::new("");
    push_top_students(&mut query, term);
    let rows: Vec<(u32, String, u64, u64)> = state
        .run(query.build_query_as().fetch_all(&state.pool))
        .await?;
    let students = rows
        .into_iter()
        .map(|(carnet, nombre, total, grades)| StudentAverage {
            carnet,
            nombre,
            average: (total as f64 / grades as f64 * 100.0).round() / 100.0,
            grades,
        })
        .collect();
    Ok(Json(TopStudents {
        semestre,
        year,
        students,
    }))
}

/// The five best averages in one term, or over every term when `term` is `None`.
/// Ties: more grades first, then the lower carnet. The first five entries of
/// `idx_student_stats_rank` (averages compared to 1/10000).
pub fn push_top_students(q: &mut QueryBuilder<'static, MySql>, term: Option<(Semester, u16)>) {
    let (semestre, year) = term.map_or(("", 0), |(s, y)| (s.code(), y));
    q.push("SELECT carnet, nombre, total, grades FROM student_stats WHERE semestre = ")
        .push_bind(semestre)
        .push(" AND year = ")
        .push_bind(year)
        .push(" ORDER BY avg_x10000 DESC, grades DESC, carnet LIMIT 5");
}
