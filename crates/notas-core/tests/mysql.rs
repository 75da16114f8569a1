//! The MySQL store against a real MariaDB.

mod common;

use common::{connect, grade};
use notas_core::{
    grade::{Grade, GradeInput},
    idempotency::IdempotencyKey,
    mysql::{
        MySqlArgs,
        grades::{GradeStore, Outcome, Submission},
        migrate::{MIGRATOR, migrate},
        upkeep::KEY_LIFETIME,
    },
    route::Route,
};
use notas_testkit::{TestDb, defaults};

fn stored_id(outcome: Outcome) -> u64 {
    match outcome {
        Outcome::Stored(id) => id,
        other => panic!("not stored: {other:?}"),
    }
}

fn keyed(carnet: i64, key: &str) -> Submission {
    Submission {
        grade: grade(carnet),
        key: Some(IdempotencyKey::parse(key.as_bytes()).unwrap()),
    }
}

async fn count_grades(store: &GradeStore) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM grades")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_steps_running_together_create_and_migrate_the_database_once() {
    let db = TestDb::empty().await;
    let fresh = MySqlArgs {
        mysql_url: format!("{}_fresh", db.admin_url), // a database nobody created yet
        ..defaults()
    };
    let steps = (0..4).map(|_| migrate(&fresh, None));
    for step in futures_util::future::join_all(steps).await {
        assert!(step.is_ok(), "{step:?}");
    }
    let store = connect(&fresh.mysql_url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(applied, MIGRATOR.iter().count() as i64);
    sqlx::query(&format!("DROP DATABASE `{}_fresh`", db.name))
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_service_waits_for_the_migration_step_then_starts() {
    let db = TestDb::empty().await;
    let (service, step) = tokio::join!(connect(&db.url), async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let admin = MySqlArgs {
            mysql_url: db.admin_url.clone(),
            ..defaults()
        };
        migrate(&admin, None).await
    });
    step.unwrap();
    assert!(service.is_ok(), "{service:?}");
}

/// What the services' user may not do, each answered "access denied" (1142: to a table,
/// 1044: to the database, 1227/1045/1410: to accounts).
#[tokio::test]
async fn the_services_user_cannot_drop_alter_create_grant_or_rewrite_grades() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    store.insert(Route::Grpc, &[grade(1).into()]).await.unwrap();
    let forbidden = [
        "DROP TABLE grades".to_owned(),
        "ALTER TABLE grades ADD COLUMN extra INT".to_owned(),
        "CREATE TABLE extra (id INT)".to_owned(),
        "TRUNCATE TABLE idempotency_keys".to_owned(),
        format!("DROP DATABASE `{}`", db.name),
        "GRANT SELECT ON grades TO CURRENT_USER".to_owned(),
        "CREATE USER intruder IDENTIFIED BY 'x'".to_owned(),
        "UPDATE grades SET nota = 100".to_owned(),
        "DELETE FROM grades".to_owned(),
    ];
    for statement in forbidden {
        let error = sqlx::query(&statement)
            .execute(store.pool())
            .await
            .expect_err(&statement);
        let code = error.as_database_error().and_then(|e| e.code());
        // SQLSTATE 42000 is MySQL's "syntax error or access rule violation" class: every
        // denial above answers it (1142, 1044, 1227, 1410).
        assert_eq!(code.as_deref(), Some("42000"), "{statement}: {error}");
        assert!(error.to_string().contains("denied"), "{statement}: {error}");
    }
    assert_eq!(count_grades(&store).await, 1);
}

#[tokio::test]
async fn a_batch_insert_returns_the_id_of_each_row_in_order() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    let batch = [grade(10), grade(20), grade(30)].map(Submission::from);
    let ids: Vec<u64> = store
        .insert(Route::Redis, &batch)
        .await
        .unwrap()
        .into_iter()
        .map(stored_id)
        .collect();
    let rows: Vec<(u64, u32)> = sqlx::query_as("SELECT id, carnet FROM grades ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, vec![(ids[0], 10), (ids[1], 20), (ids[2], 30)]);
}

