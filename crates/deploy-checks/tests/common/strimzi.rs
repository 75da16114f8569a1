//! What the Strimzi cluster operator makes of the `Kafka` and `KafkaNodePool` resources of a
//! rendering, modelled so that the checks see route 3's broker as the cluster will: the
//! broker pods with their labels and ports, the bootstrap Service the services name in
//! KAFKA_BROKERS, the entity operator, and the NetworkPolicies the operator generates. Each
//! fact is Strimzi 1.2.0's, the release `scripts/cluster/strimzi.py` pins (strimzi/strimzi-kafka-operator
//! at tag 1.2.0, commit 6c7b43c4af0db547c10463ba09d1dfa6f5e156a0):
//!
//! - names: `<cluster>-kafka-bootstrap`, `<cluster>-network-policy-kafka`,
//!   `<cluster>-entity-operator` (api/.../kafka/KafkaResources.java);
//! - the pods' labels: KafkaPool's constructor (cluster-operator/.../model/KafkaPool.java) and
//!   `withStrimziBrokerRole`/`withStrimziControllerRole` per node (KafkaCluster.java);
//!   `app.kubernetes.io/part-of` is `strimzi-<cluster>` (Labels.withKubernetesPartOf), so no
//!   policy or scrape of notas' own selects them;
//! - their ports: `tcp-kafkaagent` 8443 on every node, `tcp-ctrlplane` 9090 on controllers,
//!   `tcp-replication` 9091 and each listener on brokers (KafkaCluster.getContainerPortList),
//!   a listener's port named `tcp-clients` for `plain` on 9092 (ListenersUtils
//!   .backwardsCompatiblePortName), else `tcp-<name>`;
//! - the bootstrap Service: the internal listeners and replication, selecting the brokers
//!   (KafkaCluster.generateService, getServicePorts, brokersSelector);
//! - the NetworkPolicy (KafkaCluster.generateNetworkPolicy, NetworkPolicyUtils): the control
//!   plane from the brokers and the operator, replication from those, the entity operator,
//!   Kafka Exporter and Cruise Control, the agent from the operator, each listener from its
//!   `networkPolicyPeers` (every pod when it has none); the operator admitted from the
//!   namespaces its STRIMZI_OPERATOR_NAMESPACE_LABELS select (`scripts/cluster/strimzi.py --settings`),
//!   from every namespace when unset (clusterOperatorNamespaceSelector). Generated while
//!   STRIMZI_NETWORK_POLICY_GENERATION is true, its default (ClusterOperatorConfig.java).
//! - the entity operator's topic operator, port `healthcheck-to` 8080, whose own policy admits
//!   every pod there (EntityOperator.generateNetworkPolicy, EntityTopicOperator.java).
//!
//! A StrimziPodSet is modelled with a pod template, like the other workloads (the real one
//! lists its pods). A policy's `policyTypes` is given as Kubernetes defaults it (Ingress only).

use super::cluster::{Flow, Peer, pod_of, pods, selects};
use super::{NAMESPACE, name, of_kind, repo, run, strings};
use serde_json::{Value, json};
use std::{process::Command, sync::OnceLock};

/// What `scripts/cluster/strimzi.py` installs: its pins and where the operator runs.
pub fn settings() -> &'static Value {
    static SETTINGS: OnceLock<Value> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let mut command = Command::new("python3");
        command
            .current_dir(repo())
            .args(["-m", "scripts.cluster.strimzi", "--settings"]);
        serde_json::from_str(&run(&mut command, "python3")).unwrap()
    })
}

/// The operator's pod: its Deployment's template labels (060-Deployment-strimzi-cluster-operator.yaml)
/// in its namespace, with the labels Kubernetes gives that namespace.
pub fn operator_pod() -> Peer {
    let namespace = settings()["operator_namespace"].as_str().unwrap();
    pod_of(
        namespace,
        json!({ "name": "strimzi-cluster-operator", "strimzi.io/kind": "cluster-operator" }),
    )
}

/// `key=value,key2=value2` (Labels.fromString) as a label map.
fn label_map(text: &str) -> Value {
    Value::Object(
        text.split(',')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap();
                (key.to_owned(), Value::from(value))
            })
            .collect(),
    )
}

