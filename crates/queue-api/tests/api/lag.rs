//! The consumer group's lag as grade-consumer exports it at `/metrics`: the records still owed
//! to MySQL and how long the oldest has waited rise while MySQL is cut, hold while a member
//! leaves and the group moves its partitions, and both fall to 0 once the queue has drained.

use crate::helpers::{STORED_WITHIN, TestRoute, accept, spawn_route};
use notas_testkit::TestService;
use std::time::Duration;
use tokio::time::Instant;

/// The values of gauge `name` for `route`'s group, one per partition.
async fn gauges(consumer: &TestService, route: &TestRoute, name: &str) -> Vec<f64> {
    let group = format!("group=\"{}\"", route.group);
    consumer
        .metrics()
        .await
        .lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) && l.contains(&group))
        .map(|l| l.rsplit(' ').next().unwrap().parse().expect("a number"))
        .collect()
}

/// (records waiting over the partitions, the oldest's wait in seconds, partitions reported).
type Lag = (f64, f64, usize);

async fn lag(consumer: &TestService, route: &TestRoute) -> Lag {
    let records = gauges(consumer, route, "notas_queue_lag_records").await;
    let seconds = gauges(consumer, route, "notas_queue_lag_seconds").await;
    (
        records.iter().sum(),
        seconds.iter().copied().fold(0.0, f64::max),
        records.len(),
    )
}

/// The lag once `check` holds of it, or when [`STORED_WITHIN`] has passed.
async fn lag_once(consumer: &TestService, route: &TestRoute, check: impl Fn(Lag) -> bool) -> Lag {
    let deadline = Instant::now() + STORED_WITHIN;
    loop {
        let lag = lag(consumer, route).await;
        if check(lag) || Instant::now() > deadline {
            return lag;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_lag_rises_while_mysql_is_cut_holds_when_a_member_leaves_and_falls_to_0_once_drained()
 {
    let route = spawn_route().await;
    let (consumer, second) = (route.consumer().await, route.consumer().await);
    // The members share the three partitions; nothing waits.
    let idle = (0.0, 0.0, 3);
    assert_eq!(lag_once(&consumer, &route, |l| l == idle).await, idle);

    route.stores.mysql_proxy.sever().await;
    assert_eq!(accept(&route, 40).await.len(), 40);
    let (records, before, _) = lag_once(&consumer, &route, |l| l.0 == 40.0).await;
    assert_eq!(records, 40.0, "every record waits");
    // 4 s: each reading is a refresh up to a second old (grade-consumer's lag::REFRESH), so
    // the two can be a second closer together than the sleep; 3 s left no margin (1.97 s).
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (records, after, _) = lag(&consumer, &route).await;
    assert_eq!(records, 40.0, "MySQL is cut: nothing stored");
    assert!(
        after >= before + 2.0 && after >= 2.5,
        "the oldest record's wait grows with the outage: {before} s, then {after} s"
    );
    assert!(route.stored().await.is_empty());
    // One member leaves mid-batch: the group gives its partitions to the other, and the lag
    // reads the same throughout (each member reports every partition, owned or not).
    second.stop();
    drop(second);
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(8) {
        let (records, _, partitions) = lag(&consumer, &route).await;
        assert_eq!((records, partitions), (40.0, 3), "through the rebalance");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    route.stores.mysql_proxy.restore().await;
    assert_eq!(
        lag_once(&consumer, &route, |l| l == idle).await,
        idle,
        "the queue drained"
    );
    assert_eq!(route.stored().await.len(), 40);
}
