//! A grade as a Kafka record, and back.
//!
//! - key: the grade's `Idempotency-Key` (queue-api makes one when the client sent none), so
//!   the record's partition is the key's and a redelivered record stores nothing twice;
//! - value: the grade in the wire format's JSON (the `POST /notas` body);
//! - timestamp: when queue-api accepted it (the record's create time, Unix milliseconds), for
//!   the time from `202` to stored. A timestamp and not a header: every record has one
//!   anyway, while a header is one more row the broker's SQLite engine writes and looks up
//!   for each record fetched.
//!
//! grade-consumer's `GradeConsumer::handle` reads each record back with [`decode`]. A record
//! that cannot be decoded is a poison record: the consumer sends it to the dead-letter topic
//! with header [`REASON`], so it never blocks its partition.

use notas_core::{
    grade::{Grade, GradeInput, InvalidField},
    idempotency::IdempotencyKey,
    mysql::grades::Submission,
};
use rdkafka::message::{Message, Timestamp};

/// Header of a dead letter: why it could not be stored.
pub const REASON: &str = "reason";

/// A grade read back from its record.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub key: IdempotencyKey,
    pub grade: Grade,
    /// `None` when the record carries no create time.
    pub accepted_at_ms: Option<i64>,
}

impl Accepted {
    pub fn submission(&self) -> Submission {
        Submission {
            grade: self.grade.clone(),
            key: Some(self.key.clone()),
        }
    }
}

/// Why a record is not a grade: the reason its dead letter carries.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Poison {
    #[error("the record has no key")]
    NoKey,
    #[error("the key is not an Idempotency-Key: {0}")]
    BadKey(InvalidField),
    #[error("the value is not a grade's JSON: {0}")]
    NotJson(String),
    #[error("the grade is invalid: {0}")]
    Invalid(InvalidField),
}

/// The value of a grade's record.
pub fn value(grade: &Grade) -> Vec<u8> {
    serde_json::to_vec(grade).expect("grades serialize")
}

/// Reads a grade back from its record, checking it as the HTTP route checks a body.
///
/// # Errors
/// [`Poison`]: what makes the record impossible to store.
pub fn decode(record: &impl Message) -> Result<Accepted, Poison> {
    let key = record.key().ok_or(Poison::NoKey)?;
    let key = IdempotencyKey::parse(key).map_err(Poison::BadKey)?;
    let input: GradeInput = serde_json::from_slice(record.payload().unwrap_or_default())
        .map_err(|e| Poison::NotJson(e.to_string()))?;
    let grade = Grade::parse(input).map_err(Poison::Invalid)?;
    Ok(Accepted {
        key,
        grade,
        accepted_at_ms: accepted_at_ms(record),
    })
}

/// When queue-api accepted the record: its create time, Unix milliseconds (queue-api sets
/// it); `None` for a record without one.
pub fn accepted_at_ms(record: &impl Message) -> Option<i64> {
    match record.timestamp() {
        Timestamp::CreateTime(ms) => Some(ms),
        Timestamp::NotAvailable | Timestamp::LogAppendTime(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::OwnedMessage;

    fn record(key: Option<&[u8]>, value: &[u8], timestamp: Timestamp) -> OwnedMessage {
        let (key, value) = (key.map(<[u8]>::to_vec), Some(value.to_vec()));
        OwnedMessage::new(value, key, "grades".into(), timestamp, 0, 0, None)
    }

    const GRADE: &[u8] =
        br#"{"carnet":233233,"nombre":"Alumno 1","curso":"SO1","nota":90,"semestre":"2S","year":2023}"#;

    #[test]
    fn a_grade_travels_as_its_key_its_json_and_when_it_was_accepted() {
        let grade = decode(&record(Some(b"k1"), GRADE, Timestamp::NotAvailable))
            .unwrap()
            .grade;
        let accepted = Timestamp::CreateTime(1_700_000_000_123);
        let back = decode(&record(Some(b"k1"), &value(&grade), accepted)).unwrap();
        assert_eq!(back.key.as_str(), "k1");
        assert_eq!(back.grade, grade);
        assert_eq!(back.accepted_at_ms, Some(1_700_000_000_123));
    }

    #[test]
    fn a_record_that_is_not_a_grade_says_why() {
        type Case<'a> = (Option<&'a [u8]>, &'a [u8], &'a str);
        let cases: [Case; 4] = [
            (None, GRADE, "no key"),
            (Some(b"tab\there"), GRADE, "Idempotency-Key"),
            (Some(b"k"), b"{not json", "not a grade's JSON"),
            (
                Some(b"k"),
                br#"{"carnet":1,"nombre":"A","curso":"XYZ","nota":1,"semestre":"1S","year":2023}"#,
                "curso",
            ),
        ];
        for (key, value, why) in cases {
            let poison = decode(&record(key, value, Timestamp::NotAvailable)).unwrap_err();
            assert!(
                poison.to_string().contains(why),
                "{poison} should say {why}"
            );
        }
    }
}
