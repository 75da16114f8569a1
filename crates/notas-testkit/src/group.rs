//! A consumer group as the broker's coordinator describes it (DescribeGroups): its state,
//! its members and the partitions each holds. A test reads it from outside the members, so
//! it sees what the broker believes, whichever process died.
//!
//! What the brokers here answer:
//! - nisshi 0.8.1 gives the state and the members, with no assignment (no partitions).
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
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

/// A consumer group as the broker describes it (DescribeGroups).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupView {
    /// The coordinator's state of the group: `Stable`, `PreparingRebalance`, `Empty`, ...
    pub state: String,
    /// Member id → the partitions of the grades topic it holds (empty when the broker
    /// reports no assignment).
    pub members: BTreeMap<String, BTreeSet<i32>>,
}

/// Reads consumer group `group` from the broker `args` reaches: its state and the partitions
/// of `args.kafka_topic` each member holds.
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
        let members = info
            .members()
            .iter()
            .map(|m| {
                let held = m
                    .assignment()
                    .map(|bytes| partitions_of(bytes, &args.kafka_topic))
                    .unwrap_or_default();
                (m.id().to_owned(), held)
            })
            .collect();
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

/// The partitions of `topic` in a member's assignment, as the consumer protocol encodes it:
/// a version (i16), then topics (i32 count; each a name, i16 length then bytes, and its
/// partitions, i32 count then i32 each), then user data.
fn partitions_of(assignment: &[u8], topic: &str) -> BTreeSet<i32> {
    let mut bytes = assignment;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, rest) = (bytes.get(..n)?, bytes.get(n..)?);
        bytes = rest;
        Some(head)
    };
    let mut held = BTreeSet::new();
    let mut read = || -> Option<()> {
        take(2)?;
        let topics = i32::from_be_bytes(take(4)?.try_into().ok()?);
        for _ in 0..topics {
            let len = i16::from_be_bytes(take(2)?.try_into().ok()?);
            let name = take(usize::try_from(len).ok()?)?.to_vec();
            let count = i32::from_be_bytes(take(4)?.try_into().ok()?);
            for _ in 0..count {
                let partition = i32::from_be_bytes(take(4)?.try_into().ok()?);
                if name == topic.as_bytes() {
                    held.insert(partition);
                }
            }
        }
        Some(())
    };
    let _ = read();
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assignment_is_read_as_the_consumer_protocol_encodes_it() {
        let mut bytes = vec![0, 0, 0, 0, 0, 2];
        for (topic, partitions) in [("grades", &[0i32, 2][..]), ("other", &[1][..])] {
            bytes.extend((topic.len() as i16).to_be_bytes());
            bytes.extend(topic.as_bytes());
            bytes.extend((partitions.len() as i32).to_be_bytes());
            for p in partitions {
                bytes.extend(p.to_be_bytes());
            }
        }
        bytes.extend([0, 0, 0, 0]);
        assert_eq!(partitions_of(&bytes, "grades"), BTreeSet::from([0, 2]));
        assert_eq!(partitions_of(&bytes, "other"), BTreeSet::from([1]));
        assert!(partitions_of(&bytes[..3], "grades").is_empty());
    }
}
