//! The partitions this member holds, as a Prometheus gauge per partition
//! (`notas_queue_assigned_partitions`, labels `group`, `topic`, `partition`: 1 held, 0 not),
//! refreshed every [`REFRESH`]. The group's coordinator decides the assignment; a member
//! learns it when it polls, so this is what the member consumes, not what the broker planned.
//!
//! `just dev` and the fault suite read it across the members: the group works when together
//! they hold every partition. The broker cannot say so itself: nisshi 0.8.1 answers
//! DescribeGroups with empty assignments, and tansu 0.6.0 cannot read a group back.

use crate::lag::REFRESH;
use notas_core::shutdown::CancellationToken;
use rdkafka::consumer::{Consumer, StreamConsumer};
use std::{collections::BTreeSet, sync::Arc};

pub const ASSIGNED: &str = "notas_queue_assigned_partitions";

/// Sets the gauges from `consumer`'s assignment every [`REFRESH`] until `shutdown`; a
/// partition held once and lost since reads 0.
pub async fn report(consumer: Arc<StreamConsumer>, group: String, shutdown: CancellationToken) {
    let mut seen = BTreeSet::new();
    notas_core::shutdown::every(REFRESH, &shutdown, || {
        let held: BTreeSet<(String, i32)> = consumer
            .assignment()
            .map(|list| {
                list.elements()
                    .iter()
                    .map(|e| (e.topic().to_owned(), e.partition()))
                    .collect()
            })
            .unwrap_or_default();
        seen.extend(held.iter().cloned());
        for (topic, partition) in &seen {
            let value = if held.contains(&(topic.clone(), *partition)) {
                1.0
            } else {
                0.0
            };
            metrics::gauge!(ASSIGNED, "group" => group.clone(), "topic" => topic.clone(), "partition" => partition.to_string())
                .set(value);
        }
        async {}
    })
    .await
}

/// Its `# HELP`.
pub fn describe_metrics() {
    metrics::describe_gauge!(
        ASSIGNED,
        "1 for each partition of the topic this member of the group holds, 0 for one it held and lost"
    );
}
