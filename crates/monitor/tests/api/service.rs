//! The monitor running: what it publishes through Redis, its gauges, its readiness.

use crate::helpers::{HOST, TestApp, gauge, spawn_app, spawn_app_with};
use futures_util::StreamExt;
use monitor::{proc_stats::Reading, publish::HISTORY_LEN};
use notas_testkit::contract::eventually;
use redis::AsyncCommands;
use serde_json::Value;
use std::{path::Path, time::Duration};

/// The next sample announced on the `host` channel.
async fn next_sample(app: &TestApp) -> Value {
    let mut events = app.redis.get_async_pubsub().await.unwrap();
    events.subscribe(app.keys.host_events()).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), events.on_message().next())
        .await
        .expect("a sample within 5 s")
        .unwrap();
    serde_json::from_str(&message.get_payload::<String>().unwrap()).unwrap()
}

fn number(sample: &Value, field: &str) -> f64 {
    sample[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} is not a number in {sample}"))
}

#[tokio::test]
async fn each_sample_is_announced_listed_and_timestamped() {
    let app = spawn_app().await;
    let sample = next_sample(&app).await;

    let fields: Vec<&str> = sample
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "host",
        "hora",
        "total_ram",
        "ram_libre",
        "uso_ram",
        "porcentaje_ram",
        "porcentaje_cpu_uso",
        "porcentaje_cpu_libre",
        "procesos_corriendo",
        "total_procesos",
        "procesos_durmiendo",
        "procesos_zombie",
        "procesos_parados",
    ];
    expected.sort_unstable();
    assert_eq!(fields, expected, "{sample}");
    assert_eq!(sample["host"], HOST);
    let hora = sample["hora"].as_str().unwrap();
    let at = chrono::NaiveDateTime::parse_from_str(hora, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("hora {hora:?}: {e}"))
        .and_utc();
    assert!(
        (chrono::Utc::now() - at).num_seconds().abs() <= 5,
        "hora is UTC: {hora}"
    );

    let ram_mb = Reading::take(Path::new("/proc"), &[]).unwrap().memory.total as f64 / 1048576.0;
    assert_eq!(
        number(&sample, "total_ram"),
        ram_mb.round(),
        "this machine's RAM in MB"
    );
    assert_eq!(
        number(&sample, "total_ram"),
        number(&sample, "ram_libre") + number(&sample, "uso_ram")
    );
    let cpu = number(&sample, "porcentaje_cpu_uso");
    assert!((0.0..=100.0).contains(&cpu), "{sample}");
    assert_eq!(cpu + number(&sample, "porcentaje_cpu_libre"), 100.0);
    let by_state: f64 = [
        "procesos_corriendo",
        "procesos_durmiendo",
        "procesos_zombie",
        "procesos_parados",
    ]
    .iter()
    .map(|field| number(&sample, field))
    .sum();
    assert!(by_state > 0.0);
    assert_eq!(number(&sample, "total_procesos"), by_state);

    let mut redis = app.redis().await;
    let listed: Vec<String> = redis.lrange(app.keys.host(HOST), 0, -1).await.unwrap();
    assert!(!listed.is_empty());
    let newest: Value = serde_json::from_str(&listed[0]).unwrap();
    assert_eq!(newest["host"], HOST);
    let ttl: i64 = redis.ttl(app.keys.host(HOST)).await.unwrap();
    assert!((1..=600).contains(&ttl), "the list expires: {ttl}");
    let seen: Option<i64> = redis.zscore(app.keys.hosts(), HOST).await.unwrap();
    let seen = seen.expect("the host is in the hosts set");
    assert!(
        (chrono::Utc::now().timestamp() - seen).abs() <= 5,
        "scored with unix time"
    );
}

#[tokio::test]
async fn a_hosts_list_is_bounded() {
    let app = spawn_app().await;
    let mut redis = app.redis().await;
    let old: Vec<String> = (0..400).map(|i| format!("old {i}")).collect();
    let _: () = redis.rpush(app.keys.host(HOST), old).await.unwrap();

    let trimmed = eventually(Duration::from_secs(5), || {
        let mut redis = redis.clone();
        let key = app.keys.host(HOST);
        async move { redis.llen::<_, isize>(key).await.unwrap() == HISTORY_LEN }
    })
    .await;
    assert!(trimmed, "the list is trimmed to {HISTORY_LEN}");
    next_sample(&app).await;
    let len: isize = redis.llen(app.keys.host(HOST)).await.unwrap();
    assert_eq!(len, HISTORY_LEN, "and stays there");
    let newest: String = redis.lindex(app.keys.host(HOST), 0).await.unwrap();
    assert!(newest.starts_with('{'), "newest first: {newest}");
}

