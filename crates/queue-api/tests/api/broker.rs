//! Route 3's promise through the broker's own failures, on the test kit's real broker: a
//! consumer killed -9 hands its partitions over, the whole route killed -9 and restarted
//! on the same data stores every `202` once, a clean stop leaves no panic in the broker's
//! log, and the idempotent producer appends each record once through a broker kill.
//!
//! queue-api and grade-consumer run here as real processes, so that a SIGKILL is a member
//! that dies, not one that leaves the group.

use notas_testkit::{
    Stores, TestBroker, TestProcess, contract::payload, wait_for_group, workspace_bin,
};
use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::Consumer,
    producer::{FutureProducer, FutureRecord},
};
use std::{
    collections::{BTreeMap, BTreeSet},
    io::Write,
    path::PathBuf,
    time::{Duration, Instant},
};
use tokio::task::JoinSet;

const PARTITIONS: i32 = 3;
/// The consumers' session: a member silent this long is dead to the broker.
const SESSION_MS: u64 = 6000;
/// Longest the group may take to settle (a join, or a dead member's expiry and a rebalance).
const SETTLED_WITHIN: Duration = Duration::from_secs(30);
const STORED_WITHIN: Duration = Duration::from_secs(20);

/// Route 3 as processes: stores and a broker of the test's own, one consumer group.
struct Route {
    stores: Stores,
    broker: TestBroker,
    group: String,
    consumer_bin: PathBuf,
}

impl Route {
    async fn start() -> Route {
        let consumer_bin = workspace_bin("grade-consumer", "grade-consumer");
        Route {
            stores: Stores::mysql_and_redis().await,
            broker: TestBroker::start(PARTITIONS).await,
            group: format!("grade-consumer-{}", uuid::Uuid::new_v4()),
            consumer_bin,
        }
    }

