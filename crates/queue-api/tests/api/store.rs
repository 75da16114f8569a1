//! What becomes of accepted grades: each stored exactly once however the consumers fail,
//! the live view exact, what cannot be stored in the dead-letter topic with its reason.

use crate::helpers::{accept, spawn_route};
use notas_queue::message::REASON;
use notas_testkit::contract::{get, payload, post_json, post_with_key};
use rdkafka::{Message, consumer::Consumer, message::Headers, producer::FutureRecord};
use std::{collections::BTreeSet, time::Duration};

fn keys(rows: &[(String, u32)]) -> BTreeSet<String> {
    rows.iter().map(|(k, _)| k.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_202_is_stored_exactly_once_by_a_group_of_two_and_counted_once_live() {
    let route = spawn_route().await;
    let (_a, _b) = (route.consumer().await, route.consumer().await);
    let accepted = accept(&route, 300).await;
    assert_eq!(accepted.len(), 300, "distinct keys");
    let rows = route.stored_eventually(300).await;
    assert_eq!(rows.len(), 300);
    assert_eq!(keys(&rows), accepted);
    assert_eq!(route.live_total_eventually(300).await, 300);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_mysql_down_route_3_keeps_accepting_and_the_queue_drains_when_it_returns() {
    let route = spawn_route().await;
    let _consumer = route.consumer().await;
    route.stores.mysql_proxy.sever().await;
    let accepted = accept(&route, 50).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        route.stored().await.is_empty(),
        "MySQL is down: nothing stored yet"
    );

    route.stores.mysql_proxy.restore().await;
    let rows = route.stored_eventually(50).await;
    assert_eq!(keys(&rows), accepted);
    assert_eq!(rows.len(), 50, "each once");
    assert_eq!(route.live_total_eventually(50).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_stopped_mid_batch_leaves_it_to_the_group_and_nothing_is_stored_twice() {
    let route = spawn_route().await;
    let (first, _second) = (route.consumer().await, route.consumer().await);
    route.stores.mysql_proxy.sever().await;
    let accepted = accept(&route, 30).await;
    // Each consumer holds a batch of its partitions, retrying MySQL.
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.stop();
    drop(first);
    route.stores.mysql_proxy.restore().await;
    let rows = route.stored_eventually(30).await;
    assert_eq!(keys(&rows), accepted);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(route.stored().await.len(), 30, "each once");
    assert_eq!(route.live_total_eventually(30).await, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_and_reused_keys_go_to_the_dead_letter_topic_with_their_reason() {
    let route = spawn_route().await;
    let kafka = route.broker.kafka_args();
    let producer = kafka.producer("test").unwrap();
    for (key, value) in [(Some("bad-json"), "{not json"), (None, "{}")] {
        let mut record = FutureRecord::<str, str>::to(&kafka.kafka_topic).payload(value);
        if let Some(key) = key {
            record = record.key(key);
        }
        producer
            .send(record, Duration::from_secs(5))
            .await
            .map_err(|(e, _)| e)
            .unwrap();
    }
    assert_eq!(
        post_with_key(&route, b"reused", &payload(1)).await.status,
        202
    );
    let _consumer = route.consumer().await;
    assert_eq!(route.stored_eventually(1).await.len(), 1);
    assert_eq!(
        post_with_key(&route, b"reused", &payload(2)).await.status,
        202
    );
    assert_eq!(post_json(&route, &payload(3)).await.status, 202);
    assert_eq!(
        route.stored_eventually(2).await.len(),
        2,
        "poison blocks nothing behind it"
    );

    let letters = kafka
        .consumer("test", "dead-letters", Duration::from_secs(6))
        .unwrap();
    letters
        .subscribe(&[&kafka.kafka_dead_letter_topic])
        .unwrap();
    let mut reasons = Vec::new();
    while reasons.len() < 3 {
        let letter = tokio::time::timeout(Duration::from_secs(20), letters.recv())
            .await
            .expect("three dead letters")
            .unwrap();
        let reason = letter
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == REASON)?.value);
        reasons.push(String::from_utf8_lossy(reason.expect("a reason")).into_owned());
    }
    reasons.sort();
    assert!(
        reasons[0].contains("already used with another grade"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("has no key"), "{reasons:?}");
    assert!(reasons[2].contains("not a grade's JSON"), "{reasons:?}");
    let first = get(&route, "/notas/status/reused").await;
    assert_eq!(
        first.body["record"]["carnet"], 1,
        "the key keeps its first grade"
    );
}