/// Names that would break or inject into a quoted string are stored byte for byte, and every
/// other field as given.
#[tokio::test]
async fn names_are_stored_exactly_whatever_their_characters() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    let names = [
        "O'Brien",
        r"back\slash\",
        "'); DROP TABLE grades; --",
        "Ñandú Pérez 漢字 😀",
        "\"quoted\" %_",
    ];
    let batch: Vec<Submission> = names
        .iter()
        .enumerate()
        .map(|(i, nombre)| {
            Submission::from(
                Grade::parse(GradeInput {
                    carnet: Some(i as i64 + 1),
                    nombre: Some((*nombre).into()),
                    curso: Some("AYD1".into()),
                    nota: Some(100 - i as i64),
                    semestre: Some("2S".into()),
                    year: Some(2025),
                })
                .unwrap(),
            )
        })
        .collect();
    store.insert(Route::Grpc, &batch).await.unwrap();
    type Row = (u32, String, String, u8, String, u16, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT carnet, nombre, curso, nota, CAST(semestre AS CHAR), year, CAST(route AS CHAR) \
         FROM grades ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let expected: Vec<Row> = names
        .iter()
        .enumerate()
        .map(|(i, nombre)| {
            let i = i as u32;
            let nota = 100 - i as u8;
            (
                i + 1,
                (*nombre).into(),
                "AYD1".into(),
                nota,
                "2S".into(),
                2025,
                "grpc".into(),
            )
        })
        .collect();
    assert_eq!(rows, expected);
}

/// The summaries the reports read equal the same figures computed from the grades, after
/// many concurrent batches touching the same courses and students, summarized meanwhile by
/// two summarizers (two replicas) racing for the backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_keep_the_report_summaries_exact() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    let summarizers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut cleared = 0;
                for _ in 0..20 {
                    cleared += store.summarize().await.unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                cleared
            })
        })
        .collect();
    let courses = ["SO1", "BD1", "LFP", "SA", "AYD1"];
    let batches = (0..40).map(|b| {
        let store = store.clone();
        let grades: Vec<Grade> = (0..50)
            .map(|i| {
                let n = b * 50 + i;
                Grade::parse(GradeInput {
                    carnet: Some(1 + n % 37),
                    nombre: Some("A".into()),
                    curso: Some(courses[n as usize % 5].into()),
                    nota: Some(50 + (n % 6) * 10),
                    semestre: Some(["1S", "2S"][n as usize % 2].into()),
                    year: Some(2023),
                })
                .unwrap()
            })
            .collect();
        let batch: Vec<Submission> = grades.into_iter().map(Submission::from).collect();
        tokio::spawn(async move { store.insert(Route::Grpc, &batch).await.unwrap() })
    });
    for batch in batches.collect::<Vec<_>>() {
        batch.await.unwrap();
    }
    let mut cleared = 0;
    for summarizer in summarizers {
        cleared += summarizer.await.unwrap();
    }
    while let n @ 1.. = store.summarize().await.unwrap() {
        cleared += n;
    }
    assert_eq!(cleared, 40, "each batch's debt is cleared once");
    let pool = store.pool();
    let owed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM summary_backlog")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(owed, 0);
    let same = |a: &str, b: &str| {
        let (a, b) = (a.to_owned(), b.to_owned());
        async move {
            let from_summary: Vec<(String, u64, u64, u64)> =
                sqlx::query_as(&a).fetch_all(pool).await.unwrap();
            let from_grades: Vec<(String, u64, u64, u64)> =
                sqlx::query_as(&b).fetch_all(pool).await.unwrap();
            assert!(!from_grades.is_empty());
            assert_eq!(from_summary, from_grades);
        }
    };
    same(
        "SELECT CONCAT(semestre, year, curso), passed, failed, students FROM course_term_stats ORDER BY 1",
        "SELECT CONCAT(semestre, year, curso), CAST(SUM(nota >= 61) AS UNSIGNED), CAST(SUM(nota < 61) AS UNSIGNED), \
         CAST(COUNT(DISTINCT carnet) AS UNSIGNED) FROM grades GROUP BY semestre, year, curso ORDER BY 1",
    )
    .await;
    same(
        "SELECT CONCAT(semestre, year, carnet), total, grades, avg_x10000 FROM student_stats WHERE year > 0 ORDER BY 1",
        "SELECT CONCAT(semestre, year, carnet), CAST(SUM(nota) AS UNSIGNED), CAST(COUNT(*) AS UNSIGNED), \
         CAST(SUM(nota) * 10000 DIV COUNT(*) AS UNSIGNED) FROM grades GROUP BY semestre, year, carnet ORDER BY 1",
    )
    .await;
    same(
        "SELECT CONCAT(carnet), total, grades, avg_x10000 FROM student_stats WHERE year = 0 ORDER BY 1",
        "SELECT CONCAT(carnet), CAST(SUM(nota) AS UNSIGNED), CAST(COUNT(*) AS UNSIGNED), \
         CAST(SUM(nota) * 10000 DIV COUNT(*) AS UNSIGNED) FROM grades GROUP BY carnet ORDER BY 1",
    )
    .await;
}