    fn kafka_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("KAFKA_BROKERS", self.broker.addr.to_string()),
            // Not 2 s: on a busy machine the unoptimised broker's first appends took longer.
            ("KAFKA_TIMEOUT_MS", "5000".into()),
            ("MYSQL_URL", self.stores.db.url.clone()),
            ("STORE_TIMEOUT_MS", "2000".into()),
        ]
    }

    /// queue-api's binary, appending to the route's broker.
    async fn queue_api(&self) -> TestProcess {
        let program = PathBuf::from(env!("CARGO_BIN_EXE_queue-api"));
        TestProcess::start("queue-api", &program, &self.kafka_env()).await
    }

    /// grade-consumer's binary, a member of the route's group.
    async fn consumer(&self) -> TestProcess {
        let redis = self.stores.redis();
        let mut env = self.kafka_env();
        env.extend([
            ("KAFKA_GROUP", self.group.clone()),
            ("KAFKA_SESSION_TIMEOUT_MS", SESSION_MS.to_string()),
            ("REDIS_URL", redis.url.clone()),
            ("REDIS_KEY_PREFIX", redis.prefix.clone()),
            ("REDIS_TIMEOUT_MS", "1000".into()),
        ]);
        TestProcess::start("grade-consumer", &self.consumer_bin, &env).await
    }

    /// Asserts that the broker describes the group as stable with `members` members, within
    /// 10 s. Only once the grades are stored: tansu 0.6.0 cannot describe a group (group.rs).
    async fn assert_group(&self, members: usize, what: &str) {
        let (view, took) = wait_for_group(
            &self.broker.kafka_args(),
            &self.group,
            Duration::from_secs(10),
            |g| g.state == "Stable" && g.members.len() == members,
        )
        .await;
        assert!(
            took.is_some(),
            "{what}: the broker does not describe the group as stable with {members} \
             member(s); it describes it as {view:?}"
        );
    }

    /// Posts grades, `n` at a time, until each of `consumers` has stored some: each then
    /// holds partitions of the group. The keys of the `202`s.
    async fn until_each_stores(
        &self,
        api: &TestProcess,
        consumers: &[&TestProcess],
        n: u32,
    ) -> BTreeSet<String> {
        let deadline = Instant::now() + SETTLED_WITHIN;
        let mut accepted = BTreeSet::new();
        loop {
            accepted.extend(accept(api, n).await);
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut stored = Vec::new();
            for consumer in consumers {
                stored.push(stored_total(consumer).await);
            }
            if stored.iter().all(|&n| n > 0) {
                return accepted;
            }
            assert!(
                Instant::now() < deadline,
                "each of {} consumers stores some of the grades within {SETTLED_WITHIN:?}: \
                 they stored {stored:?} of {}; the broker's panics: {:#?}",
                consumers.len(),
                accepted.len(),
                self.broker.panics()
            );
        }
    }

    /// Waits until every key of `keys` is stored or `within` has passed; how long it took.
    async fn wait_stored(&self, keys: &BTreeSet<String>, within: Duration) -> Option<Duration> {
        let start = Instant::now();
        loop {
            let stored: BTreeSet<String> = self.stored().await.into_iter().collect();
            if keys.is_subset(&stored) {
                return Some(start.elapsed());
            }
            if start.elapsed() > within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every row of the route: the key of each stored grade, as often as it is stored.
    async fn stored(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT CAST(k.idem_key AS CHAR) FROM grades g
             LEFT JOIN idempotency_keys k ON k.grade_id = g.id WHERE g.route = 'queue'",
        )
        .fetch_all(&self.stores.pool)
        .await
        .expect("the stored rows")
    }

    /// Waits until the route holds at least `n` rows, or [`STORED_WITHIN`] passed; its rows.
    async fn stored_eventually(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + STORED_WITHIN;
        loop {
            let rows = self.stored().await;
            if rows.len() >= n || Instant::now() > deadline {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asserts that the route stored each accepted key once, and nothing else.
    async fn assert_stored_once(&self, accepted: &BTreeSet<String>) {
        let rows = self.stored_eventually(accepted.len()).await;
        let stored: BTreeSet<String> = rows.iter().cloned().collect();
        let missing = accepted.difference(&stored).count();
        assert_eq!(
            missing,
            0,
            "{missing} of {} grades accepted with 202 were not stored within {STORED_WITHIN:?} \
             (the broker's panics: {:#?})",
            accepted.len(),
            self.broker.panics()
        );
        assert_eq!(
            rows.len(),
            accepted.len(),
            "each 202 stored once: {} rows for {} keys",
            rows.len(),
            accepted.len()
        );
    }
}

/// Posts `n` grades to queue-api at once; the keys of their `202`s.
async fn accept(api: &TestProcess, n: u32) -> BTreeSet<String> {
    let (client, url) = (reqwest::Client::new(), format!("{}/notas", api.base_url()));
    let mut posts = JoinSet::new();
    for carnet in 1..=n {
        let request = client.post(&url).json(&payload(carnet));
        posts.spawn(async move {
            let response = request.send().await.expect("sent");
            assert_eq!(response.status(), 202, "queue-api accepts");
            let body: serde_json::Value = response.json().await.expect("JSON");
            body["key"].as_str().expect("a key").to_owned()
        });
    }
    posts.join_all().await.into_iter().collect()
}

/// A figure the test reports, past the harness's capture.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The samples of metric `name` (any labels) at one grade-consumer's /metrics, summed; 0
/// when it does not answer.
async fn metric_sum(consumer: &TestProcess, name: &str) -> f64 {
    let metrics = reqwest::get(format!("{}/metrics", consumer.base_url()))
        .await
        .and_then(|r| r.error_for_status());
    let Ok(metrics) = metrics else { return 0.0 };
    let text = metrics.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with([' ', '{']))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `notas_queue_stored_total` of one grade-consumer: the grades this process stored.
async fn stored_total(consumer: &TestProcess) -> u64 {
    metric_sum(consumer, "notas_queue_stored_total").await as u64
}

/// The partitions one grade-consumer holds: its `notas_queue_assigned_partitions` gauges
/// (1 held, 0 not), summed. What `just dev` reads, as nisshi 0.8.1 answers DescribeGroups
/// with empty assignments.
async fn held(consumer: &TestProcess) -> f64 {
    metric_sum(consumer, "notas_queue_assigned_partitions").await
}

/// What each of `consumers` holds once `check` holds of it, or after [`SETTLED_WITHIN`].
async fn holdings(consumers: &[&TestProcess], check: impl Fn(&[f64]) -> bool) -> Vec<f64> {
    let deadline = Instant::now() + SETTLED_WITHIN;
    loop {
        let mut held_now = Vec::new();
        for consumer in consumers {
            held_now.push(held(consumer).await);
        }
        if check(&held_now) || Instant::now() > deadline {
            return held_now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_consumer_hands_its_partitions_to_the_survivor() {
    let route = Route::start().await;
    let api = route.queue_api().await;
    let (survivor, dead) = (route.consumer().await, route.consumer().await);
    let mut accepted = route.until_each_stores(&api, &[&survivor, &dead], 30).await;
    let shared = holdings(&[&survivor, &dead], |h| h[0] + h[1] == 3.0).await;
    assert!(
        shared[0] + shared[1] == 3.0 && shared.iter().all(|&h| h > 0.0),
        "the two members share the three partitions, each reporting its own: {shared:?}"
    );

    dead.kill();
    let killed = Instant::now();
    // Sixty keys land on every partition, the dead one's too.
    let after = accept(&api, 60).await;
    accepted.extend(after.iter().cloned());
    let moved = route.wait_stored(&after, SETTLED_WITHIN).await;
    let stored: BTreeSet<String> = route.stored().await.into_iter().collect();
    assert!(
        moved.is_some(),
        "{} of the 60 grades accepted after the kill -9 of one consumer were stored \
         {SETTLED_WITHIN:?} later: the survivor did not take the dead one's partitions; \
         the broker's panics: {:#?}",
        after.intersection(&stored).count(),
        route.broker.panics()
    );
    report(&format!(
        "every grade accepted after the kill -9 was stored {:.1} s after it \
         (session {SESSION_MS} ms): the partitions moved within that",
        killed.elapsed().as_secs_f64()
    ));

    route.assert_stored_once(&accepted).await;
    let alone = holdings(&[&survivor], |h| h[0] == 3.0).await;
    assert_eq!(
        alone,
        [3.0],
        "the survivor reports every partition as its own"
    );
    route
        .assert_group(1, "after the kill -9: the dead one is out")
        .await;
    assert!(survivor.is_running(), "the survivor still runs");
    assert!(!dead.is_running(), "the dead one stayed down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_the_whole_route_on_the_same_data_stores_every_202_once() {
    let route = Route::start().await;
    let mut api = route.queue_api().await;
    let mut consumers = [route.consumer().await, route.consumer().await];
    let mut accepted = BTreeSet::new();
    for round in 0..=5 {
        let started = Instant::now();
        // Every grade so far is stored, those accepted just before the last kill too: every
        // partition is consumed again.
        accepted.extend(accept(&api, 30).await);
        let took = route.wait_stored(&accepted, SETTLED_WITHIN).await;
        assert!(
            took.is_some(),
            "after {round} kill(s) -9 and restart(s) of the route, {} of {} grades accepted \
             with 202 were stored {SETTLED_WITHIN:?} later; the broker's panics: {:#?}",
            route.stored().await.len(),
            accepted.len(),
            route.broker.panics()
        );
        report(&format!(
            "start {round}: every grade so far stored {:.1} s after the route started",
            started.elapsed().as_secs_f64()
        ));
        if round == 5 {
            break;
        }
        // Grades in flight at the kill: the route owes them after the restart.
        accepted.extend(accept(&api, 30).await);
        route.broker.kill();
        api.kill();
        consumers.iter().for_each(TestProcess::kill);

        route.broker.restart().await;
        api = route.queue_api().await;
        consumers = [route.consumer().await, route.consumer().await];
    }
    route.assert_stored_once(&accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_leaves_the_broker_log_without_a_panic() {
    let route = Route::start().await;
    let mut accepted = BTreeSet::new();
    // By hand: each service gone before the broker's turn.
    run_then_stop(&route, &mut accepted, true).await;
    route.broker.restart().await;
    // As a supervisor stops a stack (`just dev`'s Ctrl-C): the broker's SIGTERM follows the
    // others' at once, while the consumers are still leaving the group.
    run_then_stop(&route, &mut accepted, false).await;
}

/// Starts queue-api and two consumers on `route`'s broker, stores grades through them, then
/// stops the consumers, queue-api and the broker with SIGTERM, in that order: each after the
/// previous has exited if `wait`, else all at once. The broker's log must have no panic.
async fn run_then_stop(route: &Route, accepted: &mut BTreeSet<String>, wait: bool) {
    let api = route.queue_api().await;
    let consumers = [route.consumer().await, route.consumer().await];
    let both = [&consumers[0], &consumers[1]];
    accepted.extend(route.until_each_stores(&api, &both, 30).await);
    route.assert_stored_once(accepted).await;

    let within = Duration::from_secs(15);
    let exits = if wait {
        let mut exits = Vec::new();
        for process in consumers.iter().chain([&api]) {
            exits.push(process.stop(within).await);
        }
        exits.push(route.broker.stop(within).await);
        exits
    } else {
        let (a, b, c, d) = tokio::join!(
            consumers[0].stop(within),
            consumers[1].stop(within),
            api.stop(within),
            route.broker.stop(within),
        );
        vec![a, b, c, d]
    };
    let how = if wait {
        "one after the other"
    } else {
        "at once"
    };
    assert!(
        exits.iter().all(|e| e.is_some_and(|s| s.success())),
        "consumers, queue-api and broker stop cleanly on SIGTERM, {how}: {exits:?}"
    );
    let panics = route.broker.panics();
    assert!(
        panics.is_empty(),
        "the broker's log has {} panic(s) after a clean stop, {how}: {panics:#?}",
        panics.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idempotent_producer_appends_each_record_once_through_a_broker_kill() {
    let broker = TestBroker::start(PARTITIONS).await;
    let args = broker.kafka_args();
    // KafkaArgs::producer's settings, plus idempotence.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &args.kafka_brokers)
        .set("client.id", "test-idempotent")
        .set("acks", "all")
        .set("message.timeout.ms", args.kafka_timeout_ms.to_string())
        .set("linger.ms", "2")
        .set("enable.idempotence", "true")
        .create()
        .expect("an idempotent producer");
    let append = |from: u32, to: u32, every: Duration| {
        let (producer, topic) = (producer.clone(), args.kafka_topic.clone());
        tokio::spawn(async move {
            let mut sends = JoinSet::new();
            for i in from..to {
                let (producer, topic) = (producer.clone(), topic.clone());
                sends.spawn(async move {
                    let (key, value) = (format!("k{i}"), i.to_string());
                    let record = FutureRecord::to(&topic).key(&key).payload(&value);
                    (
                        i,
                        producer.send(record, Duration::from_secs(0)).await.is_ok(),
                    )
                });
                tokio::time::sleep(every).await;
            }
            sends.join_all().await
        })
    };

    // Appends before the kill, appends in flight through it, and appends well after it.
    let before = append(0, 100, Duration::ZERO).await.unwrap();
    let through = append(100, 200, Duration::from_millis(10));
    tokio::time::sleep(Duration::from_millis(400)).await;
    broker.kill();
    // Longer than message.timeout.ms: some appends time out while the broker is down.
    tokio::time::sleep(args.timeout() + Duration::from_secs(1)).await;
    broker.restart().await;
    let through = through.await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = append(200, 300, Duration::from_millis(5)).await.unwrap();

    let acked = |outcomes: &[(u32, bool)]| -> BTreeSet<u32> {
        outcomes
            .iter()
            .filter(|(_, ok)| *ok)
            .map(|(i, _)| *i)
            .collect()
    };
    assert_eq!(acked(&before).len(), 100, "every append before the kill");
    let after_acked = acked(&after);
    assert_eq!(
        after_acked.len(),
        100,
        "every append 5 s after the restart is acknowledged: {} of 100; the broker's panics: {:#?}",
        after_acked.len(),
        broker.panics()
    );

    let appended = read_back(&broker).await;
    let twice: BTreeMap<&u32, &usize> = appended.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} record(s) appended more than once (value: times): {twice:?}",
        twice.len()
    );
    let missing: Vec<u32> = [acked(&before), acked(&through), after_acked]
        .into_iter()
        .flatten()
        .filter(|i| !appended.contains_key(i))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged appends missing: {missing:?}"
    );
    report(&format!(
        "{} records appended once; {} of 100 in flight through the kill acknowledged",
        appended.len(),
        acked(&through).len()
    ));
}

/// Every record of the grades topic: its value (the sequence number) and how many times
/// it is in the log.
async fn read_back(broker: &TestBroker) -> BTreeMap<u32, usize> {
    let args = broker.kafka_args();
    let consumer = args
        .consumer("test-read-back", "read-back", Duration::from_secs(6))
        .expect("a consumer");
    let mut ends = BTreeMap::new();
    let mut partitions = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        let (low, high) = consumer
            .fetch_watermarks(&args.kafka_topic, p, Duration::from_secs(5))
            .expect("the partition's ends");
        ends.insert(p, high - low);
        partitions
            .add_partition_offset(&args.kafka_topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&partitions).expect("assigned");
    let total: i64 = ends.values().sum();
    let mut seen = BTreeMap::new();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while read < total && Instant::now() < deadline {
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(200), consumer.recv()).await {
            let value = std::str::from_utf8(m.payload().unwrap_or_default())
                .ok()
                .and_then(|v| v.parse().ok())
                .expect("a sequence number");
            *seen.entry(value).or_insert(0) += 1;
            read += 1;
        }
    }
    assert_eq!(read, total, "the whole log read back within 20 s");
    seen
}
