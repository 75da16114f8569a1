//! Route 3's broker in the clusters (k8s/components/strimzi-kafka): the Strimzi operator
//! `just up` and `just deploy-gke` install is pinned (scripts/cluster/strimzi.py); the Kafka
//! resources are what the pinned release's CRDs take; the broker serves what queue-api and
//! grade-consumer ask of it; its replication fits its brokers; and the NetworkPolicy the
//! operator generates (modelled in tests/common/strimzi.rs) admits exactly route 3's services
//! to the listener and exactly Strimzi's own parts to the rest.
//!
//! The CRDs' facts are those of strimzi/strimzi-kafka-operator at tag 1.2.0 (commit
//! 6c7b43c4af0db547c10463ba09d1dfa6f5e156a0): install/cluster-operator/040-Crd-kafka.yaml,
//! 043-Crd-kafkatopic.yaml and 045-Crd-kafkanodepool.yaml (version v1, the only one served,
//! its openAPIV3Schema: properties, required fields, enums, patterns and bounds), and the
//! model classes named where they are used.

mod common;

use common::cluster::*;
use common::strimzi::{self, broker_pods, operator_pod, peer_name, with_operands};
use common::{CLUSTERS, NAMESPACE, check_fields, name, objects, of_kind, repo, strings};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const API_VERSION: &str = "kafka.strimzi.io/v1";

#[test]
fn the_strimzi_operator_is_pinned_by_hash_at_its_release_tag() {
    let settings = strimzi::settings();
    let version = settings["version"].as_str().unwrap();
    assert_eq!(
        version, "1.2.0",
        "the release the CRD facts below are read from"
    );
    let hashes = settings["sha256"].as_object().unwrap();
    let urls = settings["urls"].as_object().unwrap();
    assert_eq!(
        hashes.keys().collect::<Vec<_>>(),
        urls.keys().collect::<Vec<_>>()
    );
    for (file, sha256) in hashes {
        let sha256 = sha256.as_str().unwrap();
        assert!(
            sha256.len() == 64
                && sha256
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{file}: {sha256} is not a sha256"
        );
        assert_eq!(
            urls[file],
            format!(
                "https://raw.githubusercontent.com/strimzi/strimzi-kafka-operator/{version}/install/cluster-operator/{file}"
            ),
            "{file}: fetched from the release tag"
        );
    }
    // The definitions of every Strimzi kind the renderings use, and the operator itself.
    for file in [
        "040-Crd-kafka.yaml",
        "043-Crd-kafkatopic.yaml",
        "045-Crd-kafkanodepool.yaml",
        "060-Deployment-strimzi-cluster-operator.yaml",
    ] {
        assert!(hashes.contains_key(file), "{file} is not pinned");
    }
    // It watches notas' namespace from one of its own, which its NetworkPolicies may name.
    let operator_namespace = settings["operator_namespace"].as_str().unwrap();
    assert_eq!(settings["watched_namespace"], NAMESPACE);
    assert_ne!(operator_namespace, NAMESPACE);
    assert_eq!(
        settings["operator_namespace_labels"],
        format!("kubernetes.io/metadata.name={operator_namespace}")
    );
}

/// A node pool's `spec.storage` fields (045-Crd-kafkanodepool.yaml), `volumes` last.
const STORAGE: [&str; 10] = [
    "class",
    "deleteClaim",
    "id",
    "kraftMetadata",
    "selector",
    "size",
    "sizeLimit",
    "type",
    "volumeAttributesClass",
    "volumes",
];

