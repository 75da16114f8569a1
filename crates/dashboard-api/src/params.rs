//! Query parameters of the reports, parsed into domain values. A bad parameter is a 422
//! naming it, with the same rules the ingestion routes apply to a grade's fields.

use axum::http::StatusCode;
use notas_core::{
    grade::{Course, Semester, YEARS},
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

/// A 422 naming the parameter.
pub fn invalid(field: &'static str, reason: &str) -> ApiError {
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        error: format!("{field} {reason}"),
        field: Some(field),
    }
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

impl RawParams {
    pub fn curso(&self) -> Result<Option<Course>, ApiError> {
        present(&self.curso)
            .map(|c| {
                Course::from_code(c)
                    .ok_or_else(|| invalid("curso", "must be one of SO1, BD1, LFP, SA, AYD1"))
            })
            .transpose()
    }

    pub fn semestre(&self) -> Result<Option<Semester>, ApiError> {
        present(&self.semestre)
            .map(|s| Semester::from_code(s).ok_or_else(|| invalid("semestre", "must be 1S or 2S")))
            .transpose()
    }

    pub fn year(&self) -> Result<Option<u16>, ApiError> {
        let reason = format!("must be between {} and {}", YEARS.start(), YEARS.end());
        present(&self.year)
            .map(|y| {
                y.parse()
                    .ok()
                    .filter(|y| YEARS.contains(y))
                    .ok_or_else(|| invalid("year", &reason))
            })
            .transpose()
    }

    /// Records older than this id (the `next_before` of the previous page).
    pub fn before(&self) -> Result<Option<u64>, ApiError> {
        present(&self.before)
            .map(|b| {
                b.parse()
                    .ok()
                    .filter(|b| *b > 0)
                    .ok_or_else(|| invalid("before", "must be a positive record id"))
            })
            .transpose()
    }

    /// Page size, 1..=200, 50 when absent.
    pub fn limit(&self) -> Result<u32, ApiError> {
        present(&self.limit)
            .map(|l| {
                l.parse()
                    .ok()
                    .filter(|l| (1..=200).contains(l))
                    .ok_or_else(|| invalid("limit", "must be between 1 and 200"))
            })
            .unwrap_or(Ok(50))
    }

    pub fn required<T>(field: &'static str, value: Option<T>) -> Result<T, ApiError> {
        value.ok_or_else(|| invalid(field, "is required"))
    }
}
