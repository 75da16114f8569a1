//! Retries that store nothing twice: the `Idempotency-Key` a client may send with a grade
//! (the IETF httpapi draft's header). The key is committed with the grade it stored
//! ([`crate::mysql::grades::GradeStore::insert`]); a retry with the same key and the same grade is
//! answered with the first grade's id, with another grade it is refused.

use crate::grade::InvalidField;
use std::fmt;

/// The header, and the `field` of the errors about it.
pub const HEADER: &str = "Idempotency-Key";

/// Longest key, in bytes.
pub const MAX_LEN: usize = 255;

/// A well-formed key: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// # Errors
    /// [`InvalidField`] naming the header: empty, too long, or not printable ASCII.
    pub fn parse(key: &[u8]) -> Result<IdempotencyKey, InvalidField> {
        if key.is_empty() || key.len() > MAX_LEN {
            return Err(InvalidField::new(
                HEADER,
                format!("must be 1 to {MAX_LEN} characters"),
            ));
        }
        if !key.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(InvalidField::new(HEADER, "must be printable ASCII"));
        }
        Ok(IdempotencyKey(
            String::from_utf8(key.to_vec()).expect("ASCII"),
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key was used before with another grade.
pub fn reused() -> InvalidField {
    InvalidField::new(HEADER, "was already used with another grade")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_1_to_255_printable_ascii_characters() {
        assert!(IdempotencyKey::parse(b"a").is_ok());
        assert!(IdempotencyKey::parse(b"0f8e-42 ~!").is_ok());
        assert!(IdempotencyKey::parse(&[b'k'; 255]).is_ok());
        for bad in [
            &b""[..],
            &[b'k'; 256],
            "ñ".as_bytes(),
            b"tab\there",
            b"nl\n",
        ] {
            assert_eq!(
                IdempotencyKey::parse(bad).unwrap_err().field,
                HEADER,
                "{bad:?}"
            );
        }
    }
}
