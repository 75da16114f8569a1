//! What the store's test binaries share: the store as a service opens it, and a valid grade.

use notas_core::{
    grade::{Grade, GradeInput},
    mysql::{MySqlArgs, grades::GradeStore},
};
use notas_testkit::defaults;

/// The store on `url`, with the services' default settings.
pub async fn connect(url: &str) -> Result<GradeStore, sqlx::Error> {
    let mysql = MySqlArgs {
        mysql_url: url.to_owned(),
        ..defaults()
    };
    GradeStore::connect(&mysql, &defaults()).await
}

/// A valid grade of student `carnet`.
pub fn grade(carnet: i64) -> Grade {
    Grade::parse(GradeInput {
        carnet: Some(carnet),
        nombre: Some("Ana".into()),
        curso: Some("LFP".into()),
        nota: Some(61),
        semestre: Some("1S".into()),
        year: Some(2024),
    })
    .unwrap()
}
