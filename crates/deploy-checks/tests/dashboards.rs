//! The Grafana dashboards (`k8s/components/observability/dashboards/`). `just smoke` runs
//! every query against the local stack's Prometheus (`scripts/checks/dashboards.py`), except those
//! of a dashboard tagged `cluster`: they read what only a cluster exports (kube-state-metrics,
//! the kubelets' cAdvisor). Here each of their queries is parsed, and every metric it reads
//! and every label it matches, groups or joins by, or names in its legend must be one that
//! exporter is known to give (the table below, each fact with its upstream source), and the
//! kind rendering must make the exporter give it: the resource enabled and granted, the
//! label allowed, the series kept by Prometheus. A query this check cannot read fails.

mod common;

use common::{NAMESPACE, name, objects, of_kind, repo, strings};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What each exporter gives, as upstream documents it: a metric a line, with the exporter
/// (the kube-state-metrics resource that must be enabled, `cadvisor`, or `notas`: the
/// services, scraped by Prometheus' `notas` job) and its labels.
/// A `#` line names the source of the lines under it. kube_pod_labels also has
/// `label_<key>` for each key `--metric-labels-allowlist` allows (read from the rendering),
/// and every series the target's `job` and `instance` (Prometheus' scrape).
const FACTS: &str = "
# kube-state-metrics v2.20.0, docs/metrics/workload/horizontalpodautoscaler-metrics.md; internal/store/horizontalpodautoscaler.go
kube_horizontalpodautoscaler_status_current_replicas  horizontalpodautoscalers  namespace horizontalpodautoscaler
kube_horizontalpodautoscaler_status_desired_replicas  horizontalpodautoscalers  namespace horizontalpodautoscaler
kube_horizontalpodautoscaler_spec_max_replicas        horizontalpodautoscalers  namespace horizontalpodautoscaler
kube_horizontalpodautoscaler_spec_min_replicas        horizontalpodautoscalers  namespace horizontalpodautoscaler
# kube-state-metrics v2.20.0, docs/metrics/workload/deployment-metrics.md; internal/store/deployment.go
kube_deployment_status_replicas_ready                 deployments               namespace deployment
kube_deployment_spec_replicas                         deployments               namespace deployment
# kube-state-metrics v2.20.0, docs/metrics/workload/daemonset-metrics.md; internal/store/daemonset.go
kube_daemonset_status_number_ready                    daemonsets                namespace daemonset
kube_daemonset_status_desired_number_scheduled        daemonsets                namespace daemonset
# kube-state-metrics v2.20.0, docs/metrics/workload/pod-metrics.md; internal/store/pod.go
kube_pod_labels                                       pods                      namespace pod uid
kube_pod_owner                                        pods                      namespace pod uid owner_kind owner_name owner_is_controller
# names: google/cadvisor, docs/storage/prometheus.md; labels: kubernetes, pkg/kubelet/server/server.go (containerPrometheusLabelsFunc)
container_cpu_usage_seconds_total                     cadvisor                  namespace pod container id name image
container_memory_working_set_bytes                    cadvisor                  namespace pod container id name image
# notas' own services, crates/notas-core/src/metrics.rs (the stored grades a store's CPU is divided by)
http_requests_total                                   notas                     service route path method status
notas_queue_stored_total                              notas
";

/// One line of FACTS.
struct Fact {
    metric: &'static str,
    /// A kube-state-metrics resource, `cadvisor` or `notas`.
    exporter: &'static str,
    labels: Vec<&'static str>,
    source: &'static str,
}

fn facts() -> Vec<Fact> {
    let mut source = "";
    let mut facts = vec![];
    for line in FACTS.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(cited) = line.strip_prefix("# ") {
            source = cited;
            continue;
        }
        let mut words = line.split_whitespace();
        let (metric, exporter) = (words.next().unwrap(), words.next().unwrap());
        facts.push(Fact {
            metric,
            exporter,
            labels: words.collect(),
            source,
        });
    }
    facts
}

const SCRAPE_LABELS: [&str; 2] = ["job", "instance"];

// --- A small PromQL reader: enough to find metrics, matchers and label lists ------------

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number,
    Punct(String),
}

