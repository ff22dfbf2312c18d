//! Every difference between the expected and the deployed table, each one a line a user can act on.

use std::fmt;

use crate::shape::{Field, TableShape};

/// Columns or partition keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Column,
    PartitionKey,
}

impl fmt::Display for FieldKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldKind::Column => "column",
            FieldKind::PartitionKey => "partition key",
        })
    }
}

/// Table parameters or SerDe parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterScope {
    Table,
    Serde,
}

impl fmt::Display for ParameterScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParameterScope::Table => "table parameter",
            ParameterScope::Serde => "SerDe parameter",
        })
    }
}

/// One drift of the deployed table from `schemas/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// In `schemas/`, not deployed: Firehose drops the field and Athena cannot select it.
    Missing {
        kind: FieldKind,
        name: String,
        hive_type: String,
    },
    /// Deployed, not in `schemas/`.
    Unexpected {
        kind: FieldKind,
        name: String,
        hive_type: String,
    },
    /// Same name, other type: conversion fails or Athena reads it wrongly.
    Type {
        kind: FieldKind,
        name: String,
        expected: String,
        actual: String,
    },
    /// Same names, other order (reported only when the names agree, so a missing column does
    /// not also show up as an order change).
    Order {
        kind: FieldKind,
        expected: Vec<String>,
        actual: Vec<String>,
    },
    /// A storage setting: location, input/output format, SerDe library, table type.
    Setting {
        name: &'static str,
        expected: Option<String>,
        actual: Option<String>,
    },
    /// A parameter missing, unexpected or with another value.
    Parameter {
        scope: ParameterScope,
        key: String,
        expected: Option<String>,
        actual: Option<String>,
    },
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |v: &Option<String>| v.as_deref().map_or("(none)".to_string(), |s| format!("`{s}`"));
        match self {
            Difference::Missing {
                kind,
                name,
                hive_type,
            } => {
                write!(
                    f,
                    "{kind} `{name}` ({hive_type}) is in schemas/ but not in the deployed table"
                )
            }
            Difference::Unexpected {
                kind,
                name,
                hive_type,
            } => {
                write!(f, "{kind} `{name}` ({hive_type}) is deployed but not in schemas/")
            }
            Difference::Type {
                kind,
                name,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "{kind} `{name}` has type `{actual}`, schemas/ says `{expected}`"
                )
            }
            Difference::Order {
                kind,
                expected,
                actual,
            } => write!(
                f,
                "{kind}s are in another order: deployed [{}], schemas/ says [{}]",
                actual.join(", "),
                expected.join(", ")
            ),
            Difference::Setting {
                name,
                expected,
                actual,
            } => {
                write!(f, "{name} is {}, schemas/ says {}", opt(actual), opt(expected))
            }
            Difference::Parameter {
                scope,
                key,
                expected,
                actual,
            } => {
                write!(
                    f,
                    "{scope} `{key}` is {}, schemas/ says {}",
                    opt(actual),
                    opt(expected)
                )
            }
        }
    }
}

/// Deployed table parameters that are not in `schemas/` but still count as drift: they change
/// which partitions Athena reads. Other extra parameters (set by Glue, Athena or a console user)
/// do not change the lake's meaning and are left alone.
const GOVERNED_PARAMETER_PREFIXES: &[&str] = &["projection.", "storage.location.template"];

