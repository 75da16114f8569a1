//! `spawn_app`: dashboard-api on a random port with its own database and Redis prefix.

use clap::Parser;
use dashboard_api::{app::Application, config::Config};
use notas_core::{
    grade::{Grade, GradeInput},
    mysql::{BatchArgs, GradeStore, MySqlArgs},
    route::Route,
    shutdown::CancellationToken,
    testkit::{TestDb, TestRedis},
};
use serde_json::Value;
use sqlx::MySqlPool;

pub struct TestApp {
    pub base_url: String,
    pub pool: MySqlPool,
    store: GradeStore,
    pub redis: TestRedis,
    shutdown: CancellationToken,
    _db: TestDb,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra flags.
pub async fn spawn_app_with(extra: &[&str]) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        notas_core::telemetry::init();
    }
    let db = TestDb::new().await;
    let redis = TestRedis::new().await;
    let args = [
        "dashboard-api".to_owned(),
        "--listen-addr=127.0.0.1:0".to_owned(),
        format!("--mysql-url={}", db.url),
        format!("--redis-url={}", redis.url),
        format!("--redis-key-prefix={}", redis.prefix),
    ];
    let config =
        Config::try_parse_from(args.into_iter().chain(extra.iter().map(|a| a.to_string())))
            .expect("test configuration");
    let app = Application::build(config)
        .await
        .expect("dashboard-api starts");
    let base_url = format!("http://{}", app.addr());
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        base_url,
        pool: MySqlPool::connect(&db.url).await.expect("test pool"),
        store: store(&db.url).await,
        redis,
        shutdown,
        _db: db,
    }
}

/// The grades store the routes write with, on the test's database.
async fn store(url: &str) -> GradeStore {
    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        mysql: MySqlArgs,
        #[command(flatten)]
        batch: BatchArgs,
    }
    let args = Args::parse_from(["seed", &format!("--mysql-url={url}")]);
    GradeStore::connect(&args.mysql, &args.batch)
        .await
        .expect("grade store")
}

impl TestApp {
    /// `GET path`: the status and the JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{path}", self.base_url))
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.expect("a JSON body"))
    }

    /// Stores rows `(carnet, nombre, curso, nota, semestre, year)` in order (ids 1, 2, ...
    /// in a fresh database) the way the routes do, so the report summaries follow.
    pub async fn seed(&self, rows: &[(u32, &str, &str, u8, &str, u16)]) {
        let grades: Vec<Grade> = rows
            .iter()
            .map(|(carnet, nombre, curso, nota, semestre, year)| {
                Grade::parse(GradeInput {
                    carnet: Some((*carnet).into()),
                    nombre: Some((*nombre).into()),
                    curso: Some((*curso).into()),
                    nota: Some((*nota).into()),
                    semestre: Some((*semestre).into()),
                    year: Some((*year).into()),
                })
                .expect("a valid grade")
            })
            .collect();
        self.store
            .insert(Route::Redis, &grades)
            .await
            .expect("seed rows");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