/// The Kafka clusters' pods and Services as the operator makes them, and its NetworkPolicies.
pub fn operands(objects: &[Value]) -> Vec<Value> {
    let settings = settings();
    let operator_namespace = settings["operator_namespace"].as_str().unwrap();
    let mut made = vec![];
    for kafka in of_kind(objects, "Kafka") {
        let cluster = name(kafka);
        let component = format!("{cluster}-kafka");
        let selector = json!({
            "strimzi.io/cluster": cluster,
            "strimzi.io/name": component,
            "strimzi.io/kind": "Kafka",
        });
        let listeners = kafka["spec"]["kafka"]["listeners"].as_array().unwrap();
        let port_name = |listener: &Value| -> String {
            let (n, p) = (
                listener["name"].as_str().unwrap(),
                listener["port"].as_u64().unwrap(),
            );
            match (n, p, listener["type"].as_str().unwrap()) {
                ("plain", 9092, "internal") => "tcp-clients".into(),
                ("tls", 9093, "internal") => "tcp-clientstls".into(),
                ("external", 9094, _) => "tcp-external".into(),
                _ => format!("tcp-{n}"),
            }
        };
        for pool in of_kind(objects, "KafkaNodePool")
            .into_iter()
            .filter(|p| p["metadata"]["labels"]["strimzi.io/cluster"] == cluster)
        {
            let roles: Vec<&str> = strings(&pool["spec"]["roles"]).collect();
            let (broker, controller) = (roles.contains(&"broker"), roles.contains(&"controller"));
            let mut labels = selector.clone();
            for (key, value) in [
                ("strimzi.io/pool-name", name(pool).to_owned()),
                ("strimzi.io/component-type", "kafka".into()),
                ("strimzi.io/broker-role", broker.to_string()),
                ("strimzi.io/controller-role", controller.to_string()),
                ("app.kubernetes.io/name", "kafka".into()),
                ("app.kubernetes.io/instance", cluster.into()),
                ("app.kubernetes.io/part-of", format!("strimzi-{cluster}")),
                (
                    "app.kubernetes.io/managed-by",
                    "strimzi-cluster-operator".into(),
                ),
            ] {
                labels[key] = value.into();
            }
            let mut ports = vec![json!({ "name": "tcp-kafkaagent", "containerPort": 8443 })];
            if controller {
                ports.push(json!({ "name": "tcp-ctrlplane", "containerPort": 9090 }));
            }
            if broker {
                ports.push(json!({ "name": "tcp-replication", "containerPort": 9091 }));
                for l in listeners {
                    ports.push(json!({ "name": port_name(l), "containerPort": l["port"] }));
                }
            }
            made.push(pod_set(
                "StrimziPodSet",
                &format!("{cluster}-{}", name(pool)),
                labels,
                ports,
            ));
        }
        let mut service_ports = vec![json!({
            "name": "tcp-replication", "port": 9091, "targetPort": "tcp-replication",
        })];
        for l in listeners.iter().filter(|l| l["type"] == "internal") {
            service_ports.push(json!({
                "name": port_name(l), "port": l["port"], "targetPort": port_name(l),
            }));
        }
        let mut brokers = selector.clone();
        brokers["strimzi.io/broker-role"] = "true".into();
        made.push(json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": format!("{cluster}-kafka-bootstrap"), "namespace": NAMESPACE },
            "spec": { "selector": brokers, "ports": service_ports },
        }));

        let operator_labels = settings["operator_namespace_labels"].as_str().unwrap_or("");
        let operator_namespaces = if operator_namespace == NAMESPACE {
            Value::Null
        } else if operator_labels.is_empty() {
            json!({})
        } else {
            json!({ "matchLabels": label_map(operator_labels) })
        };
        let mut operator =
            json!({ "podSelector": { "matchLabels": { "strimzi.io/kind": "cluster-operator" } } });
        if !operator_namespaces.is_null() {
            operator["namespaceSelector"] = operator_namespaces;
        }
        let named = |component: String| json!({ "podSelector": { "matchLabels": { "strimzi.io/name": component } } });
        let brokers_peer = json!({ "podSelector": { "matchLabels": selector } });
        let rule = |port: &Value, from: Option<Vec<Value>>| {
            let mut rule = json!({ "ports": [{ "port": port, "protocol": "TCP" }] });
            if let Some(from) = from.filter(|f| !f.is_empty()) {
                rule["from"] = from.into();
            }
            rule
        };
        let mut rules = vec![
            rule(
                &9090.into(),
                Some(vec![brokers_peer.clone(), operator.clone()]),
            ),
            rule(
                &9091.into(),
                Some(vec![
                    operator.clone(),
                    brokers_peer,
                    named(format!("{cluster}-entity-operator")),
                    named(format!("{cluster}-kafka-exporter")),
                    named(format!("{cluster}-cruise-control")),
                ]),
            ),
            rule(&8443.into(), Some(vec![operator])),
        ];
        for l in listeners {
            let peers = l["networkPolicyPeers"].as_array().cloned();
            rules.push(rule(&l["port"], peers));
        }
        made.push(policy(
            &format!("{cluster}-network-policy-kafka"),
            &selector,
            rules,
        ));

        if kafka["spec"]["entityOperator"]["topicOperator"].is_object() {
            let component = format!("{cluster}-entity-operator");
            let labels = json!({
                "strimzi.io/cluster": cluster,
                "strimzi.io/name": component,
                "strimzi.io/kind": "Kafka",
                "app.kubernetes.io/name": "entity-operator",
                "app.kubernetes.io/part-of": format!("strimzi-{cluster}"),
            });
            let ports = vec![json!({ "name": "healthcheck-to", "containerPort": 8080 })];
            made.push(pod_set("Deployment", &component, labels, ports));
            let selector = json!({
                "strimzi.io/cluster": cluster, "strimzi.io/name": component, "strimzi.io/kind": "Kafka",
            });
            made.push(policy(
                &component,
                &selector,
                vec![rule(&8080.into(), None)],
            ));
        }
    }
    made
}