fn tokens(expr: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Number);
        } else if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            if i >= chars.len() {
                return Err("unterminated string".into());
            }
            i += 1;
            out.push(Token::Str(chars[start + 1..i - 1].iter().collect()));
        } else if c == '[' {
            // A range or subquery: `[$__rate_interval]`, `[5m:1m]`; nothing to check inside.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["=~", "!~", "!=", "==", ">=", "<="]
                .into_iter()
                .find(|o| two == *o);
            let text = op.map_or(c.to_string(), str::to_owned);
            if op.is_none() && !"(){},=<>+-*/%^".contains(c) {
                return Err(format!("cannot read {c:?}"));
            }
            i += text.chars().count();
            out.push(Token::Punct(text));
        }
    }
    Ok(out)
}

/// What a query reads: each selector's metric and matched labels, each label list
/// (`by`, `without`, `on`, `ignoring`, `group_left`, `group_right`) with its keyword.
#[derive(Debug, Default)]
struct Query {
    selectors: Vec<(String, Vec<(String, String)>)>,
    lists: Vec<(String, Vec<String>)>,
}

const AGGREGATIONS: [&str; 14] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];
const LISTS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
const KEYWORDS: [&str; 6] = ["and", "or", "unless", "bool", "offset", "atan2"];

fn parse(expr: &str) -> Result<Query, String> {
    let tokens = tokens(expr)?;
    let punct = |i: usize, p: &str| matches!(tokens.get(i), Some(Token::Punct(t)) if t == p);
    let mut query = Query::default();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Ident(word) if LISTS.contains(&word.as_str()) => {
                i += 1;
                let mut labels = vec![];
                if punct(i, "(") {
                    i += 1;
                    while !punct(i, ")") {
                        match tokens.get(i) {
                            Some(Token::Ident(l)) => labels.push(l.clone()),
                            Some(Token::Punct(p)) if p == "," => {}
                            other => return Err(format!("{word} (...): {other:?}")),
                        }
                        i += 1;
                    }
                    i += 1;
                }
                query.lists.push((word.clone(), labels));
            }
            Token::Ident(word) if AGGREGATIONS.contains(&word.as_str()) || punct(i + 1, "(") => {
                i += 1; // a function or an aggregation: its arguments follow
            }
            Token::Ident(word) if KEYWORDS.contains(&word.as_str()) => i += 1,
            Token::Ident(metric) => {
                i += 1;
                let mut matchers = vec![];
                if punct(i, "{") {
                    i += 1;
                    while !punct(i, "}") {
                        let (
                            Some(Token::Ident(label)),
                            Some(Token::Punct(_)),
                            Some(Token::Str(value)),
                        ) = (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
                        else {
                            return Err(format!("{metric}{{...}}: cannot read its matchers"));
                        };
                        matchers.push((label.clone(), value.clone()));
                        i += 3;
                        if punct(i, ",") {
                            i += 1;
                        }
                    }
                    i += 1;
                }
                query.selectors.push((metric.clone(), matchers));
            }
            Token::Punct(p) if p == "{" => {
                return Err("a selector without a metric name".into());
            }
            _ => i += 1,
        }
    }
    if query.selectors.is_empty() {
        return Err("reads no metric".into());
    }
    Ok(query)
}

fn legend_labels(legend: &str) -> Vec<String> {
    legend
        .split("{{")
        .skip(1)
        .filter_map(|part| part.split_once("}}"))
        .map(|(label, _)| label.trim().to_owned())
        .collect()
}

// --- What the kind rendering makes the exporters give -----------------------------------

/// What the rendering makes each exporter give, from the objects that configure it.
struct Cluster {
    /// kube-state-metrics' --resources and --namespaces.
    resources: BTreeSet<String>,
    namespaces: BTreeSet<String>,
    /// Resources its Role lets it list and watch.
    granted: BTreeSet<String>,
    /// kube_pod_labels' extra labels, from --metric-labels-allowlist=pods=[...].
    pod_labels: Vec<String>,
    /// The metric names and namespaces Prometheus' `cadvisor` job keeps.
    cadvisor_metrics: BTreeSet<String>,
    cadvisor_namespaces: BTreeSet<String>,
    /// Whether Prometheus has the `notas` job, which scrapes the services.
    scrapes_notas: bool,
}

/// kube-state-metrics' label name for a Kubernetes label key: `label_` + the key with
/// `[^a-zA-Z0-9_]` made `_` and snake-cased (internal/store/utils.go, labelName).
fn ksm_label(key: &str) -> String {
    let mut name = String::from("label_");
    let mut previous = '_';
    for c in key.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        };
        if c.is_ascii_uppercase() && (previous.is_ascii_lowercase() || previous.is_ascii_digit()) {
            name.push('_');
        }
        name.push(c.to_ascii_lowercase());
        previous = c;
    }
    name
}

