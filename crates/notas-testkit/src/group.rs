//! A consumer group as the broker's coordinator describes it (DescribeGroups): its state
//! and its members. A test reads it from outside the members, so it sees what the broker
//! believes, whichever process died. Not the partitions each member holds: nisshi 0.8.1
//! describes every member with an empty assignment, so the tests read each grade-consumer's
//! own `notas_queue_assigned_partitions` instead.
//!
//! What the brokers here answer:
//! - nisshi 0.8.1 gives the state and the members.
//! - tansu 0.6.0 cannot describe a group: its SQLite engine fails to parse the group's
//!   stored state, and its storage task ends. Describe a group on tansu only when the test
//!   is over.

use notas_queue::kafka::KafkaArgs;
use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer},
    error::KafkaError,
};
use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

/// A consumer group as the broker describes it (DescribeGroups).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupView {
    /// The coordinator's state of the group: `Stable`, `PreparingRebalance`, `Empty`, ...
    pub state: String,
    /// The members' ids.
    pub members: BTreeSet<String>,
}

/// Reads consumer group `group` from the broker `args` reaches: its state and its members.
///
/// # Errors
/// The broker did not answer within `args`' timeout.
pub async fn describe_group(args: &KafkaArgs, group: &str) -> Result<GroupView, KafkaError> {
    let (args, group) = (args.clone(), group.to_owned());
    tokio::task::spawn_blocking(move || {
        let client: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &args.kafka_brokers)
            .set("client.id", "notas-testkit-group")
            .create()?;
        let list = client.fetch_group_list(Some(group.as_str()), args.timeout())?;
        let Some(info) = list.groups().iter().find(|g| g.name() == group) else {
            return Ok(GroupView::default());
        };
        let members = info.members().iter().map(|m| m.id().to_owned()).collect();
        Ok(GroupView {
            state: info.state().to_owned(),
            members,
        })
    })
    .await
    .expect("the group's description")
}

/// Describes `group` every 200 ms until `done` holds of it or `within` has passed: the last
/// description, and how long it took (`None`: `done` never held).
pub async fn wait_for_group(
    args: &KafkaArgs,
    group: &str,
    within: Duration,
    done: impl Fn(&GroupView) -> bool,
) -> (GroupView, Option<Duration>) {
    let start = Instant::now();
    loop {
        let view = describe_group(args, group)
            .await
            .unwrap_or_else(|e| GroupView {
                state: format!("not described: {e}"),
                ..GroupView::default()
            });
        if done(&view) {
            return (view, Some(start.elapsed()));
        }
        if start.elapsed() > within {
            return (view, None);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