fn pod_set(kind: &str, workload: &str, labels: Value, ports: Vec<Value>) -> Value {
    json!({
        "apiVersion": "modelled/strimzi",
        "kind": kind,
        "metadata": { "name": workload, "namespace": NAMESPACE },
        "spec": { "template": {
            "metadata": { "labels": labels },
            "spec": { "containers": [{ "name": workload, "ports": ports }] },
        } },
    })
}

fn policy(policy: &str, selector: &Value, rules: Vec<Value>) -> Value {
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": { "name": policy, "namespace": NAMESPACE },
        "spec": {
            "podSelector": { "matchLabels": selector },
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    })
}

/// A rendering's objects and what the operator makes of them.
pub fn with_operands(mut objects: Vec<Value>) -> Vec<Value> {
    let made = operands(&objects);
    objects.extend(made);
    objects
}

/// The broker pods of a rendering with its operands (modelled StrimziPodSets), as peers with
/// their ports.
pub fn broker_pods(objects: &[Value]) -> Vec<(Peer, Vec<(u64, String)>)> {
    let names: Vec<&str> = of_kind(objects, "StrimziPodSet")
        .into_iter()
        .map(name)
        .collect();
    pods(objects)
        .into_iter()
        .filter(|(p, _)| matches!(p, Peer::Pod { name, .. } if names.contains(&name.as_str())))
        .collect()
}

/// Who Strimzi itself needs to reach each broker port: the operator (control plane,
/// replication, its agent), the nodes each other (control plane, replication), the entity
/// operator's topic operator (replication). The comments of KafkaCluster.generateNetworkPolicy.
pub fn needs(objects: &[Value], port_name: &str) -> Vec<(String, Peer)> {
    let operator = ("the Strimzi operator".to_owned(), operator_pod());
    let nodes = || {
        broker_pods(objects)
            .into_iter()
            .map(|(p, _)| (peer_name(&p), p))
            .collect::<Vec<_>>()
    };
    let entity_operators = pods(objects).into_iter().filter(|(p, _)| {
        let selector = json!({ "matchLabels": { "app.kubernetes.io/name": "entity-operator" } });
        matches!(p, Peer::Pod { labels, .. } if selects(&selector, labels))
    });
    match port_name {
        "tcp-ctrlplane" => [vec![operator], nodes()].concat(),
        "tcp-replication" => [
            vec![operator],
            nodes(),
            entity_operators.map(|(p, _)| (peer_name(&p), p)).collect(),
        ]
        .concat(),
        "tcp-kafkaagent" => vec![operator],
        _ => vec![],
    }
}

/// Every connection Strimzi's own parts open to the brokers.
pub fn internal_flows(objects: &[Value]) -> Vec<Flow> {
    let mut flows = vec![];
    for (to, ports) in broker_pods(objects) {
        for (number, port_name) in ports {
            for (what, from) in needs(objects, &port_name) {
                flows.push(Flow {
                    what: format!("{what} -> {} {port_name}", peer_name(&to)),
                    from,
                    to: to.clone(),
                    port: (number, port_name.clone()),
                    protocol: "TCP",
                });
            }
        }
    }
    flows
}

/// A peer's name in a message: the workload of a pod, or the addresses.
pub fn peer_name(peer: &Peer) -> String {
    match peer {
        Peer::Pod { name, .. } => name.clone(),
        Peer::Addresses(start, end) => format!("addresses {start}..={end}"),
    }
}
