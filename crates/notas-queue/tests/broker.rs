//! What route 3 relies on the broker for, proved against the broker the tests and `just dev`
//! run (nisshi, its SQLite engine), with the client route 3 uses (rdkafka): an append
//! acknowledged with `acks=all` survives the broker's SIGKILL; a group's members share the
//! partitions and take them over when one leaves; a member resumes after the committed
//! offset, and what was not committed comes again; the grades topic has the retention
//! route 3's keys are held to.

use notas_queue::kafka::grades_topic_config;
use notas_testkit::TestBroker;
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    admin::{AdminClient, AdminOptions, ResourceSpecifier},
    client::DefaultClientContext,
    consumer::{CommitMode, Consumer, StreamConsumer},
    producer::FutureRecord,
};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

const SESSION: Duration = Duration::from_secs(6);

fn member(broker: &TestBroker, group: &str) -> StreamConsumer {
    let args = broker.kafka_args();
    let consumer = args.consumer("test", group, SESSION).expect("a consumer");
    consumer
        .subscribe(&[&args.kafka_topic])
        .expect("subscribed");
    consumer
}

/// Appends `n` records keyed `k0`..`k{n-1}` (to `partition` if given), each awaited.
async fn append(broker: &TestBroker, n: usize, partition: Option<i32>) {
    let args = broker.kafka_args();
    let producer = args.producer("test").expect("a producer");
    let sends = (0..n).map(|i| {
        let (producer, topic, key) = (producer.clone(), args.kafka_topic.clone(), format!("k{i}"));
        async move {
            let mut record = FutureRecord::to(&topic).key(&key).payload("v");
            if let Some(p) = partition {
                record = record.partition(p);
            }
            producer
                .send(record, Duration::from_secs(5))
                .await
                .map(drop)
        }
    });
    for sent in futures_util::future::join_all(sends).await {
        sent.map_err(|(e, _)| e).expect("acknowledged");
    }
}

/// Receives until `n` records came or 20 s passed: their (partition, offset, key).
async fn receive(consumer: &StreamConsumer, n: usize) -> Vec<(i32, i64, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = Vec::new();
    while got.len() < n && Instant::now() < deadline {
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await {
            let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
            got.push((m.partition(), m.offset(), key));
        }
    }
    got
}

/// Polls `members` until `done` holds of their assignments (or 30 s passed).
async fn poll_until(members: &[&StreamConsumer], done: impl Fn(&[BTreeSet<i32>]) -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        for m in members {
            let _ = tokio::time::timeout(Duration::from_millis(50), m.recv()).await;
        }
        let assigned: Vec<BTreeSet<i32>> = members
            .iter()
            .map(|m| {
                let list = m.assignment().expect("an assignment");
                list.elements().iter().map(|e| e.partition()).collect()
            })
            .collect();
        if done(&assigned) {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn appends_acknowledged_with_acks_all_survive_a_kill_9_of_the_broker() {
    let broker = TestBroker::start(3).await;
    append(&broker, 2000, None).await;
    broker.kill();
    broker.restart().await;

    let consumer = member(&broker, "after-the-kill");
    let got = receive(&consumer, 2000).await;
    let keys: BTreeSet<String> = got.iter().map(|(_, _, k)| k.clone()).collect();
    assert_eq!(got.len(), 2000, "each acknowledged record once");
    assert_eq!(keys, (0..2000).map(|i| format!("k{i}")).collect());
}

#[tokio::test]
async fn two_members_share_the_partitions_and_one_takes_over_when_the_other_leaves() {
    let broker = TestBroker::start(3).await;
    let first = member(&broker, "sharing");
    assert!(
        poll_until(&[&first], |a| a[0].len() == 3).await,
        "a lone member has all three partitions"
    );
    let second = member(&broker, "sharing");
    let shared = poll_until(&[&first, &second], |a| {
        !a[0].is_empty()
            && !a[1].is_empty()
            && a[0].is_disjoint(&a[1])
            && a[0].len() + a[1].len() == 3
    })
    .await;
    assert!(
        shared,
        "two members share the three partitions, each its own"
    );
    drop(second);
    assert!(
        poll_until(&[&first], |a| a[0].len() == 3).await,
        "the remaining member takes the partitions back"
    );
}

#[tokio::test]
async fn a_member_resumes_after_the_committed_offset_and_the_rest_comes_again() {
    let broker = TestBroker::start(3).await;
    append(&broker, 20, Some(0)).await;
    let first = member(&broker, "resuming");
    let got = receive(&first, 20).await;
    assert_eq!(got.len(), 20);
    // Commit the first ten only, then leave: a member that dies mid-batch commits nothing more.
    let mut offsets = TopicPartitionList::new();
    let topic = broker.kafka_args().kafka_topic;
    offsets
        .add_partition_offset(&topic, 0, Offset::Offset(got[9].1 + 1))
        .unwrap();
    first.commit(&offsets, CommitMode::Sync).expect("committed");
    drop(first);

    let second = member(&broker, "resuming");
    let again = receive(&second, 10).await;
    let keys: Vec<&str> = again.iter().map(|(_, _, k)| k.as_str()).collect();
    let expected: Vec<String> = (10..20).map(|i| format!("k{i}")).collect();
    assert_eq!(keys, expected, "from the committed offset on, in order");
    assert!(
        receive(&second, 1).await.is_empty(),
        "nothing before it comes again"
    );
}

#[tokio::test]
async fn a_record_keeps_the_time_it_was_accepted() {
    // Route 3's time from 202 to stored reads the record's create time, which queue-api sets.
    let broker = TestBroker::start(3).await;
    let args = broker.kafka_args();
    let producer = args.producer("test").expect("a producer");
    let record = FutureRecord::to(&args.kafka_topic)
        .key("k")
        .payload("v")
        .timestamp(1_700_000_000_123);
    producer
        .send(record, Duration::from_secs(5))
        .await
        .map_err(|(e, _)| e)
        .expect("acknowledged");
    let consumer = member(&broker, "timestamps");
    let deadline = Instant::now() + Duration::from_secs(20);
    let received = loop {
        assert!(Instant::now() < deadline, "the record did not come back");
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await {
            break m.detach();
        }
    };
    assert_eq!(
        notas_queue::message::accepted_at_ms(&received),
        Some(1_700_000_000_123)
    );
}

#[tokio::test]
async fn the_grades_topic_is_created_with_its_retention() {
    // The keys' lifetime in MySQL is held to these settings (notas_queue::kafka), and the
    // clusters' KafkaTopic to the same (deploy-checks): the broker must have them as set.
    let broker = TestBroker::start(3).await;
    let args = broker.kafka_args();
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &args.kafka_brokers)
        .create()
        .expect("an admin client");
    let described = admin
        .describe_configs(
            &[ResourceSpecifier::Topic(&args.kafka_topic)],
            &AdminOptions::new().request_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("the broker answers");
    let resource = described[0].as_ref().expect("the topic's settings");
    let entries = resource.entry_map();
    for (name, value) in grades_topic_config() {
        let entry = entries
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing in {:?}", resource.entries));
        assert_eq!(entry.value.as_deref(), Some(value.as_str()), "{name}");
    }
}
