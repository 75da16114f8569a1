//! grpc-server called directly with a tonic client, with real MariaDB.

mod helpers;
mod server;

use helpers::spawn_server;
use notas_proto::v1::{
    FieldViolation, Grade, RegisterGradeRequest, RegisterGradesRequest, grade_outcome::Outcome,
};
use notas_testkit::contract::eventually;
use serde::Serialize;
use std::time::Duration;
use tonic::Code;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use tonic_types::StatusExt;

fn grade(carnet: u64) -> Grade {
    Grade {
        carnet,
        nombre: "Alumno 1".into(),
        curso: "SO1".into(),
        nota: 90,
        semestre: "2S".into(),
        year: 2023,
    }
}

#[tokio::test]
async fn stores_a_valid_grade_and_answers_its_id() {
    let server = spawn_server().await;
    let id = server.register(grade(233233)).await.unwrap();

    let row: (u32, String, String, u8, String, u16, String) = sqlx::query_as(
        "SELECT carnet, nombre, curso, nota, CAST(semestre AS CHAR), year, CAST(route AS CHAR) FROM grades WHERE id = ?",
    )
    .bind(id)
    .fetch_one(&server.stores.pool)
    .await
    .unwrap();
    assert_eq!(
        row,
        (
            233233,
            "Alumno 1".into(),
            "SO1".into(),
            90,
            "2S".into(),
            2023,
            "grpc".into()
        )
    );
}

/// What an `INVALID_ARGUMENT` carries, for the snapshot.
#[derive(Serialize)]
struct Refusal {
    case: &'static str,
    code: String,
    message: String,
    field: Option<String>,
}

#[tokio::test]
async fn refuses_invalid_messages_naming_the_field() {
    let server = spawn_server().await;
    let mut client = server.client().await;
    let cases: Vec<(&str, Option<Grade>)> = vec![
        ("no grade", None),
        (
            "carnet unset",
            Some(Grade {
                carnet: 0,
                ..grade(1)
            }),
        ),
        (
            "carnet beyond u32",
            Some(Grade {
                carnet: u64::from(u32::MAX) + 1,
                ..grade(1)
            }),
        ),
        (
            "nombre empty",
            Some(Grade {
                nombre: String::new(),
                ..grade(1)
            }),
        ),
        (
            "curso unknown",
            Some(Grade {
                curso: "MATE1".into(),
                ..grade(1)
            }),
        ),
        (
            "nota above 100",
            Some(Grade {
                nota: 101,
                ..grade(1)
            }),
        ),
        (
            "semestre unset",
            Some(Grade {
                semestre: String::new(),
                ..grade(1)
            }),
        ),
        (
            "year unset",
            Some(Grade {
                year: 0,
                ..grade(1)
            }),
        ),
    ];
    let mut refusals = Vec::new();
    for (case, grade) in cases {
        let status = client
            .register_grade(RegisterGradeRequest {
                grade,
                ..Default::default()
            })
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::InvalidArgument, "{case}");
        let field = status
            .get_details_bad_request()
            .and_then(|b| b.field_violations.first().map(|v| v.field.clone()));
        assert!(field.is_some(), "{case}: no BadRequest detail");
        refusals.push(Refusal {
            case,
            code: format!("{:?}", status.code()),
            message: status.message().to_owned(),
            field,
        });
    }
    insta::assert_json_snapshot!(refusals);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grades")
        .fetch_one(&server.stores.pool)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

fn keyed(grade: Grade, key: &str) -> RegisterGradeRequest {
    RegisterGradeRequest {
        grade: Some(grade),
        idempotency_key: key.into(),
    }
}

/// One `RegisterGrades` call: the outcome of each grade, in order.
async fn register_all(
    server: &helpers::TestServer,
    grades: Vec<RegisterGradeRequest>,
) -> Vec<Outcome> {
    let response = server
        .client()
        .await
        .register_grades(RegisterGradesRequest { grades })
        .await
        .unwrap();
    let outcomes = response.into_inner().outcomes;
    outcomes.into_iter().map(|o| o.outcome.unwrap()).collect()
}

