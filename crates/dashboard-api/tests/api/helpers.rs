//! `spawn_app`: dashboard-api on a random port with its own database and Redis prefix.

use dashboard_api::{app::Application, config::Config};
use notas_core::{
    grade::{Grade, GradeInput},
    mysql::{
        MySqlArgs,
        grades::{GradeStore, Submission},
    },
    route::Route,
};
use notas_testkit::{ANY_PORT, Stores, TestService, defaults, spawn_service};
use serde_json::Value;

pub struct TestApp {
    pub service: TestService,
    store: GradeStore,
    pub stores: Stores,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with `adjust` applied to the configuration.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let stores = Stores::mysql_and_redis().await;
    let mut config: Config = defaults();
    config.listen_addr = ANY_PORT;
    config.mysql.mysql_url = stores.db.url.clone();
    config.redis.redis_url = stores.redis().url.clone();
    config.redis.redis_key_prefix = stores.redis().prefix.clone();
    adjust(&mut config);
    let app = Application::build(config)
        .await
        .expect("dashboard-api starts");
    let service = spawn_service(app.addr(), |shutdown| app.run_until_stopped(shutdown));
    TestApp {
        service,
        store: store(&stores.db.url).await,
        stores,
    }
}

/// The grades store the routes write with, on the test's database.
async fn store(url: &str) -> GradeStore {
    let mysql = MySqlArgs {
        mysql_url: url.to_owned(),
        ..defaults()
    };
    GradeStore::connect(&mysql, &defaults())
        .await
        .expect("grade store")
}

impl TestApp {
    /// `GET path`: the status and the JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{path}", self.service.base_url))
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
        let batch: Vec<Submission> = grades.into_iter().map(Submission::from).collect();
        self.store
            .insert(Route::Redis, &batch)
            .await
            .expect("seed rows");
        // The writers' summarizer is not running here: catch the summaries up as it would.
        while self.store.summarize().await.expect("summarize") > 0 {}
    }
}