/// The fields of the `kafka.strimzi.io/v1` kinds this repository may use, by parent (the
/// CRDs' `properties`); maps of free keys (`config`, labels) are not looked into.
fn strimzi_fields(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "" => &["apiVersion", "kind", "metadata", "spec"],
        "metadata" => &["name", "namespace", "labels", "annotations"],
        // Kafka (040-Crd-kafka.yaml).
        "spec.kafka" => &[
            "version",
            "metadataVersion",
            "image",
            "listeners",
            "config",
            "authorization",
            "rack",
            "brokerRackInitImage",
            "livenessProbe",
            "readinessProbe",
            "jvmOptions",
            "jmxOptions",
            "metricsConfig",
            "logging",
            "template",
            "tieredStorage",
            "quotas",
        ],
        "spec.kafka.listeners" => &[
            "name",
            "port",
            "type",
            "tls",
            "authentication",
            "configuration",
            "networkPolicyPeers",
        ],
        "spec.kafka.listeners.networkPolicyPeers" => {
            &["ipBlock", "namespaceSelector", "podSelector"]
        }
        "spec.kafka.listeners.networkPolicyPeers.podSelector"
        | "spec.template.pod.topologySpreadConstraints.labelSelector" => {
            &["matchExpressions", "matchLabels"]
        }
        "spec.kafka.listeners.networkPolicyPeers.podSelector.matchExpressions" => {
            &["key", "operator", "values"]
        }
        "spec.entityOperator" => &["topicOperator", "userOperator", "template"],
        "spec.entityOperator.topicOperator" => &[
            "watchedNamespace",
            "image",
            "reconciliationIntervalMs",
            "startupProbe",
            "livenessProbe",
            "readinessProbe",
            "resources",
            "logging",
            "jvmOptions",
        ],
        "spec.entityOperator.topicOperator.resources" | "spec.resources" => {
            &["claims", "limits", "requests"]
        }
        // KafkaNodePool (045-Crd-kafkanodepool.yaml).
        "spec.storage" => &STORAGE,
        // A volume has the storage's fields but `volumes`.
        "spec.storage.volumes" => &STORAGE[..STORAGE.len() - 1],
        "spec.template" => &[
            "podSet",
            "pod",
            "perPodService",
            "perPodRoute",
            "perPodIngress",
            "persistentVolumeClaim",
            "kafkaContainer",
            "initContainer",
        ],
        "spec.template.pod" => &[
            "metadata",
            "imagePullSecrets",
            "securityContext",
            "terminationGracePeriodSeconds",
            "affinity",
            "tolerations",
            "topologySpreadConstraints",
            "priorityClassName",
            "schedulerName",
            "hostAliases",
            "dnsPolicy",
            "dnsConfig",
            "enableServiceLinks",
            "tmpDirSizeLimit",
            "volumes",
            "templatedVolumes",
            "hostUsers",
        ],
        "spec.template.pod.topologySpreadConstraints" => &[
            "labelSelector",
            "matchLabelKeys",
            "maxSkew",
            "minDomains",
            "nodeAffinityPolicy",
            "nodeTaintsPolicy",
            "topologyKey",
            "whenUnsatisfiable",
        ],
        _ => return None,
    })
}

/// The `spec` fields of each kind (the CRDs' `spec.properties`) and its required ones.
const SPECS: [(&str, &[&str], &[&str]); 3] = [
    (
        "Kafka",
        &[
            "kafka",
            "entityOperator",
            "clusterCa",
            "clientsCa",
            "cruiseControl",
            "kafkaExporter",
            "maintenanceTimeWindows",
        ],
        &["kafka"],
    ),
    (
        "KafkaNodePool",
        &[
            "replicas",
            "storage",
            "roles",
            "resources",
            "jvmOptions",
            "template",
        ],
        &["replicas", "storage", "roles"],
    ),
    (
        "KafkaTopic",
        &["topicName", "partitions", "replicas", "config"],
        &[],
    ),
];

/// Broker settings Strimzi sets itself and refuses in `spec.kafka.config`
/// (KafkaClusterSpec.FORBIDDEN_PREFIXES; none of FORBIDDEN_PREFIX_EXCEPTIONS is used here).
const FORBIDDEN_PREFIXES: [&str; 32] = [
    "listeners",
    "advertised.",
    "broker.",
    "listener.",
    "host.name",
    "port",
    "inter.broker.listener.name",
    "sasl.",
    "ssl.",
    "security.",
    "password.",
    "log.dir",
    "zookeeper.connect",
    "zookeeper.set.acl",
    "zookeeper.ssl",
    "zookeeper.clientCnxnSocket",
    "authorizer.",
    "super.user",
    "cruise.control.metrics.topic",
    "cruise.control.metrics.reporter.bootstrap.servers",
    "node.id",
    "process.roles",
    "controller.",
    "metadata.log.dir",
    "zookeeper.metadata.migration.enable",
    "client.quota.callback.static.kafka.admin.",
    "client.quota.callback.static.produce",
    "client.quota.callback.static.fetch",
    "client.quota.callback.static.storage.per.volume.limit.min.available.",
    "client.quota.callback.static.excluded.principal.name.list",
    "prometheus.metrics.reporter.",
    "cordoned.log.dirs",
];

