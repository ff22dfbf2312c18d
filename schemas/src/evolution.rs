//! Backward compatibility of the schema: every released version is kept in `schemas/versions/`,
//! and the current schema must read data written with each of them.
//!
//! Avro's rule (checked by apache-avro) is that a reader can resolve a writer's data. We add one
//! rule of our own: no field of an earlier version may disappear, because users' queries and the
//! Glue table name those columns.

use apache_avro::error::CompatibilityError;
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;

/// Why the current schema cannot replace an earlier one. Each message names the field and the fix.
#[derive(Debug, thiserror::Error)]
pub enum EvolutionError {
    #[error("{version}: field `{field}` {why}")]
    Field {
        version: String,
        field: String,
        why: String,
    },
    #[error("{version}: {why}")]
    Schema { version: String, why: String },
}

/// Checks that `current` reads data written with `earlier` (named `version` in messages).
pub fn check_backward_compatible(
    version: &str,
    earlier: &Schema,
    current: &Schema,
) -> Result<(), EvolutionError> {
    if let (Schema::Record(old), Schema::Record(new)) = (earlier, current) {
        for field in &old.fields {
            if !new.lookup.contains_key(&field.name) {
                return Err(EvolutionError::Field {
                    version: version.into(),
                    field: field.name.clone(),
                    why: "was removed; columns are part of the contract that users query, so keep it \
                          (deprecate it in its doc) instead of removing it"
                        .into(),
                });
            }
        }
    }
    SchemaCompatibility::can_read(earlier, current)
        .map(|_| ())
        .map_err(|e| explain(version, &e))
}

fn explain(version: &str, error: &CompatibilityError) -> EvolutionError {
    match error {
        CompatibilityError::FieldTypeMismatch(field, cause) => EvolutionError::Field {
            version: version.into(),
            field: field.clone(),
            why: format!(
                "changed type in a way that cannot read earlier data ({cause}); keep the old type or \
                 only widen it (int to long, T to [\"null\", T])"
            ),
        },
        CompatibilityError::MissingDefaultValue(field) => EvolutionError::Field {
            version: version.into(),
            field: field.clone(),
            why: "was added without a default, so records written before it cannot be read; make it \
                  [\"null\", T] with \"default\": null"
                .into(),
        },
        other => EvolutionError::Schema {
            version: version.into(),
            why: other.to_string(),
        },
    }
}
