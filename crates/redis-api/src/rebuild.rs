//! Rebuilding the live view after Redis lost it.
//!
//! Redis keeps nothing on disk (in the cluster and in `just dev`): a restart empties the
//! live view while MySQL still holds every grade. The view carries a `built` marker. On
//! every outbox round each replica checks it; when it is missing, the replica that takes the
//! `rebuilding` lock applies the rows of the routes the view holds (2 and 3) again from MySQL,
//! in id order, through the same script as the writers, puts the recent list back in id
//! order, then sets the marker. Grades written meanwhile are applied by
//! their writers as usual: the script's bitmap of applied ids makes each count once,
//! whoever applies it first. A replica that dies mid-way lets its lock expire and another
//! starts over, which is just as safe.

use crate::outbox::ReplayError;
use notas_core::{
    live::LiveView,
    mysql::grades::{GRADE_COLUMNS, GradeRow, GradeStore, stored_from_row},
    route::Route,
};
use redis::AsyncCommands;

/// Rows read from MySQL and applied per round trip.
const CHUNK: i64 = 1000;
/// How long the lock outlives its holder's last sign of life.
const LOCK_MS: u64 = 30_000;

/// Rebuilds the live view if Redis lost it and no other replica is doing so. Returns how
/// many records it applied, `None` when there was nothing to do here.
///
/// # Errors
/// MySQL or Redis failed; the marker stays unset, so a later round tries again.
pub async fn rebuild_if_lost(
    store: &GradeStore,
    live_view: &LiveView,
) -> Result<Option<usize>, ReplayError> {
    let (mut redis, keys) = (live_view.connection(), live_view.keys());
    if redis.exists(keys.built()).await? {
        return Ok(None);
    }
    let locked: Option<String> = redis::cmd("SET")
        .arg(keys.rebuilding())
        .arg(1)
        .arg("NX")
        .arg("PX")
        .arg(LOCK_MS)
        .query_async(&mut redis)
        .await?;
    if locked.is_none() {
        return Ok(None);
    }
    tracing::info!("the live view is missing from Redis; rebuilding it from MySQL");
    let mut applied = 0;
    for route in Route::IN_LIVE_VIEW {
        let live_view = live_view.for_route(route);
        let mut after = 0u64;
        loop {
            let rows: Vec<GradeRow> = sqlx::query_as(&format!(
                "SELECT {GRADE_COLUMNS} FROM grades g WHERE g.route = ? AND g.id > ? ORDER BY g.id LIMIT ?"
            ))
            .bind(route.as_str())
            .bind(after)
            .bind(CHUNK)
            .fetch_all(store.pool())
            .await?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            let records: Vec<_> = rows.into_iter().filter_map(stored_from_row).collect();
            applied += live_view.apply(&records).await?;
            let _: bool = redis.pexpire(keys.rebuilding(), LOCK_MS as i64).await?;
        }
        let newest: Vec<GradeRow> = sqlx::query_as(&format!(
            "SELECT {GRADE_COLUMNS} FROM grades g WHERE g.route = ? ORDER BY g.id DESC LIMIT ?"
        ))
        .bind(route.as_str())
        .bind(live_view.recent_limit() as i64)
        .fetch_all(store.pool())
        .await?;
        let newest: Vec<_> = newest.into_iter().filter_map(stored_from_row).collect();
        live_view.merge_recent(&newest).await?;
    }
    redis::pipe()
        .atomic()
        .set(keys.built(), 1)
        .del(keys.rebuilding())
        .exec_async(&mut redis)
        .await?;
    tracing::info!(applied, "live view rebuilt from MySQL");
    Ok(Some(applied))
}
