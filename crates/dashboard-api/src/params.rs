//! Query parameters of the reports, parsed into domain values. A bad parameter is a 422
//! naming it, by the same rules the ingestion routes apply to a grade's fields.

use notas_core::{
    grade::{Course, InvalidField, Semester, parse_year},
    http::ApiError,
};
use serde::Deserialize;

/// Every parameter any report takes, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct RawParams {
    pub curso: Option<String>,
    pub semestre: Option<String>,
    pub year: Option<String>,
    pub before: Option<String>,
    pub limit: Option<String>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

impl RawParams {
    pub fn curso(&self) -> Result<Option<Course>, ApiError> {
        Ok(present(&self.curso).map(Course::parse).transpose()?)
    }

    pub fn semestre(&self) -> Result<Option<Semester>, ApiError> {
        Ok(present(&self.semestre).map(Semester::parse).transpose()?)
    }

    pub fn year(&self) -> Result<Option<u16>, ApiError> {
        // Text that is not a number is out of range too.
        let year = present(&self.year).map(|y| parse_year(y.parse().unwrap_or(i64::MIN)));
        Ok(year.transpose()?)
    }

    /// Records older than this id (the `next_before` of the previous page).
    pub fn before(&self) -> Result<Option<u64>, ApiError> {
        let before = present(&self.before).map(|b| {
            b.parse()
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| InvalidField::new("before", "must be a positive record id"))
        });
        Ok(before.transpose()?)
    }

    /// Page size, 1..=200, 50 when absent.
    pub fn limit(&self) -> Result<u32, ApiError> {
        let limit = present(&self.limit).map(|l| {
            l.parse()
                .ok()
                .filter(|l| (1..=200).contains(l))
                .ok_or_else(|| InvalidField::new("limit", "must be between 1 and 200"))
        });
        Ok(limit.transpose()?.unwrap_or(50))
    }
}