/// Every difference, in a stable order: columns, partition keys, settings, SerDe parameters,
/// table parameters.
pub fn compare(expected: &TableShape, actual: &TableShape) -> Vec<Difference> {
    let mut out = Vec::new();
    compare_fields(FieldKind::Column, &expected.columns, &actual.columns, &mut out);
    compare_fields(
        FieldKind::PartitionKey,
        &expected.partition_keys,
        &actual.partition_keys,
        &mut out,
    );
    let settings: [(&'static str, &Option<String>, &Option<String>); 5] = [
        ("table type", &expected.table_type, &actual.table_type),
        ("location", &expected.location, &actual.location),
        ("input format", &expected.input_format, &actual.input_format),
        ("output format", &expected.output_format, &actual.output_format),
        ("SerDe library", &expected.serde_library, &actual.serde_library),
    ];
    for (name, e, a) in settings {
        if e != a {
            out.push(Difference::Setting {
                name,
                expected: e.clone(),
                actual: a.clone(),
            });
        }
    }
    compare_parameters(
        ParameterScope::Serde,
        &expected.serde_parameters,
        &actual.serde_parameters,
        |_| true,
        &mut out,
    );
    compare_parameters(
        ParameterScope::Table,
        &expected.parameters,
        &actual.parameters,
        |key| GOVERNED_PARAMETER_PREFIXES.iter().any(|p| key.starts_with(p)),
        &mut out,
    );
    out
}

/// Hive type names are case-insensitive and Glue keeps whatever spacing it was given
/// (`array<string>`, `ARRAY< STRING >`): compare them normalized.
fn same_type(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

fn compare_fields(kind: FieldKind, expected: &[Field], actual: &[Field], out: &mut Vec<Difference>) {
    let find = |fields: &[Field], name: &str| fields.iter().position(|f| f.name.eq_ignore_ascii_case(name));
    for e in expected {
        match find(actual, &e.name) {
            None => out.push(Difference::Missing {
                kind,
                name: e.name.clone(),
                hive_type: e.hive_type.clone(),
            }),
            Some(i) if !same_type(&e.hive_type, &actual[i].hive_type) => out.push(Difference::Type {
                kind,
                name: e.name.clone(),
                expected: e.hive_type.clone(),
                actual: actual[i].hive_type.clone(),
            }),
            Some(_) => {}
        }
    }
    for a in actual {
        if find(expected, &a.name).is_none() {
            out.push(Difference::Unexpected {
                kind,
                name: a.name.clone(),
                hive_type: a.hive_type.clone(),
            });
        }
    }
    let names = |fields: &[Field]| {
        fields
            .iter()
            .map(|f| f.name.to_ascii_lowercase())
            .collect::<Vec<_>>()
    };
    let (e, a) = (names(expected), names(actual));
    if e != a && e.len() == a.len() && e.iter().all(|n| a.contains(n)) {
        out.push(Difference::Order {
            kind,
            expected: e,
            actual: a,
        });
    }
}

fn compare_parameters(
    scope: ParameterScope,
    expected: &std::collections::BTreeMap<String, String>,
    actual: &std::collections::BTreeMap<String, String>,
    extra_counts: impl Fn(&str) -> bool,
    out: &mut Vec<Difference>,
) {
    for (key, value) in expected {
        if actual.get(key) != Some(value) {
            out.push(Difference::Parameter {
                scope,
                key: key.clone(),
                expected: Some(value.clone()),
                actual: actual.get(key).cloned(),
            });
        }
    }
    for (key, value) in actual {
        if !expected.contains_key(key) && extra_counts(key) {
            out.push(Difference::Parameter {
                scope,
                key: key.clone(),
                expected: None,
                actual: Some(value.clone()),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> TableShape {
        TableShape::from_definition(schemas::glue::table(), "lake")
    }

    #[test]
    fn identical_shapes_have_no_difference() {
        assert_eq!(compare(&shape(), &shape()), vec![]);
    }

    #[test]
    fn type_case_and_spacing_are_not_drift() {
        let mut actual = shape();
        for c in &mut actual.columns {
            c.hive_type = c.hive_type.to_uppercase().replace('<', "< ");
        }
        assert_eq!(compare(&shape(), &actual), vec![]);
    }

    #[test]
    fn reordered_columns_are_reported_once_as_order() {
        let mut actual = shape();
        actual.columns.swap(0, 1);
        let diffs = compare(&shape(), &actual);
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert!(matches!(
            diffs[0],
            Difference::Order {
                kind: FieldKind::Column,
                ..
            }
        ));
    }

    #[test]
    fn extra_ungoverned_parameters_are_ignored_but_extra_projection_is_drift() {
        let mut actual = shape();
        actual
            .parameters
            .insert("transient_lastDdlTime".into(), "1".into());
        assert_eq!(compare(&shape(), &actual), vec![]);
        actual
            .parameters
            .insert("projection.x.type".into(), "injected".into());
        assert_eq!(
            compare(&shape(), &actual),
            vec![Difference::Parameter {
                scope: ParameterScope::Table,
                key: "projection.x.type".into(),
                expected: None,
                actual: Some("injected".into())
            }]
        );
    }

    #[test]
    fn bucket_is_taken_from_the_location() {
        assert_eq!(shape().bucket(), Some("lake"));
        let mut s = shape();
        s.location = Some("hdfs://x".into());
        assert_eq!(s.bucket(), None);
    }
}
