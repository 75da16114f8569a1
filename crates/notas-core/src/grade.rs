//! The grade record: the one type every entry point converts into and every store accepts.
//!
//! Parse, don't validate: a [`Grade`] can only be built by [`Grade::parse`], so holding one
//! proves the record is inside its domain. JSON bodies and gRPC messages both arrive as a
//! [`GradeInput`] (every field optional, so a missing field is reported by name) and go
//! through the same checks.

use serde::{Deserialize, Serialize};
use std::fmt;

/// USAC's passing grade: a grade at or above it is a pass.
pub const PASS_THRESHOLD: u8 = 61;
/// Longest student name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Plausible academic years.
pub const YEARS: std::ops::RangeInclusive<u16> = 2000..=2100;

/// The courses the brief monitors. The `courses` table is seeded with exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Course {
    SO1,
    BD1,
    LFP,
    SA,
    AYD1,
}

impl Course {
    pub const ALL: [Course; 5] = [
        Course::SO1,
        Course::BD1,
        Course::LFP,
        Course::SA,
        Course::AYD1,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Course::SO1 => "SO1",
            Course::BD1 => "BD1",
            Course::LFP => "LFP",
            Course::SA => "SA",
            Course::AYD1 => "AYD1",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Course::SO1 => "Sistemas Operativos 1",
            Course::BD1 => "Sistemas de Bases de Datos 1",
            Course::LFP => "Lenguajes Formales y de Programación",
            Course::SA => "Software Avanzado",
            Course::AYD1 => "Análisis y Diseño 1",
        }
    }

    pub fn from_code(code: &str) -> Option<Course> {
        Course::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The rule for `curso` wherever it arrives: a grade, a report parameter, a selection.
    pub fn parse(code: &str) -> Result<Course, InvalidField> {
        Course::from_code(code)
            .ok_or_else(|| InvalidField::new("curso", "must be one of SO1, BD1, LFP, SA, AYD1"))
    }
}

impl fmt::Display for Course {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// First (`1S`) or second (`2S`) semester.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Semester {
    #[serde(rename = "1S")]
    First,
    #[serde(rename = "2S")]
    Second,
}

impl Semester {
    pub const ALL: [Semester; 2] = [Semester::First, Semester::Second];

    pub fn code(self) -> &'static str {
        match self {
            Semester::First => "1S",
            Semester::Second => "2S",
        }
    }

    pub fn from_code(code: &str) -> Option<Semester> {
        Semester::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The rule for `semestre` wherever it arrives.
    pub fn parse(code: &str) -> Result<Semester, InvalidField> {
        Semester::from_code(code).ok_or_else(|| InvalidField::new("semestre", "must be 1S or 2S"))
    }
}

/// The rule for `year` wherever it arrives: a plausible academic year.
pub fn parse_year(year: i64) -> Result<u16, InvalidField> {
    u16::try_from(year)
        .ok()
        .filter(|y| YEARS.contains(y))
        .ok_or_else(|| {
            InvalidField::new(
                "year",
                format!("must be between {} and {}", YEARS.start(), YEARS.end()),
            )
        })
}

impl fmt::Display for Semester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The wire names of a grade's fields, in wire order.
pub const FIELDS: [&str; 6] = ["carnet", "nombre", "curso", "nota", "semestre", "year"];

/// The `'static` wire name equal to `name`, if it is one (to name a field reported by a
/// peer): a grade's field or the `Idempotency-Key` header.
pub fn field_name(name: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .copied()
        .chain([crate::idempotency::HEADER])
        .find(|f| *f == name)
}

/// A grade as it arrives, before any check. Every field is optional so that a missing
/// field is reported as that field's error rather than as a generic parse failure.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GradeInput {
    pub carnet: Option<i64>,
    pub nombre: Option<String>,
    pub curso: Option<String>,
    pub nota: Option<i64>,
    pub semestre: Option<String>,
    pub year: Option<i64>,
}

/// A field outside its domain; the HTTP services answer it with 422, gRPC with
/// `INVALID_ARGUMENT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {reason}")]
pub struct InvalidField {
    pub field: &'static str,
    pub reason: String,
}

impl InvalidField {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        InvalidField {
            field,
            reason: reason.into(),
        }
    }
}

/// A valid grade record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grade {
    carnet: u32,
    nombre: String,
    curso: Course,
    nota: u8,
    semestre: Semester,
    year: u16,
}

impl Grade {
    /// Checks every field, in wire order, and reports the first one out of its domain.
    ///
    /// # Errors
    /// [`InvalidField`] naming the field and why it was refused.
    pub fn parse(input: GradeInput) -> Result<Grade, InvalidField> {
        let carnet = required("carnet", input.carnet)?;
        let carnet = u32::try_from(carnet)
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| {
                InvalidField::new("carnet", format!("must be between 1 and {}", u32::MAX))
            })?;