fn alternation(rule: &Value) -> BTreeSet<String> {
    rule["regex"]
        .as_str()
        .unwrap()
        .split('|')
        .map(str::to_owned)
        .collect()
}

fn cluster() -> Cluster {
    let objects = objects("kind");
    let ksm = of_kind(&objects, "Deployment")
        .into_iter()
        .find(|d| name(d) == "kube-state-metrics")
        .expect("kube-state-metrics on kind");
    let args: BTreeMap<String, String> =
        strings(&ksm["spec"]["template"]["spec"]["containers"][0]["args"])
            .filter_map(|a| a.strip_prefix("--")?.split_once('='))
            .map(|(f, v)| (f.to_owned(), v.to_owned()))
            .collect();
    let list = |flag: &str| -> BTreeSet<String> {
        args.get(flag)
            .map(|v| v.split(',').map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let pod_labels = args
        .get("metric-labels-allowlist")
        .and_then(|v| v.strip_prefix("pods=["))
        .and_then(|v| v.split(']').next())
        .map(|keys| keys.split(',').map(ksm_label).collect())
        .unwrap_or_default();
    let role = of_kind(&objects, "Role")
        .into_iter()
        .find(|r| name(r) == "kube-state-metrics")
        .unwrap();
    let granted = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let verbs: Vec<&str> = strings(&r["verbs"]).collect();
            verbs.contains(&"list") && verbs.contains(&"watch")
        })
        .flat_map(|r| strings(&r["resources"]).map(str::to_owned))
        .collect();
    let config = of_kind(&objects, "ConfigMap")
        .into_iter()
        .find(|c| name(c).starts_with("prometheus-config-"))
        .unwrap();
    let config: Value =
        serde_norway::from_str(config["data"]["prometheus.yml"].as_str().unwrap()).unwrap();
    let job = |name: &str| {
        config["scrape_configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_name"] == name)
    };
    let cadvisor = job("cadvisor").expect("a cadvisor job");
    let keep = |label: &str| -> BTreeSet<String> {
        cadvisor["metric_relabel_configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["action"] == "keep" && r["source_labels"][0] == label)
            .map(alternation)
            .unwrap_or_default()
    };
    Cluster {
        resources: list("resources"),
        namespaces: list("namespaces"),
        granted,
        pod_labels,
        cadvisor_metrics: keep("__name__"),
        cadvisor_namespaces: keep("namespace"),
        scrapes_notas: job("notas").is_some(),
    }
}

/// Why a query of a `cluster` dashboard could return nothing or lack a label; empty when
/// every metric and label it uses is one of the facts and the rendering makes it exist.
fn problems(expr: &str, legend: &str, cluster: &Cluster) -> Vec<String> {
    let query = match parse(expr) {
        Ok(q) => q,
        Err(e) => return vec![format!("this check cannot read it: {e}")],
    };
    let facts = facts();
    let mut problems = vec![];
    let mut available: BTreeSet<String> = SCRAPE_LABELS.map(str::to_owned).into();
    for (metric, matchers) in &query.selectors {
        let Some(fact) = facts.iter().find(|f| f.metric == metric) else {
            problems.push(format!("{metric} is no metric the fact table knows"));
            continue;
        };
        let mut labels: BTreeSet<String> = fact.labels.iter().map(|l| l.to_string()).collect();
        labels.extend(SCRAPE_LABELS.map(str::to_owned));
        if metric == "kube_pod_labels" {
            labels.extend(cluster.pod_labels.iter().cloned());
        }
        for (label, value) in matchers {
            if !labels.contains(label) {
                problems.push(format!("{metric} has no label {label} ({})", fact.source));
            }
            if label == "namespace" {
                let served = if fact.exporter == "cadvisor" {
                    &cluster.cadvisor_namespaces
                } else {
                    &cluster.namespaces
                };
                if !served.contains(value) {
                    problems.push(format!("{metric}: namespace {value} is not exported"));
                }
            }
        }
        if fact.exporter == "cadvisor" {
            if !cluster.cadvisor_metrics.contains(metric.as_str()) {
                problems.push(format!("{metric}: Prometheus' cadvisor job drops it"));
            }
        } else if fact.exporter == "notas" {
            if !cluster.scrapes_notas {
                problems.push(format!("{metric}: Prometheus has no notas job"));
            }
        } else if !cluster.resources.contains(fact.exporter)
            || !cluster.granted.contains(fact.exporter)
        {
            problems.push(format!(
                "{metric}: kube-state-metrics does not watch {} (--resources and its Role)",
                fact.exporter
            ));
        }
        available.extend(labels);
    }
    for (keyword, labels) in &query.lists {
        for label in labels {
            if !available.contains(label) {
                problems.push(format!(
                    "{keyword} ({label}): no metric of the query has it"
                ));
            }
        }
    }
    // After an aggregation only its `by` labels are left to name in the legend.
    let by: BTreeSet<&String> = query
        .lists
        .iter()
        .filter(|(k, _)| k == "by")
        .flat_map(|(_, l)| l)
        .collect();
    for label in legend_labels(legend) {
        if !available.contains(&label) || (!by.is_empty() && !by.contains(&label)) {
            problems.push(format!(
                "the legend names {label}, which no series it returns has"
            ));
        }
    }
    problems
}