/// One summarizing round at a time: while another holds the turn, a round clears nothing and
/// leaves the backlog owed; once the turn is free, the next round clears it.
#[tokio::test]
async fn a_round_leaves_the_backlog_to_the_round_holding_the_turn() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    store
        .insert(Route::Grpc, &[grade(201_901_234).into()])
        .await
        .unwrap();
    let mut other = store.pool().begin().await.unwrap();
    sqlx::query("SELECT id FROM summarizer_turn FOR UPDATE")
        .execute(&mut *other)
        .await
        .unwrap();
    assert_eq!(store.summarize().await.unwrap(), 0, "the turn is taken");
    other.rollback().await.unwrap();
    assert_eq!(store.summarize().await.unwrap(), 1, "the turn is free");
}

#[tokio::test]
async fn a_key_stores_its_grade_once_and_refuses_another_grade() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    let first = store
        .insert(Route::Grpc, &[keyed(1, "k-1"), keyed(2, "k-2")])
        .await
        .unwrap();
    let (id1, id2) = (stored_id(first[0]), stored_id(first[1]));
    // Retries in a later batch, on the other route, and twice within one batch.
    let again = store
        .insert(
            Route::Redis,
            &[
                keyed(1, "k-1"),
                keyed(3, "k-3"),
                keyed(3, "k-3"),
                keyed(9, "k-2"),
            ],
        )
        .await
        .unwrap();
    let id3 = stored_id(again[1]);
    assert_eq!(
        again,
        vec![
            Outcome::Retried(id1),
            Outcome::Stored(id3),
            Outcome::Retried(id3),
            Outcome::KeyReused,
        ]
    );
    assert_ne!(id2, id3);
    assert_eq!(count_grades(&store).await, 3);
}

/// Retries of one grade racing each other from many batches (two replicas, or both
/// routes): exactly one row, and every retry answered with its id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_key_store_one_row() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    let tries = (0..20).map(|i| {
        let store = store.clone();
        let route = if i % 2 == 0 {
            Route::Grpc
        } else {
            Route::Redis
        };
        tokio::spawn(async move { store.insert(route, &[keyed(7, "same")]).await.unwrap()[0] })
    });
    let mut ids = Vec::new();
    for t in tries.collect::<Vec<_>>() {
        match t.await.unwrap() {
            Outcome::Stored(id) | Outcome::Retried(id) => ids.push(id),
            Outcome::KeyReused => panic!("same grade, same key"),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one id for every retry: {ids:?}");
    assert_eq!(count_grades(&store).await, 1);
}

#[tokio::test]
async fn keys_older_than_their_lifetime_are_purged_and_newer_ones_kept() {
    let db = TestDb::new().await;
    let store = connect(&db.url).await.unwrap();
    store
        .insert(
            Route::Grpc,
            &[keyed(1, "old"), keyed(2, "nearly old"), keyed(3, "new")],
        )
        .await
        .unwrap();
    // Backdated behind the services' back: their user may not update keys.
    let admin = sqlx::MySqlPool::connect(&db.admin_url).await.unwrap();
    for (key, age) in [
        ("old", KEY_LIFETIME.as_secs() + 60),
        ("nearly old", KEY_LIFETIME.as_secs() - 60),
    ] {
        sqlx::query(
            "UPDATE idempotency_keys SET created_at = NOW(3) - INTERVAL ? SECOND WHERE idem_key = ?",
        )
        .bind(age)
        .bind(key)
        .execute(&admin)
        .await
        .unwrap();
    }
    assert_eq!(store.purge_keys().await.unwrap(), 1);
    let left: Vec<String> =
        sqlx::query_scalar("SELECT CAST(idem_key AS CHAR) FROM idempotency_keys ORDER BY grade_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(left, ["nearly old", "new"]);
}