#[test]
fn the_kafka_resources_are_what_the_pinned_crds_take() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let kafkas: Vec<&str> = of_kind(&objects, "Kafka").into_iter().map(name).collect();
        assert_eq!(kafkas, ["notas"], "{rendering}: one Kafka cluster");
        for (kind, spec_fields, required) in SPECS {
            let resources = of_kind(&objects, kind);
            assert!(!resources.is_empty(), "{rendering}: no {kind}");
            for r in resources {
                let what = format!("{rendering}: {kind} {}", name(r));
                assert_eq!(
                    r["apiVersion"], API_VERSION,
                    "{what}: Strimzi 1.2.0 serves v1 only"
                );
                // `spec` is each kind's own; below it, the fields are shared.
                let fields = |path: &str| {
                    if path == "spec" {
                        Some(spec_fields)
                    } else {
                        strimzi_fields(path)
                    }
                };
                check_fields(r, "", &fields, kind);
                let spec = r["spec"].as_object().unwrap();
                for field in required {
                    assert!(
                        spec.contains_key(*field),
                        "{what}: spec.{field} is required"
                    );
                }
                // Node pools and topics name their cluster (the label, strimzi.io/cluster).
                if kind != "Kafka" {
                    let cluster = &r["metadata"]["labels"]["strimzi.io/cluster"];
                    assert!(
                        kafkas.iter().any(|k| cluster == k),
                        "{what}: strimzi.io/cluster {cluster}"
                    );
                }
            }
        }
        let kafka = of_kind(&objects, "Kafka")[0];
        for l in kafka["spec"]["kafka"]["listeners"].as_array().unwrap() {
            let listener = l["name"].as_str().unwrap();
            // `^[a-z0-9]{1,11}$`, port minimum 9092, the type's enum; `tls` is required.
            assert!(
                (1..=11).contains(&listener.len())
                    && listener
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
                "{rendering}: listener name {listener}"
            );
            assert!(
                l["port"].as_u64().unwrap() >= 9092,
                "{rendering}: {listener} port"
            );
            assert!(
                [
                    "internal",
                    "route",
                    "tlsroute",
                    "loadbalancer",
                    "nodeport",
                    "ingress",
                    "cluster-ip"
                ]
                .contains(&l["type"].as_str().unwrap()),
                "{rendering}: {listener} type"
            );
            assert!(l["tls"].is_boolean(), "{rendering}: {listener} tls");
        }
        for key in kafka["spec"]["kafka"]["config"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            assert!(
                !FORBIDDEN_PREFIXES.iter().any(|p| key.starts_with(p)),
                "{rendering}: spec.kafka.config.{key} is Strimzi's to set"
            );
        }
        for pool in of_kind(&objects, "KafkaNodePool") {
            let what = format!("{rendering}: KafkaNodePool {}", name(pool));
            let roles: Vec<&str> = strings(&pool["spec"]["roles"]).collect();
            assert!(
                !roles.is_empty() && roles.iter().all(|r| ["controller", "broker"].contains(r)),
                "{what}: roles {roles:?}"
            );
            let storage = &pool["spec"]["storage"];
            assert!(
                ["ephemeral", "persistent-claim", "jbod"]
                    .contains(&storage["type"].as_str().unwrap())
            );
            for volume in volumes(pool) {
                assert!(
                    ["ephemeral", "persistent-claim"].contains(&volume["type"].as_str().unwrap()),
                    "{what}: volume type"
                );
                assert!(volume["kraftMetadata"].is_null() || volume["kraftMetadata"] == "shared");
            }
        }
        for topic in of_kind(&objects, "KafkaTopic") {
            let (partitions, replicas) = (&topic["spec"]["partitions"], &topic["spec"]["replicas"]);
            assert!(
                partitions.is_null() || partitions.as_u64() >= Some(1),
                "{}",
                name(topic)
            );
            assert!(
                replicas.is_null() || (1..=32767).contains(&replicas.as_u64().unwrap()),
                "{}",
                name(topic)
            );
        }
    }
}