fn dashboards() -> Vec<(String, Value)> {
    let folder = repo().join("k8s/components/observability/dashboards");
    let mut found: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let file = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                file,
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// (panel title, expression, legend) of every target of every panel.
fn queries(dashboard: &Value) -> Vec<(String, String, String)> {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["targets"].as_array().into_iter().flatten().map(|t| {
                (
                    p["title"].as_str().unwrap().to_owned(),
                    t["expr"].as_str().unwrap().to_owned(),
                    t["legendFormat"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
        .collect()
}

#[test]
fn every_query_of_a_cluster_dashboard_reads_what_its_exporter_gives() {
    let cluster = cluster();
    let mut checked = 0;
    for (file, dashboard) in dashboards() {
        if !strings(&dashboard["tags"]).any(|t| t == "cluster") {
            continue; // scripts/checks/dashboards.py runs it against the local Prometheus
        }
        for (title, expr, legend) in queries(&dashboard) {
            let problems = problems(&expr, &legend, &cluster);
            assert!(
                problems.is_empty(),
                "{file}, {title:?}: {problems:?}\n    {expr}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "{checked} queries checked");
}

#[test]
fn every_dashboard_picks_its_prometheus_with_the_datasource_variable() {
    let mut uids = BTreeSet::new();
    for (file, dashboard) in dashboards() {
        assert!(
            uids.insert(dashboard["uid"].to_string()),
            "{file}: uid taken"
        );
        assert_eq!(dashboard["schemaVersion"], 39, "{file}");
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        assert!(
            variables.iter().any(|v| v["type"] == "datasource"
                && v["name"] == "datasource"
                && v["query"] == "prometheus"),
            "{file}: a `datasource` variable of Prometheus data sources"
        );
        for panel in dashboard["panels"].as_array().unwrap() {
            let targets = panel["targets"].as_array().into_iter().flatten();
            for source in
                std::iter::once(&panel["datasource"]).chain(targets.map(|t| &t["datasource"]))
            {
                assert!(
                    source.is_null() || source["uid"] == "${datasource}",
                    "{file}, {}: {source}",
                    panel["title"]
                );
            }
        }
    }
    assert!(uids.len() >= 2);
}

/// The check refuses what it should: each of these queries breaks one rule.
#[test]
fn the_check_refuses_what_no_exporter_gives() {
    let cluster = cluster();
    let hpa = "kube_horizontalpodautoscaler_status_current_replicas";
    let refused = [
        // kube-state-metrics v1's name for it.
        ("kube_hpa_status_current_replicas", "", "no metric"),
        (
            &*format!("{hpa}{{hpa=\"grpc-server\"}}"),
            "",
            "no label hpa",
        ),
        (
            &*format!("{hpa}{{namespace=\"default\"}}"),
            "",
            "not exported",
        ),
        (
            &*format!("sum by (deployment) ({hpa})"),
            "",
            "by (deployment)",
        ),
        (
            &*format!("sum by (namespace) ({hpa})"),
            "{{horizontalpodautoscaler}}",
            "legend",
        ),
        ("kube_pod_labels{label_app=\"x\"}", "", "no label label_app"),
        ("kube_replicaset_owner", "", "no metric"),
        ("container_memory_usage_bytes", "", "no metric"),
        ("{__name__=~\"kube_.+\"}", "", "without a metric name"),
    ];
    for (expr, legend, why) in refused {
        let problems = problems(expr, legend, &cluster);
        assert!(
            problems.iter().any(|p| p.contains(why)),
            "{expr}: {problems:?} does not say {why:?}"
        );
    }
    assert_eq!(
        ksm_label("app.kubernetes.io/part-of"),
        "label_app_kubernetes_io_part_of"
    );
    assert_eq!(ksm_label("teamName"), "label_team_name");
    assert_eq!(NAMESPACE, "so1p2");
}