#[tokio::test]
async fn grades_sent_together_each_get_their_own_outcome_in_order() {
    let server = spawn_server().await;
    let first = server.register(grade(1)).await.unwrap();
    let stored_before = keyed(grade(2), "k-2");
    let Outcome::Id(keyed_id) = register_all(&server, vec![stored_before.clone()]).await[0] else {
        panic!("the keyed grade was not stored");
    };

    let outcomes = register_all(
        &server,
        vec![
            keyed(grade(3), ""),
            keyed(
                Grade {
                    nota: 101,
                    ..grade(4)
                },
                "",
            ),
            stored_before,                   // a retry: the first id, nothing stored
            keyed(grade(5), "k-2"),          // the key with another grade
            keyed(grade(6), "bad\u{7f}key"), // not printable ASCII
            keyed(grade(7), "k-7"),
        ],
    )
    .await;

    let invalid = |field: &str, description: &str| {
        Outcome::Invalid(FieldViolation {
            field: field.into(),
            description: description.into(),
        })
    };
    let ids: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Id(id) => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 3, "{outcomes:?}");
    assert!(ids[0] > first && ids[2] > first, "{outcomes:?}");
    assert_eq!(outcomes[2], Outcome::Id(keyed_id));
    assert_eq!(outcomes[1], invalid("nota", "must be between 0 and 100"));
    assert_eq!(
        outcomes[3],
        invalid("Idempotency-Key", "was already used with another grade")
    );
    assert!(
        matches!(&outcomes[4], Outcome::Invalid(v) if v.field == "Idempotency-Key"),
        "{outcomes:?}"
    );
    let carnets: Vec<u32> = sqlx::query_scalar("SELECT carnet FROM grades ORDER BY carnet")
        .fetch_all(&server.stores.pool)
        .await
        .unwrap();
    assert_eq!(carnets, [1, 2, 3, 7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grades_sent_together_are_unavailable_while_mysql_is_unreachable() {
    let server = spawn_server().await;
    server.stores.mysql_proxy.sever().await;
    let outcomes = register_all(&server, vec![keyed(grade(1), ""), keyed(grade(2), "k")]).await;
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Unavailable(_))),
        "{outcomes:?}"
    );
    server.stores.mysql_proxy.restore().await;
    let back = eventually(Duration::from_secs(20), || async {
        let outcomes = register_all(&server, vec![keyed(grade(3), "")]).await;
        matches!(outcomes[0], Outcome::Id(_))
    })
    .await;
    assert!(back, "grpc-server did not recover when MySQL came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_follows_mysql_and_unreachable_mysql_is_unavailable() {
    let server = spawn_server().await;
    let channel = tonic::transport::Channel::from_shared(server.grpc.grpc_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel);
    assert!(reports(&health, ServingStatus::Serving).await);

    server.stores.mysql_proxy.sever().await;
    let refused = server.register(grade(2)).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(
        reports(&health, ServingStatus::NotServing).await,
        "health kept SERVING with MySQL gone"
    );

    server.stores.mysql_proxy.restore().await;
    let back = eventually(Duration::from_secs(20), || async {
        server.register(grade(3)).await.is_ok()
    })
    .await;
    assert!(back, "grpc-server did not recover when MySQL came back");
    assert!(
        reports(&health, ServingStatus::Serving).await,
        "health did not return to SERVING"
    );
}

/// Whether the health service reports `want` for the grade service within 10 s.
async fn reports(health: &HealthClient<tonic::transport::Channel>, want: ServingStatus) -> bool {
    eventually(Duration::from_secs(10), || {
        let mut health = health.clone();
        async move {
            let request = HealthCheckRequest {
                service: "notas.v1.GradeService".into(),
            };
            health
                .check(request)
                .await
                .is_ok_and(|r| r.into_inner().status() == want)
        }
    })
    .await
}

#[tokio::test]
async fn admin_port_serves_health_readiness_and_metrics() {
    let server = spawn_server().await;
    server.register(grade(9)).await.unwrap();
    let get = |path: &str| reqwest::get(format!("{}{path}", server.grpc.admin_url));
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("notas_batch_size_bucket"),
        "no batch-size histogram in:\n{metrics}"
    );
    // The flush times, in their own finer buckets (3 ms lies between two of them).
    assert!(
        metrics.contains(r#"notas_batch_flush_seconds_bucket{le="0.003"}"#),
        "no flush-time histogram in:\n{metrics}"
    );
}

#[test]
fn migrate_only_applies_the_schema_makes_the_services_user_and_exits() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(notas_testkit::TestDb::empty());
    let user = format!("nt_{}", &db.name[db.name.len() - 16..]);
    let (_, host) = db.admin_url.split_once('@').unwrap();
    let app_url = format!("mysql://{user}:s3cret%21@{host}");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_grpc-server"))
        .arg("--migrate-only")
        .env("MYSQL_URL", &db.admin_url)
        .env("APP_MYSQL_URL", &app_url)
        .status()
        .expect("run grpc-server");
    assert!(status.success());
    // The services' user sees exactly the tables it was granted.
    let mut tables: Vec<String> = runtime.block_on(async {
        let pool = sqlx::MySqlPool::connect(&app_url).await.unwrap();
        let tables = sqlx::query_scalar(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        let admin = sqlx::MySqlPool::connect(&db.admin_url).await.unwrap();
        sqlx::query(&format!("DROP USER '{user}'@'%'"))
            .execute(&admin)
            .await
            .unwrap();
        tables
    });
    tables.sort();
    assert_eq!(
        tables,
        [
            "_sqlx_migrations",
            "course_term_stats",
            "course_term_students",
            "courses",
            "grades",
            "idempotency_keys",
            "live_backlog",
            "student_stats",
            "summarizer_turn",
            "summary_backlog"
        ]
    );
}