#[tokio::test]
async fn gauges_carry_the_host() {
    let app = spawn_app().await;
    next_sample(&app).await;
    let metrics = app.service.metrics().await;
    let host = ("host", HOST);

    let cpu = gauge(&metrics, "notas_host_cpu_usage_percent", &[host]).expect(&metrics);
    assert!((0.0..=100.0).contains(&cpu));
    let memory = |kind| gauge(&metrics, "notas_host_memory_bytes", &[host, ("kind", kind)]);
    let (total, used, free) = (memory("total"), memory("used"), memory("free"));
    let machine = Reading::take(Path::new("/proc"), &[]).unwrap().memory.total as f64;
    assert_eq!(total, Some(machine), "{metrics}");
    assert_eq!(used.unwrap() + free.unwrap(), machine);
    let percent = gauge(&metrics, "notas_host_memory_usage_percent", &[host]).unwrap();
    assert!((percent - used.unwrap() * 100.0 / machine).abs() < 1.0);
    let processes: f64 = ["running", "sleeping", "zombie", "stopped"]
        .into_iter()
        .map(|state| {
            gauge(&metrics, "notas_host_processes", &[host, ("state", state)])
                .unwrap_or_else(|| panic!("no {state} gauge in {metrics}"))
        })
        .sum();
    assert!(processes > 0.0);
}

#[tokio::test]
async fn watched_processes_are_exported_by_name() {
    // This test's own process, and a name nothing runs under.
    let own = std::fs::read_to_string("/proc/self/comm").unwrap();
    let own = own.trim_end().to_owned();
    let names = vec![own.clone(), "no-such-process".to_owned()];
    let app = spawn_app_with(|c| c.processes = names).await;
    next_sample(&app).await;
    let metrics = app.service.metrics().await;
    let series = |name, process| gauge(&metrics, name, &[("host", HOST), ("process", process)]);

    let cpu = series("notas_host_process_cpu_seconds_total", &own).expect(&metrics);
    let stat = procfs::process::Process::myself().unwrap().stat().unwrap();
    let since = (stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64;
    assert!(
        cpu <= since,
        "this process's CPU time: {cpu} s, {since} s since"
    );
    let resident = series("notas_host_process_resident_memory_bytes", &own).unwrap();
    assert!(resident > 1024.0 * 1024.0, "{resident}");
    for name in [
        "notas_host_process_cpu_seconds_total",
        "notas_host_process_resident_memory_bytes",
    ] {
        assert_eq!(series(name, "no-such-process"), Some(0.0), "{metrics}");
    }
}

#[tokio::test]
async fn ready_once_sampled_and_redis_answers() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.0, 200);
    let ready = eventually(Duration::from_secs(5), || async {
        app.get("/readyz").await.0 == 200
    })
    .await;
    assert!(ready);

    let (status, body) = app.get("/nowhere").await;
    assert_eq!(status, 404);
    assert!(serde_json::from_str::<Value>(&body).unwrap()["error"].is_string());
}

#[tokio::test]
async fn not_ready_before_the_first_sample() {
    let app = spawn_app_with(|c| c.monitor_interval_ms = 3_600_000).await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "not ready: no sample taken yet");
    assert_eq!(app.get("/healthz").await.0, 200, "alive all the same");
}

#[tokio::test]
async fn a_redis_outage_is_outlived() {
    let app = spawn_app().await;
    next_sample(&app).await;
    app.redis_proxy.sever().await;
    let (status, body) = app.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("redis"), "{body}");
    // Samples keep being taken, and fail to reach Redis, meanwhile.
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.redis_proxy.restore().await;
    next_sample(&app).await;
    let ready = eventually(Duration::from_secs(5), || async {
        app.get("/readyz").await.0 == 200
    })
    .await;
    assert!(ready, "ready again once Redis answers");
}
