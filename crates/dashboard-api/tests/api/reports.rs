//! Each report on a data set whose answers were worked out by hand, ties and empty
//! results included; bad parameters; and the index behind every query.

use crate::helpers::{TestApp, spawn_app};
use dashboard_api::reports::{self, RecordFilter};
use notas_core::grade::{Course, Semester};
use serde_json::{Value, json};
use sqlx::{MySql, QueryBuilder, Row};

/// Ids 1..=14 in this order.
const ROWS: &[(u32, &str, &str, u8, &str, u16)] = &[
    (100, "Ana", "SO1", 90, "2S", 2023),       // 1
    (100, "Ana", "BD1", 80, "2S", 2023),       // 2
    (200, "Beto", "SO1", 60, "2S", 2023),      // 3  fails: 60 < 61
    (300, "Carla", "SO1", 61, "2S", 2023),     // 4  passes at exactly 61
    (300, "Carla", "BD1", 70, "2S", 2023),     // 5
    (400, "Dani", "LFP", 100, "2S", 2023),     // 6
    (200, "Beto", "SO1", 50, "2S", 2023),      // 7  Beto twice in SO1: one student
    (500, "Eva", "BD1", 85, "2S", 2023),       // 8
    (100, "Ana Maria", "SA", 100, "1S", 2023), // 9  Ana's newest name
    (600, "Fito", "SA", 95, "1S", 2023),       // 10
    (700, "Gabi", "SO1", 75, "2S", 2024),      // 11
    (900, "Hugo", "AYD1", 100, "2S", 2023),    // 12
    (900, "Hugo", "LFP", 100, "2S", 2023),     // 13
    (150, "Iris", "AYD1", 100, "2S", 2023),    // 14
];

async fn seeded() -> TestApp {
    let app = spawn_app().await;
    app.seed(ROWS).await;
    app
}

