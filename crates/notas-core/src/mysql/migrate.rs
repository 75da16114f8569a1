//! The migration step and the services' user. Two MySQL users, so that a compromised or
//! buggy service cannot drop, alter or grant what it writes:
//! - the **migration user** (`MYSQL_URL` of the migration step: `grpc-server
//!   --migrate-only`, the migration Job on kind and GKE, a step of `just dev`) owns the
//!   schema: it creates the database, applies the migrations (`migrations/`), and makes the
//!   application user exist with its password and exactly [`APP_PRIVILEGES`];
//! - the **application user** (`APP_MYSQL_URL` of the migration step, `MYSQL_URL` of the
//!   services) may read and write the tables the services use, and nothing else: no DDL,
//!   no `GRANT`, no `UPDATE` or `DELETE` of a stored grade.
//!
//! The services never migrate: at start-up they wait until the schema is at the version
//! they were built with ([`check_schema`]).

use super::MySqlArgs;
use crate::store::Store;
use sqlx::{
    ConnectOptions, Connection, Executor, MySql, MySqlConnection, migrate::MigrateDatabase,
    mysql::MySqlConnectOptions,
};
use std::str::FromStr;
use tracing::log::LevelFilter;

/// The migrations, embedded in every binary that uses MySQL.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// What the application user may do, table by table (a new table needs its line here; the
/// services' tests run as that user and fail without it). Grades and their keys are only
/// inserted and read; the backlogs' rows are deleted once applied, expired keys purged; the
/// summaries are upserted.
pub const APP_PRIVILEGES: &[(&str, &str)] = &[
    ("courses", "SELECT"),
    ("grades", "SELECT, INSERT"),
    ("idempotency_keys", "SELECT, INSERT, DELETE"),
    ("summary_backlog", "SELECT, INSERT, DELETE"),
    // Taken with FOR UPDATE, which MySQL allows only with UPDATE too (its manual, "Locking
    // Reads"); its row is never updated.
    ("summarizer_turn", "SELECT, UPDATE"),
    ("live_backlog", "SELECT, INSERT, DELETE"),
    ("course_term_stats", "SELECT, INSERT, UPDATE"),
    ("course_term_students", "SELECT, INSERT"),
    ("student_stats", "SELECT, INSERT, UPDATE"),
    // For the services' check that the schema is theirs.
    ("_sqlx_migrations", "SELECT"),
];

/// Why the migration step could not finish.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    MySql(#[from] sqlx::Error),
    #[error(transparent)]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("timed out waiting for another replica's migrations")]
    Locked,
    #[error("APP_MYSQL_URL: {0}")]
    AppUrl(String),
}

/// The migration step, as the migration user (`args.mysql_url`): creates the database if it
/// is missing, applies the migrations, and, given the application user's URL, makes that
/// user exist with that password and exactly [`APP_PRIVILEGES`] (so running it again after
/// a password change or a new table converges). Safe to run again and from several
/// replicas at once.
///
/// # Errors
/// MySQL is unreachable, a URL is wrong, a migration failed, or the migration user lacks
/// the rights to create the application user or grant it.
pub async fn migrate(args: &MySqlArgs, app_url: Option<&str>) -> Result<(), MigrateError> {
    let url = args.mysql_url.as_str();
    let exists = Store::MySql
        .wait_for_startup(
            || MySql::database_exists(url),
            |e| matches!(e, sqlx::Error::Io(_)),
        )
        .await?;
    if !exists
        && let Err(e) = MySql::create_database(url).await
        // Another replica may have created it in between.
        && !MySql::database_exists(url).await?
    {
        return Err(e.into());
    }
    // Its statements are not logged at any level: they carry the services' password.
    let options = MySqlConnectOptions::from_str(url)?.log_statements(LevelFilter::Off);
    let mut conn = MySqlConnection::connect_with(&options).await?;
    apply_migrations(&mut conn).await?;
    if let Some(app_url) = app_url {
        let database = options
            .get_database()
            .map(str::to_owned)
            .ok_or_else(|| MigrateError::AppUrl("MYSQL_URL names no database".into()))?;
        grant_app_user(&mut conn, &database, app_url).await?;
    }
    conn.close().await?;
    Ok(())
}