        let nombre = required("nombre", input.nombre)?.trim().to_owned();
        if nombre.is_empty() {
            return Err(InvalidField::new("nombre", "must not be empty"));
        }
        if nombre.chars().count() > MAX_NAME_CHARS {
            return Err(InvalidField::new(
                "nombre",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        if nombre.chars().any(char::is_control) {
            return Err(InvalidField::new(
                "nombre",
                "must not contain control characters",
            ));
        }

        let curso = Course::parse(&required("curso", input.curso)?)?;

        let nota = required("nota", input.nota)?;
        let nota = u8::try_from(nota)
            .ok()
            .filter(|n| *n <= 100)
            .ok_or_else(|| InvalidField::new("nota", "must be between 0 and 100"))?;

        let semestre = Semester::parse(&required("semestre", input.semestre)?)?;
        let year = parse_year(required("year", input.year)?)?;

        Ok(Grade {
            carnet,
            nombre,
            curso,
            nota,
            semestre,
            year,
        })
    }

    pub fn carnet(&self) -> u32 {
        self.carnet
    }
    pub fn nombre(&self) -> &str {
        &self.nombre
    }
    pub fn curso(&self) -> Course {
        self.curso
    }
    pub fn nota(&self) -> u8 {
        self.nota
    }
    pub fn semestre(&self) -> Semester {
        self.semestre
    }
    pub fn year(&self) -> u16 {
        self.year
    }
    pub fn passed(&self) -> bool {
        self.nota >= PASS_THRESHOLD
    }
}

/// A grade with the id MySQL gave it: the `201` body of both routes, and the entry of the
/// Redis live view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredGrade {
    pub id: u64,
    #[serde(flatten)]
    pub grade: Grade,
}

/// The rule for a field that must be there.
pub fn required<T>(field: &'static str, value: Option<T>) -> Result<T, InvalidField> {
    value.ok_or_else(|| InvalidField::new(field, "is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> GradeInput {
        GradeInput {
            carnet: Some(233233),
            nombre: Some("Alumno 1".into()),
            curso: Some("SO1".into()),
            nota: Some(90),
            semestre: Some("2S".into()),
            year: Some(2023),
        }
    }

    fn refused(input: GradeInput) -> &'static str {
        Grade::parse(input).expect_err("should be refused").field
    }

    #[test]
    fn the_brief_example_is_valid() {
        let g = Grade::parse(input()).unwrap();
        assert_eq!(
            (g.carnet(), g.nombre(), g.curso(), g.nota()),
            (233233, "Alumno 1", Course::SO1, 90)
        );
        assert_eq!((g.semestre(), g.year()), (Semester::Second, 2023));
    }

    #[test]
    fn every_course_code_round_trips() {
        for c in Course::ALL {
            assert_eq!(Course::from_code(c.code()), Some(c));
        }
        assert_eq!(Course::from_code("so1"), None);
    }

    #[test]
    fn pass_starts_at_61() {
        let with = |n| {
            Grade::parse(GradeInput {
                nota: Some(n),
                ..input()
            })
            .unwrap()
            .passed()
        };
        assert!(!with(60));
        assert!(with(61));
        assert!(with(100));
    }

    #[test]
    fn bounds_are_inclusive() {
        for (nota, year) in [(0, 2000), (100, 2100)] {
            assert!(
                Grade::parse(GradeInput {
                    nota: Some(nota),
                    year: Some(year),
                    ..input()
                })
                .is_ok()
            );
        }
        let g = Grade::parse(GradeInput {
            carnet: Some(u32::MAX.into()),
            ..input()
        })
        .unwrap();
        assert_eq!(g.carnet(), u32::MAX);
    }

    #[test]
    fn names_are_trimmed_and_bounded_in_characters() {
        let g = Grade::parse(GradeInput {
            nombre: Some("  Ana  ".into()),
            ..input()
        })
        .unwrap();
        assert_eq!(g.nombre(), "Ana");
        let longest = "é".repeat(MAX_NAME_CHARS);
        assert!(
            Grade::parse(GradeInput {
                nombre: Some(longest),
                ..input()
            })
            .is_ok()
        );
    }

    #[test]
    fn each_field_out_of_its_domain_is_named() {
        let cases: Vec<(GradeInput, &str)> = vec![
            (
                GradeInput {
                    carnet: None,
                    ..input()
                },
                "carnet",
            ),
            (
                GradeInput {
                    carnet: Some(0),
                    ..input()
                },
                "carnet",
            ),
            (
                GradeInput {
                    carnet: Some(-5),
                    ..input()
                },
                "carnet",
            ),
            (
                GradeInput {
                    carnet: Some(i64::from(u32::MAX) + 1),
                    ..input()
                },
                "carnet",
            ),
            (
                GradeInput {
                    nombre: None,
                    ..input()
                },
                "nombre",
            ),
            (
                GradeInput {
                    nombre: Some("   ".into()),
                    ..input()
                },
                "nombre",
            ),
            (
                GradeInput {
                    nombre: Some("x".repeat(MAX_NAME_CHARS + 1)),
                    ..input()
                },
                "nombre",
            ),
            (
                GradeInput {
                    nombre: Some("a\u{0}b".into()),
                    ..input()
                },
                "nombre",
            ),
            (
                GradeInput {
                    curso: Some("MATE1".into()),
                    ..input()
                },
                "curso",
            ),
            (
                GradeInput {
                    curso: None,
                    ..input()
                },
                "curso",
            ),
            (
                GradeInput {
                    nota: Some(101),
                    ..input()
                },
                "nota",
            ),
            (
                GradeInput {
                    nota: Some(-1),
                    ..input()
                },
                "nota",
            ),
            (
                GradeInput {
                    semestre: Some("3S".into()),
                    ..input()
                },
                "semestre",
            ),
            (
                GradeInput {
                    year: Some(1999),
                    ..input()
                },
                "year",
            ),
            (
                GradeInput {
                    year: Some(2101),
                    ..input()
                },
                "year",
            ),
            (
                GradeInput {
                    year: None,
                    ..input()
                },
                "year",
            ),
        ];
        for (bad, field) in cases {
            assert_eq!(refused(bad.clone()), field, "{bad:?}");
        }
    }
}