fn ids(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn records_come_newest_first_in_keyset_pages() {
    let app = seeded().await;
    let (status, first) = app.get("/api/grades?limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&first), [14, 13, 12, 11, 10]);
    assert_eq!(first["next_before"], 10);
    let (_, second) = app.get("/api/grades?limit=5&before=10").await;
    assert_eq!(ids(&second), [9, 8, 7, 6, 5]);
    let (_, last) = app.get("/api/grades?limit=5&before=5").await;
    assert_eq!(ids(&last), [4, 3, 2, 1]);
    assert_eq!(last["next_before"], Value::Null);

    let record = &first["items"][0];
    assert_eq!(record["carnet"], 150);
    assert_eq!(record["nombre"], "Iris");
    assert_eq!(
        (record["curso"].as_str(), record["nota"].as_u64()),
        (Some("AYD1"), Some(100))
    );
    assert_eq!(
        (record["semestre"].as_str(), record["year"].as_u64()),
        (Some("2S"), Some(2023))
    );
    assert_eq!(record["route"], "redis");
    assert!(record["created_at_ms"].as_u64().unwrap() > 1_700_000_000_000);
}

#[tokio::test]
async fn records_filter_by_course_semester_and_year() {
    let app = seeded().await;
    assert_eq!(
        ids(&app
            .get("/api/grades?curso=SO1&semestre=2S&year=2023")
            .await
            .1),
        [7, 4, 3, 1]
    );
    assert_eq!(
        ids(&app.get("/api/grades?curso=SO1").await.1),
        [11, 7, 4, 3, 1]
    );
    assert_eq!(ids(&app.get("/api/grades?semestre=1S").await.1), [10, 9]);
    assert_eq!(ids(&app.get("/api/grades?year=2024").await.1), [11]);
    let (status, empty) = app.get("/api/grades?curso=SA&year=2024").await;
    assert_eq!(
        (status, empty),
        (200, json!({"items": [], "next_before": null}))
    );
}

#[tokio::test]
async fn pass_fail_counts_61_as_a_pass() {
    let app = seeded().await;
    let (status, so1) = app
        .get("/api/reports/pass-fail?curso=SO1&semestre=2S&year=2023")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        so1,
        json!({"curso": "SO1", "semestre": "2S", "year": 2023, "passed": 2, "failed": 2})
    );
    let (_, ayd1) = app
        .get("/api/reports/pass-fail?curso=AYD1&semestre=2S&year=2023")
        .await;
    assert_eq!(
        (ayd1["passed"].as_u64(), ayd1["failed"].as_u64()),
        (Some(2), Some(0))
    );
    let (_, none) = app
        .get("/api/reports/pass-fail?curso=SA&semestre=2S&year=2023")
        .await;
    assert_eq!(
        (none["passed"].as_u64(), none["failed"].as_u64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn top_courses_count_distinct_students_and_break_ties_by_code() {
    let app = seeded().await;
    let (status, top) = app
        .get("/api/reports/top-courses?semestre=2S&year=2023")
        .await;
    assert_eq!(status, 200);
    // SO1 {100,200,300} = BD1 {100,300,500} = 3; AYD1 {900,150} = LFP {400,900} = 2.
    assert_eq!(
        top,
        json!({"semestre": "2S", "year": 2023, "courses": [
            {"curso": "BD1", "nombre": "Sistemas de Bases de Datos 1", "students": 3},
            {"curso": "SO1", "nombre": "Sistemas Operativos 1", "students": 3},
            {"curso": "AYD1", "nombre": "Análisis y Diseño 1", "students": 2},
        ]})
    );
    let (_, empty) = app
        .get("/api/reports/top-courses?semestre=1S&year=2024")
        .await;
    assert_eq!(empty["courses"], json!([]));
}

#[tokio::test]
async fn a_student_counts_once_per_course_across_batches() {
    let app = spawn_app().await;
    // Three batches; student 1 comes back to SO1 in each, student 2 only in the last,
    // and student 1's grade in BD1 is a new student there.
    app.seed(&[(1, "A", "SO1", 70, "2S", 2023)]).await;
    app.seed(&[
        (1, "A", "SO1", 80, "2S", 2023),
        (1, "A", "SO1", 90, "2S", 2023),
    ])
    .await;
    app.seed(&[
        (1, "A", "SO1", 60, "2S", 2023),
        (2, "B", "SO1", 60, "2S", 2023),
        (1, "A", "BD1", 60, "2S", 2023),
    ])
    .await;
    let (_, top) = app
        .get("/api/reports/top-courses?semestre=2S&year=2023")
        .await;
    assert_eq!(
        top["courses"],
        json!([
            {"curso": "SO1", "nombre": "Sistemas Operativos 1", "students": 2},
            {"curso": "BD1", "nombre": "Sistemas de Bases de Datos 1", "students": 1},
        ])
    );
}

fn carnets_and_averages(top: &Value) -> Vec<(u64, f64, u64)> {
    top["students"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["carnet"].as_u64().unwrap(),
                s["average"].as_f64().unwrap(),
                s["grades"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn top_students_rank_by_average_then_grades_then_carnet() {
    let app = seeded().await;
    let (status, all) = app.get("/api/reports/top-students").await;
    assert_eq!(status, 200);
    // 900: 100 over 2 grades; 150 and 400: 100 over 1 (lower carnet first); 600: 95; 100: 90.
    assert_eq!(
        carnets_and_averages(&all),
        [
            (900, 100.0, 2),
            (150, 100.0, 1),
            (400, 100.0, 1),
            (600, 95.0, 1),
            (100, 90.0, 3)
        ]
    );
    assert_eq!(all["students"][4]["nombre"], "Ana Maria", "the newest name");

    // In 2S 2023, 100 (80, 90) and 500 (85) tie at 85: more grades first.
    let (_, term) = app
        .get("/api/reports/top-students?semestre=2S&year=2023")
        .await;
    assert_eq!(
        carnets_and_averages(&term),
        [
            (900, 100.0, 2),
            (150, 100.0, 1),
            (400, 100.0, 1),
            (100, 85.0, 2),
            (500, 85.0, 1)
        ]
    );
    assert_eq!(
        (term["semestre"].as_str(), term["year"].as_u64()),
        (Some("2S"), Some(2023))
    );

    assert_eq!(
        carnets_and_averages(
            &app.get("/api/reports/top-students?semestre=2S&year=2024")
                .await
                .1
        ),
        [(700, 75.0, 1)]
    );
    assert_eq!(
        carnets_and_averages(
            &app.get("/api/reports/top-students?semestre=1S&year=2023")
                .await
                .1
        ),
        [(100, 100.0, 1), (600, 95.0, 1)]
    );
    let (_, empty) = app
        .get("/api/reports/top-students?semestre=1S&year=2030")
        .await;
    assert_eq!(empty["students"], json!([]));
}

#[tokio::test]
async fn averages_are_rounded_to_two_decimals() {
    let app = spawn_app().await;
    app.seed(&[
        (1, "A", "SO1", 90, "1S", 2023),
        (1, "A", "BD1", 80, "1S", 2023),
        (1, "A", "SA", 80, "1S", 2023),
    ])
    .await;
    let (_, top) = app.get("/api/reports/top-students").await;
    assert_eq!(top["students"][0]["average"], json!(83.33));
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    let cases = [
        "/api/grades?curso=MATE1",
        "/api/grades?semestre=3S",
        "/api/grades?year=20x3",
        "/api/grades?year=1999",
        "/api/grades?before=0",
        "/api/grades?limit=500",
        "/api/reports/pass-fail?semestre=2S&year=2023",
        "/api/reports/pass-fail?curso=SO1&year=2023",
        "/api/reports/top-courses?semestre=2S",
        "/api/reports/top-students?semestre=X",
        "/api/reports/top-students?semestre=2S",
        "/api/reports/top-students?year=2023",
    ];
    let mut answers = Vec::new();
    for path in cases {
        let (status, body) = app.get(path).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(body["field"].is_string(), "{path}: {body}");
        answers.push(json!({"path": path, "body": body}));
    }
    insta::assert_json_snapshot!(answers);
}

/// The index MySQL chooses for `query`, from `EXPLAIN`.
async fn index_of(
    app: &TestApp,
    push: impl FnOnce(&mut QueryBuilder<'static, MySql>),
) -> Option<String> {
    let mut query = QueryBuilder::new("EXPLAIN ");
    push(&mut query);
    let plan = query
        .build()
        .fetch_all(&app.stores.pool)
        .await
        .expect("explain");
    assert_eq!(plan.len(), 1, "one table, one step");
    plan[0]
        .try_get::<Option<String>, _>("key")
        .expect("key column")
}

#[tokio::test]
async fn every_report_query_is_served_by_an_index() {
    let app = spawn_app().await;
    // Enough rows, spread over every course and term, for the optimizer to prefer indexes.
    let courses = ["SO1", "BD1", "LFP", "SA", "AYD1"];
    let rows: Vec<(u32, &str, &str, u8, &str, u16)> = (0..4000u32)
        .map(|i| {
            (
                1 + i % 700,
                "Alumno",
                courses[i as usize % 5],
                (50 + i % 51) as u8,
                ["1S", "2S"][i as usize % 2],
                2020 + (i % 4) as u16,
            )
        })
        .collect();
    for chunk in rows.chunks(1000) {
        app.seed(chunk).await;
    }
    sqlx::query("ANALYZE TABLE grades")
        .execute(&app.stores.pool)
        .await
        .unwrap();

    let (so1, s2) = (Course::SO1, Semester::Second);
    let by_course = RecordFilter {
        curso: Some(so1),
        semestre: Some(s2),
        year: Some(2023),
        before: None,
    };
    let cases: Vec<(&str, Option<String>, &[&str])> = vec![
        (
            "records, filtered",
            index_of(&app, |q| reports::push_records(q, &by_course, 51)).await,
            &["idx_grades_course_term"],
        ),
        (
            "records, all",
            index_of(&app, |q| {
                reports::push_records(q, &RecordFilter::default(), 51)
            })
            .await,
            &["PRIMARY"],
        ),
        (
            "pass/fail",
            index_of(&app, |q| reports::push_pass_fail(q, so1, s2, 2023)).await,
            &["PRIMARY"],
        ),
        (
            "top courses",
            index_of(&app, |q| reports::push_top_courses(q, s2, 2023)).await,
            &["PRIMARY"],
        ),
        (
            "top students, term",
            index_of(&app, |q| reports::push_top_students(q, Some((s2, 2023)))).await,
            &["idx_student_stats_rank"],
        ),
        (
            "top students, all",
            index_of(&app, |q| reports::push_top_students(q, None)).await,
            &["idx_student_stats_rank"],
        ),
    ];
    for (query, index, expected) in cases {
        let index = index.unwrap_or_else(|| panic!("{query}: no index used"));
        assert!(
            expected.contains(&index.as_str()),
            "{query}: uses {index}, expected one of {expected:?}"
        );
    }
}