/// A node pool's volumes: those of a `jbod` storage, or the storage itself.
fn volumes(pool: &Value) -> Vec<&Value> {
    let storage = &pool["spec"]["storage"];
    match storage["volumes"].as_array() {
        Some(volumes) if storage["type"] == "jbod" => volumes.iter().collect(),
        _ => vec![storage],
    }
}

/// Nodes of the pools with `role` in the Kafka cluster `cluster`.
fn nodes(objects: &[Value], cluster: &str, role: &str) -> u64 {
    of_kind(objects, "KafkaNodePool")
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["strimzi.io/cluster"] == cluster)
        .filter(|p| strings(&p["spec"]["roles"]).any(|r| r == role))
        .map(|p| p["spec"]["replicas"].as_u64().unwrap())
        .sum()
}

/// A topic's name in Kafka: `spec.topicName`, else the resource's name.
fn topic_name(topic: &Value) -> &str {
    topic["spec"]["topicName"].as_str().unwrap_or(name(topic))
}

/// A container's value for `variable`: what its environment sets, else its binary's default.
fn setting(objects: &[Value], rendering: &str, container: &Value, variable: &str) -> String {
    if let Some(value) = environment(objects, rendering, container).remove(variable) {
        return value;
    }
    let binary = binary_of(container).unwrap();
    let command = &commands()[binary];
    let argument = command
        .get_arguments()
        .find(|a| a.get_env().is_some_and(|e| e == variable))
        .unwrap_or_else(|| panic!("{binary} reads no {variable}"));
    argument.get_default_values()[0]
        .to_string_lossy()
        .into_owned()
}

/// rdkafka's cargo features in the workspace (Cargo.toml): TLS is `ssl` (OpenSSL; with it
/// SASL SCRAM and OAUTHBEARER, rdkafka-sys 4.10.0's build.rs), and `sasl`, `gssapi` and the
/// vendored variants bring it too (rdkafka 0.39.0's and rdkafka-sys 4.10.0's Cargo.toml).
fn rdkafka_speaks_tls() -> bool {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .find(|l| l.starts_with("rdkafka "))
        .expect("the workspace depends on rdkafka");
    ["ssl", "sasl", "gssapi"]
        .iter()
        .any(|f| line.contains(&format!("\"{f}")))
}