/// Applies the migrations under a named lock with a bounded wait, so replicas starting
/// together take turns. (sqlx's own lock asks `GET_LOCK(name, -1)`, which MariaDB does not
/// take as "wait forever", so it does not serialize replicas there.)
async fn apply_migrations(conn: &mut MySqlConnection) -> Result<(), MigrateError> {
    const LOCK: &str = "notas_migrations";
    let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 60)")
        .bind(LOCK)
        .fetch_one(&mut *conn)
        .await?;
    if locked != Some(1) {
        return Err(MigrateError::Locked);
    }
    let applied = MIGRATOR.run(&mut *conn).await;
    sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await?;
    Ok(applied?)
}

/// Creates the application user of `app_url` if it is missing, sets its password, takes
/// away whatever it held, and grants it [`APP_PRIVILEGES`] on `database`.
async fn grant_app_user(
    conn: &mut MySqlConnection,
    database: &str,
    app_url: &str,
) -> Result<(), MigrateError> {
    let (user, password) = user_and_password(app_url)?;
    let account = format!("'{user}'@'%'");
    let password = quoted(&password);
    // Account statements take no placeholders: the user name is checked to be plain
    // ([`user_and_password`]) and the password quoted.
    for statement in [
        format!("CREATE USER IF NOT EXISTS {account} IDENTIFIED BY {password}"),
        format!("ALTER USER {account} IDENTIFIED BY {password}"),
        format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"),
    ] {
        conn.execute(statement.as_str()).await?;
    }
    for (table, privileges) in APP_PRIVILEGES {
        let grant = format!("GRANT {privileges} ON `{database}`.`{table}` TO {account}");
        conn.execute(grant.as_str()).await?;
    }
    tracing::info!(user, database, "application user granted its privileges");
    Ok(())
}

/// The user name and the password of a `mysql://user:password@host/db` URL, decoded.
fn user_and_password(app_url: &str) -> Result<(String, String), MigrateError> {
    let bad = |why: &str| MigrateError::AppUrl(why.to_owned());
    let (_, rest) = app_url
        .split_once("://")
        .ok_or_else(|| bad("not a mysql:// URL"))?;
    let (credentials, _) = rest.rsplit_once('@').ok_or_else(|| bad("names no user"))?;
    let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
    let (user, password) = (percent_decode(user)?, percent_decode(password)?);
    if user.is_empty() || !user.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad("the user name must be letters, digits and _"));
    }
    Ok((user, password))
}

fn percent_decode(text: &str) -> Result<String, MigrateError> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).unwrap_or("");
            let byte = u8::from_str_radix(hex, 16)
                .map_err(|_| MigrateError::AppUrl("a malformed %-escape".into()))?;
            bytes.push(byte);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).map_err(|_| MigrateError::AppUrl("not UTF-8 once decoded".into()))
}

/// A SQL string literal of `text`.
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// The highest migration this build embeds.
fn needed_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Answers `Ok` once the database holds every migration this build embeds.
///
/// # Errors
/// MySQL's, or [`sqlx::Error::Configuration`] naming the versions when the schema is behind.
pub(super) async fn check_schema(pool: &sqlx::MySqlPool) -> Result<(), sqlx::Error> {
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await?;
    let needed = needed_version();
    if applied.unwrap_or(0) < needed {
        return Err(sqlx::Error::Configuration(
            format!(
                "the schema is at migration {}, this build needs {needed}: run the migration \
                 step (`grpc-server --migrate-only`, the migration Job)",
                applied.unwrap_or(0)
            )
            .into(),
        ));
    }
    Ok(())
}

/// Whether a failed [`check_schema`] may pass by waiting: MySQL still starting, or the
/// migration step not yet done (no database, no table, no user, or an older schema).
pub(super) fn worth_waiting(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Configuration(_) => true,
        // Unknown database, no such table, access denied (the user is not made yet).
        sqlx::Error::Database(e) => {
            matches!(e.code().as_deref(), Some("42000" | "42S02" | "28000"))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_user_and_password_come_decoded_from_the_url() {
        let (user, password) =
            user_and_password("mysql://notas_app:p%40ss:w@db:3306/notas").unwrap();
        assert_eq!((user.as_str(), password.as_str()), ("notas_app", "p@ss:w"));
        assert!(user_and_password("mysql://x';DROP@db/notas").is_err());
        assert!(user_and_password("mysql://db/notas").is_err());
    }

    #[test]
    fn a_password_is_quoted_as_one_sql_string() {
        assert_eq!(quoted(r"a'b\c"), r"'a''b\\c'");
    }
}
