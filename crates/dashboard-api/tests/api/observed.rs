//! The panels fed by observation rather than grades: the route comparison, asked of a real
//! Prometheus, and the host monitors' samples.

use crate::helpers::{spawn_app, spawn_app_with};
use axum::{Router, routing::get};
use redis::AsyncCommands;
use serde_json::{Value, json};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::net::TcpListener;

const MIB: u64 = 1024 * 1024;

/// A Prometheus process scraping `target` every second, state in a temporary folder,
/// killed when dropped. The target's own `job` labels are kept (`honor_labels`), so that
/// one exporter can stand for several services, every series sampled at the same instants.
struct TestPrometheus {
    url: String,
    process: Child,
    dir: PathBuf,
}

impl TestPrometheus {
    async fn scraping(target: &str) -> TestPrometheus {
        let dir = std::env::temp_dir().join(format!("notas-prometheus-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: routes\n    honor_labels: true\n    static_configs: [{{targets: ['{target}']}}]\n"
            ),
        )
        .unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let process = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (Debian's package; scripts/bootstrap.sh installs it)");
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while !reqwest::get(format!("{url}/-/ready"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Prometheus did not start"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        TestPrometheus { url, process, dir }
    }
}

impl Drop for TestPrometheus {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Serves what the three routes' /metrics would show, 10 more grades on every scrape: routes
/// 1 and 2 answer them 201 (and route 1 one 503), half of them within 2.5 ms, all within 5;
/// route 3 answers them 202, 6 at `/queue/notas` (the entry point's path) and 4 at `/notas`,
/// and its consumers store 8. Its lag: partitions 0 and 1 wait 5 and 7 records, the oldest
/// 3.5 s, and a second member still shows 0 for partition 1, which the group took from it;
/// half of its grades were stored within 50 ms of their 202, all within 100 ms.
///
/// Each service's own CPU per scrape, in ms: grpc-client 2, grpc-server 1 (route 1: 300 µs
/// per grade), redis-api 2 (200 µs), queue-api 1, grade-consumer 1.6 (325 µs per grade
/// stored); their memory 30, 20, 10, 5 and 6 MiB. The host monitor counts 5.6 ms for
/// mariadbd (200 µs per grade stored by any route) and 64 MiB.
async fn fake_routes_exporter() -> String {
    let scrapes = Arc::new(AtomicU64::new(0));
    let metrics = move || {
        // Every count ten times the figures above: rates of young series are extrapolated
        // low, and the panel's CPU per record needs more than 5 grades a second.
        let n = 10 * (scrapes.fetch_add(1, Ordering::Relaxed) + 1);
        async move {
            let mut text = String::new();
            let answers = [
                ("grpc", "/notas", "201", 10),
                ("redis", "/notas", "201", 10),
                ("queue", "/queue/notas", "202", 6),
                ("queue", "/notas", "202", 4),
            ];
            for (route, path, status, per_scrape) in answers {
                let labels = format!(r#"path="{path}",method="POST",route="{route}""#);
                text += &format!(
                    "http_requests_total{{{labels},status=\"{status}\"}} {}\n",
                    n * per_scrape
                );
                // Latency: every request under 5 ms, half under 2.5 ms.
                for (le, share) in [("0.001", 0), ("0.0025", 5), ("0.005", 10), ("+Inf", 10)] {
                    text += &format!(
                        "http_request_duration_seconds_bucket{{{labels},status=\"{status}\",le=\"{le}\"}} {}\n",
                        n * share * per_scrape / 10
                    );
                }
            }
            text += "http_requests_total{path=\"/notas\",method=\"POST\",route=\"grpc\",status=\"503\"} ";
            text += &format!("{}\n", n);
            text += &format!("notas_queue_stored_total {}\n", n * 8);
            for (job, cpu_ms, memory_mib) in [
                ("grpc-client", 2.0, 30),
                ("grpc-server", 1.0, 20),
                ("redis-api", 2.0, 10),
                ("queue-api", 1.0, 5),
                ("grade-consumer", 1.6, 6),
            ] {
                text += &format!(
                    "process_cpu_seconds_total{{job=\"{job}\"}} {}\n",
                    n as f64 * cpu_ms / 1000.0
                );
                text += &format!(
                    "process_resident_memory_bytes{{job=\"{job}\"}} {}\n",
                    memory_mib * MIB
                );
            }
            let host = r#"job="monitor",host="node-a",process="mariadbd""#;
            text += &format!(
                "notas_host_process_cpu_seconds_total{{{host}}} {}\n",
                n as f64 * 0.0056
            );
            text += &format!(
                "notas_host_process_resident_memory_bytes{{{host}}} {}\n",
                64 * MIB
            );
            for (partition, member, records, seconds) in
                [(0, "a", 5, 3.5), (1, "a", 7, 1.0), (1, "b", 0, 0.0)]
            {
                let labels = format!(
                    r#"group="grade-consumer",topic="grades",partition="{partition}",member="{member}""#
                );
                text += &format!("notas_queue_lag_records{{{labels}}} {records}\n");
                text += &format!("notas_queue_lag_seconds{{{labels}}} {seconds}\n");
            }
            for (le, share) in [("0.025", 0), ("0.05", 5), ("0.1", 10), ("+Inf", 10)] {
                text += &format!(
                    "notas_queue_time_to_stored_seconds_bucket{{le=\"{le}\"}} {}\n",
                    n * share
                );
            }
            text
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, Router::new().route("/metrics", get(metrics)))
            .await
            .unwrap()
    });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_comparison_reads_each_routes_rates_latency_and_the_queue_from_prometheus() {
    let prometheus = TestPrometheus::scraping(&fake_routes_exporter().await).await;
    let app = spawn_app_with(|c| c.prometheus_url = prometheus.url.clone()).await;

    // Rates need two scrapes inside their window.
    let started = Instant::now();
    let answer = loop {
        let (status, body) = app.get("/api/routes").await;
        assert_eq!(status, 200, "{body}");
        let points = |series: &str, route: &str| {
            body["series"][series][route]
                .as_array()
                .is_some_and(|p| p.len() > 1)
        };
        // CPU per record is given where a route stores more than 5 grades a second.
        if points("accepted_per_second", "redis")
            && points("stored_per_second", "queue")
            && points("cpu_us_per_record", "queue")
            && body["stores"]["cpu_us_per_record"]["mariadbd"].is_array()
        {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no series: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let last = |series: &str, route: &str| -> f64 {
        let points = answer["series"][series][route]
            .as_array()
            .unwrap_or_else(|| panic!("no {series} of {route}: {answer}"));
        points.last().unwrap()[1].as_f64().unwrap()
    };
    assert_eq!(
        (
            answer["window_seconds"].clone(),
            answer["step_seconds"].clone()
        ),
        (json!(300), json!(5))
    );
    // Every route accepted 10 grades per scrape (route 3 at its two paths), route 1 also
    // answered one 503 per scrape, route 3's consumers stored 8. (The rates themselves are
    // low until the series are 30 s old, so compare them.)
    let grpc = last("accepted_per_second", "grpc");
    assert!(grpc > 0.0, "accepted/s: grpc {grpc}");
    for route in ["redis", "queue"] {
        let accepted = last("accepted_per_second", route);
        assert!(
            (accepted - grpc).abs() < 1e-9,
            "accepted/s: {route} {accepted}, grpc {grpc}"
        );
    }
    for (route, share) in [("grpc", 1.0), ("redis", 1.0), ("queue", 0.8)] {
        let stored = last("stored_per_second", route) / grpc;
        assert!(
            (stored - share).abs() < 1e-9,
            "{route}: {stored} stored per accepted"
        );
    }
    let errors = last("errors_per_second", "grpc") / grpc;
    assert!((errors - 0.1).abs() < 1e-9, "grpc: {errors} errors per 201");
    for route in ["grpc", "redis", "queue"] {
        // Half the requests within 2.5 ms, none within 1 ms: the median is the 1-2.5 ms bucket's top.
        let p50 = last("p50_ms", route);
        assert!(
            (p50 - 2.5).abs() < 1e-6,
            "{route}: p50 {p50} ms, the top of the 1-2.5 ms bucket"
        );
        let p95 = last("p95_ms", route);
        assert!(
            (2.5..=5.0).contains(&p95),
            "{route}: p95 {p95} ms, in the 2.5-5 ms bucket"
        );
    }
    for route in ["redis", "queue"] {
        assert!(
            answer["series"]["errors_per_second"][route].is_null(),
            "{route} had no errors (a 202 is none)"
        );
    }
    // The queue: 12 records wait (the second member's 0 for partition 1 is not its lag),
    // the oldest 3.5 s; half the grades stored within 50 ms of their 202.
    assert_eq!(last("queue_lag_records", "queue"), 12.0);
    assert_eq!(last("queue_lag_seconds", "queue"), 3.5);
    let p50 = last("time_to_stored_p50_seconds", "queue");
    assert!((p50 - 0.05).abs() < 1e-9, "time to stored p50 {p50} s");
    let p99 = last("time_to_stored_p99_seconds", "queue");
    assert!((0.05..=0.1).contains(&p99), "time to stored p99 {p99} s");
    // What a grade costs each route's own processes, and the shared stores.
    for (route, micros, memory_mib) in [
        ("grpc", 300.0, 50),
        ("redis", 200.0, 10),
        ("queue", 325.0, 11),
    ] {
        let cpu = last("cpu_us_per_record", route);
        assert!(
            (cpu - micros).abs() < 1e-6,
            "{route}: {cpu} µs of CPU per record"
        );
        assert_eq!(
            last("memory_bytes", route),
            (memory_mib * MIB) as f64,
            "{route}"
        );
    }
    let store = |series: &str| {
        answer["stores"][series]["mariadbd"]
            .as_array()
            .and_then(|p| p.last())
            .map(|p| p[1].as_f64().unwrap())
    };
    let cpu = store("cpu_us_per_record").expect("the stores' CPU per record");
    assert!(
        (cpu - 200.0).abs() < 1e-6,
        "mariadbd: {cpu} µs of CPU per record"
    );
    assert_eq!(store("memory_bytes"), Some((64 * MIB) as f64));
    for series in [
        "queue_lag_records",
        "queue_lag_seconds",
        "time_to_stored_p95_seconds",
    ] {
        let routes: Vec<_> = answer["series"][series]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(routes, ["queue"], "{series}");
    }
}

/// The frontend names every series it reads (`ROUTE_SERIES` in `frontend/src/api.ts`), each
/// as `GET /api/routes` answers it.
#[test]
fn the_frontend_reads_the_series_answered() {
    let api = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../frontend/src/api.ts"),
    )
    .unwrap();
    let listed = api
        .split("export const ROUTE_SERIES = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("`export const ROUTE_SERIES = [...]` in frontend/src/api.ts");
    let frontend: Vec<&str> = listed
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
        .collect();
    let answered: Vec<&str> = dashboard_api::comparison::SERIES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(frontend, answered);
}

#[tokio::test]
async fn without_prometheus_the_route_comparison_is_a_json_503_in_time() {
    // A port nobody listens on, and one that accepts but never answers.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    for url in [format!("http://{closed}"), format!("http://{silent_addr}")] {
        let app = spawn_app_with(|c| {
            c.prometheus_url = url.clone();
            c.prometheus_timeout_ms = 500;
        })
        .await;
        let started = Instant::now();
        let (status, body) = app.get("/api/routes").await;
        assert_eq!(status, 503, "{body}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("Prometheus") && error.contains(&url),
            "{error}"
        );
    }
    drop(silent);
}

#[tokio::test]
async fn hosts_are_listed_with_their_samples_oldest_first() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/hosts").await;
    assert_eq!(
        (status, body),
        (200, json!({"hosts": []})),
        "before any sample"
    );

    let prefix = app.stores.redis().prefix.clone();
    let mut redis = app.stores.redis().connection().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sample = |host: &str, cpu: f64| json!({"host": host, "porcentaje_cpu_uso": cpu});
    for cpu in [10.0, 20.0, 30.0] {
        let _: () = redis
            .lpush(
                format!("{prefix}host:node-a"),
                sample("node-a", cpu).to_string(),
            )
            .await
            .unwrap();
    }
    let _: () = redis
        .lpush(
            format!("{prefix}host:node-gone"),
            sample("node-gone", 1.0).to_string(),
        )
        .await
        .unwrap();
    let _: () = redis
        .zadd_multiple(
            format!("{prefix}hosts"),
            &[(now, "node-a"), (now - 600, "node-gone")],
        )
        .await
        .unwrap();

    let (status, body) = app.get("/api/hosts").await;
    assert_eq!(status, 200, "{body}");
    let cpu: Vec<Value> = body["hosts"][0]["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["porcentaje_cpu_uso"].clone())
        .collect();
    assert_eq!(
        body["hosts"].as_array().unwrap().len(),
        1,
        "a host silent for 10 minutes is gone: {body}"
    );
    assert_eq!(body["hosts"][0]["host"], "node-a");
    assert_eq!(cpu, [json!(10.0), json!(20.0), json!(30.0)]);
}