#[test]
fn the_broker_serves_what_route_3_asks() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let kafka = of_kind(&objects, "Kafka")[0];
        let cluster = name(kafka);
        let listeners = kafka["spec"]["kafka"]["listeners"].as_array().unwrap();
        let topics: BTreeMap<&str, &Value> = of_kind(&objects, "KafkaTopic")
            .into_iter()
            .filter(|t| t["metadata"]["labels"]["strimzi.io/cluster"] == cluster)
            .map(|t| (topic_name(t), t))
            .collect();
        let mut clients = BTreeSet::new();
        for (workload, container) in notas_containers(&objects) {
            let Some(binary) = binary_of(container) else {
                continue;
            };
            if !commands()[binary]
                .get_arguments()
                .any(|a| a.get_env().is_some_and(|e| e == "KAFKA_BROKERS"))
            {
                continue;
            }
            clients.insert(workload.clone());
            let what = format!("{rendering}: {workload}");
            // Every bootstrap server is the cluster's bootstrap Service, on a listener the
            // client can speak: plain TCP, no authentication, unless rdkafka is built with TLS.
            let brokers = setting(&objects, rendering, container, "KAFKA_BROKERS");
            for (host, port) in url_addresses(&brokers) {
                assert_eq!(
                    host,
                    format!("{cluster}-kafka-bootstrap"),
                    "{what}: KAFKA_BROKERS"
                );
                let listener = listeners
                    .iter()
                    .find(|l| l["port"] == port && l["type"] == "internal")
                    .unwrap_or_else(|| panic!("{what}: no internal listener on {port}"));
                assert!(
                    rdkafka_speaks_tls()
                        || (listener["tls"] == false && listener["authentication"].is_null()),
                    "{what}: rdkafka is built without TLS and SASL; the listener asks for them"
                );
            }
            for variable in ["KAFKA_TOPIC", "KAFKA_DEAD_LETTER_TOPIC"] {
                let topic = setting(&objects, rendering, container, variable);
                assert!(
                    topics.contains_key(topic.as_str()),
                    "{what}: {variable}={topic} is no KafkaTopic of {cluster} ({:?})",
                    topics.keys()
                );
            }
        }
        assert_eq!(
            clients,
            BTreeSet::from(["grade-consumer".to_owned(), "queue-api".to_owned()]),
            "{rendering}"
        );
        // A consumer group shares a topic's partitions: members past their number sit idle.
        let consumer = of_kind(&objects, "HorizontalPodAutoscaler")
            .into_iter()
            .find(|h| h["spec"]["scaleTargetRef"]["name"] == "grade-consumer")
            .expect("grade-consumer's HPA");
        let container = notas_containers(&objects)
            .into_iter()
            .find(|(w, _)| w == "grade-consumer")
            .unwrap()
            .1;
        let grades = setting(&objects, rendering, container, "KAFKA_TOPIC");
        let partitions = topics[grades.as_str()]["spec"]["partitions"]
            .as_u64()
            .unwrap();
        assert!(
            partitions >= 3,
            "{rendering}: the issue asks for 3 partitions at least"
        );
        assert!(
            consumer["spec"]["maxReplicas"].as_u64().unwrap() <= partitions,
            "{rendering}: more grade-consumers than partitions of {grades}"
        );
        // The log outlives its pod: every volume a persistent claim.
        for pool in of_kind(&objects, "KafkaNodePool") {
            for volume in volumes(pool) {
                assert_eq!(
                    volume["type"],
                    "persistent-claim",
                    "{rendering}: {} keeps its log on an ephemeral volume",
                    name(pool)
                );
            }
            assert!(
                volumes(pool).iter().any(|v| v["kraftMetadata"] == "shared"),
                "{rendering}: {} has no volume for the KRaft metadata log",
                name(pool)
            );
        }
        assert!(
            nodes(&objects, cluster, "controller") >= 1,
            "{rendering}: no controller"
        );
    }
}

/// A broker setting of `spec.kafka.config` as a number, with Kafka's default when unset.
fn config(kafka: &Value, key: &str, default: u64) -> u64 {
    kafka["spec"]["kafka"]["config"][key]
        .as_u64()
        .unwrap_or(default)
}

#[test]
fn replication_fits_the_brokers() {
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let kafka = of_kind(&objects, "Kafka")[0];
        let brokers = nodes(&objects, name(kafka), "broker");
        // Strimzi refuses more than the brokers for these (KafkaCluster's
        // validateIntConfigProperty); Kafka's defaults: 1, 3, 3 and 2.
        for (key, default) in [
            ("default.replication.factor", 1),
            ("offsets.topic.replication.factor", 3),
            ("transaction.state.log.replication.factor", 3),
            ("transaction.state.log.min.isr", 2),
        ] {
            let value = config(kafka, key, default);
            assert!(
                value <= brokers,
                "{rendering}: {key} {value} > {brokers} brokers"
            );
        }
        // acks=all waits for min.insync.replicas: a topic with fewer replicas refuses every
        // append (NOT_ENOUGH_REPLICAS), and one with as many stops at the first broker down.
        let min_insync = config(kafka, "min.insync.replicas", 1);
        for topic in of_kind(&objects, "KafkaTopic") {
            let replicas = topic["spec"]["replicas"]
                .as_u64()
                .unwrap_or_else(|| config(kafka, "default.replication.factor", 1));
            assert!(
                min_insync <= replicas && replicas <= brokers,
                "{rendering}: {} has {replicas} replicas, min.insync.replicas {min_insync}, {brokers} brokers",
                name(topic)
            );
            if brokers > 1 {
                assert!(
                    min_insync >= 2 && replicas > min_insync,
                    "{rendering}: {}: a 202 must mean two copies, and one broker may be down",
                    name(topic)
                );
            }
        }
        // kind: one node; GKE: three, so a node can go (k8s/components/strimzi-kafka-replicated).
        let expected = if rendering == "kind" { 1 } else { 3 };
        assert_eq!(brokers, expected, "{rendering}: brokers");
    }
}

#[test]
fn the_broker_admits_exactly_route_3_and_strimzi() {
    for rendering in CLUSTERS {
        let objects = with_operands(objects(rendering));
        let policies = of_kind(&objects, "NetworkPolicy");
        let brokers = broker_pods(&objects);
        assert!(!brokers.is_empty(), "{rendering}: no broker pods modelled");
        // Every pod of the rendering, the operator, and pods elsewhere, one of them labelled
        // as an operator (only the operator's namespace may send as one).
        let mut senders: Vec<(String, Peer)> = pods(&objects)
            .into_iter()
            .map(|(p, _)| (peer_name(&p), p))
            .collect();
        senders.push(("the Strimzi operator".into(), operator_pod()));
        senders.push(("a pod of default".into(), pod_of("default", json!({}))));
        senders.push((
            "an operator's look-alike in default".into(),
            pod_of("default", json!({ "strimzi.io/kind": "cluster-operator" })),
        ));
        senders.push(("ingress-nginx".into(), pod_of("ingress-nginx", json!({}))));
        // Route 3's services: what connects to the bootstrap Service (KAFKA_BROKERS).
        let clients: BTreeSet<String> = connections(&objects, rendering)
            .into_iter()
            .filter(|c| c.host.ends_with("-kafka-bootstrap"))
            .map(|c| c.workload)
            .collect();
        assert_eq!(clients.len(), 2, "{rendering}: {clients:?}");
        for (broker, ports) in &brokers {
            for (number, port_name) in ports {
                let admitted: BTreeSet<String> = senders
                    .iter()
                    .filter(|(_, from)| {
                        admitted(&policies, from, broker, (*number, Some(port_name)), "TCP")
                    })
                    .map(|(what, _)| what.clone())
                    .collect();
                let expected: BTreeSet<String> = match strimzi::needs(&objects, port_name) {
                    needs if !needs.is_empty() => needs.into_iter().map(|(w, _)| w).collect(),
                    _ => clients.clone(),
                };
                assert_eq!(
                    admitted,
                    expected,
                    "{rendering}: who reaches {} on {port_name} ({number})",
                    peer_name(broker)
                );
            }
        }
    }
}

/// The grades topic keeps a record exactly as notas-queue creates it locally
/// (`grades_topic_config`, which notas-queue holds under the keys' lifetime in MySQL), so
/// that a record delivered again finds its key, and the broker looks for expired segments
/// at least as often as that bound assumes.
#[test]
fn the_grades_topic_keeps_records_no_longer_than_their_keys() {
    use notas_queue::kafka::{RETENTION_CHECK, grades_topic_config};
    for rendering in CLUSTERS {
        let objects = objects(rendering);
        let kafka = of_kind(&objects, "Kafka")[0];
        let grades = of_kind(&objects, "KafkaTopic")
            .into_iter()
            .find(|t| topic_name(t) == "grades")
            .expect("the grades KafkaTopic");
        let declared = &grades["spec"]["config"];
        let expected = grades_topic_config();
        for (key, value) in &expected {
            let found = match &declared[key] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => panic!("{rendering}: grades' {key} is {other}"),
            };
            assert_eq!(&found, value, "{rendering}: grades' {key}");
        }
        assert_eq!(
            declared.as_object().map(|c| c.len()),
            Some(expected.len()),
            "{rendering}: a setting of grades' config that notas-queue does not create: {declared}"
        );
        let check_ms = RETENTION_CHECK.as_millis() as u64;
        assert!(
            config(kafka, "log.retention.check.interval.ms", check_ms) <= check_ms,
            "{rendering}: the broker looks for expired segments less often than the keys assume"
        );
    }
}
