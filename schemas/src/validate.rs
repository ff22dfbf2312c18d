//! Validation of a JSON record against the Avro schema, with the reading rules Firehose applies
//! when it converts JSON to Parquet (OpenX JSON SerDe): a missing key reads as null, timestamps
//! are strings, dates are `YYYY-MM-DD`. Unlike the SerDe, which drops unknown keys silently, an
//! unknown key is an error here: our own output must hold only the schema's fields.

use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use serde_json::Value as Json;

use crate::Timestamp;

/// Why a record does not fit the schema. The message names the field and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("the record is not a JSON object; each record must be one object")]
    NotAnObject,
    #[error("field `{0}` is not in the track_observation schema; remove it or add it to schemas/track_observation.avsc")]
    UnknownField(String),
    #[error("field `{field}` must not be null or missing (the schema types it `{expected}`)")]
    Missing { field: String, expected: &'static str },
    #[error("field `{field}` should be {expected}, found {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: String,
    },
}

/// Checks `record` against the schema and returns it as an Avro value, which
/// `apache_avro::Writer` can write and the schema's resolution accepts.
pub fn validate(record: &Json) -> Result<Avro, ValidationError> {
    let Json::Object(map) = record else {
        return Err(ValidationError::NotAnObject);
    };
    let fields = crate::fields();
    if let Some(unknown) = map.keys().find(|k| !fields.iter().any(|f| &f.name == *k)) {
        return Err(ValidationError::UnknownField(unknown.clone()));
    }
    let mut out = Vec::with_capacity(fields.len());
    for field in fields {
        let value = map.get(&field.name).unwrap_or(&Json::Null);
        out.push((field.name.clone(), to_avro(&field.schema, value, &field.name)?));
    }
    let value = Avro::Record(out);
    debug_assert!(
        value.validate(crate::avro_schema()),
        "validate() built a value the schema rejects"
    );
    Ok(value)
}

fn to_avro(schema: &Schema, v: &Json, field: &str) -> Result<Avro, ValidationError> {
    let wrong = |expected: &'static str| ValidationError::WrongType {
        field: field.to_string(),
        expected,
        found: describe(v),
    };
    if v.is_null() && !matches!(schema, Schema::Null | Schema::Union(_)) {
        return Err(ValidationError::Missing {
            field: field.to_string(),
            expected: kind(schema),
        });
    }
    Ok(match schema {
        Schema::Null if v.is_null() => Avro::Null,
        Schema::Boolean => Avro::Boolean(v.as_bool().ok_or_else(|| wrong("a boolean"))?),
        Schema::Int => {
            let n = v.as_i64().ok_or_else(|| wrong("an integer"))?;
            Avro::Int(i32::try_from(n).map_err(|_| wrong("an integer within 32 bits"))?)
        }
        Schema::Long => Avro::Long(v.as_i64().ok_or_else(|| wrong("an integer"))?),
        Schema::Double => Avro::Double(v.as_f64().ok_or_else(|| wrong("a number"))?),
        Schema::String => Avro::String(v.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        Schema::TimestampMillis => {
            let text = v
                .as_str()
                .ok_or_else(|| wrong("a timestamp string like 2026-11-24T08:15:30.123Z"))?;
            let at = Timestamp::parse(text)
                .ok_or_else(|| wrong("a timestamp string like 2026-11-24T08:15:30.123Z"))?;
            Avro::TimestampMillis(at.millis())
        }
        Schema::Date => {
            let text = v.as_str().ok_or_else(|| wrong("a date string YYYY-MM-DD"))?;
            let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| wrong("a date string YYYY-MM-DD"))?;
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            Avro::Date((date - epoch).num_days() as i32)
        }
        Schema::Array(array) => {
            let items = v.as_array().ok_or_else(|| wrong("an array"))?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(to_avro(&array.items, item, &format!("{field}[{i}]"))?);
            }
            Avro::Array(out)
        }
        Schema::Union(union) => {
            let variants = union.variants();
            if v.is_null() {
                let idx = variants.iter().position(|s| *s == Schema::Null);
                let idx = idx.ok_or_else(|| ValidationError::Missing {
                    field: field.to_string(),
                    expected: "union",
                })?;
                Avro::Union(idx as u32, Box::new(Avro::Null))
            } else {
                let mut last = None;
                for (idx, variant) in variants.iter().enumerate().filter(|(_, s)| **s != Schema::Null) {
                    match to_avro(variant, v, field) {
                        Ok(value) => return Ok(Avro::Union(idx as u32, Box::new(value))),
                        Err(e) => last = Some(e),
                    }
                }
                return Err(last.unwrap_or_else(|| wrong("null")));
            }
        }
        other => unreachable!("track_observation.avsc uses no {other:?}; extend validate.rs with it"),
    })
}

fn kind(schema: &Schema) -> &'static str {
    match schema {
        Schema::Boolean => "boolean",
        Schema::Int => "int",
        Schema::Long => "long",
        Schema::Double => "double",
        Schema::String => "string",
        Schema::TimestampMillis => "timestamp-millis",
        Schema::Date => "date",
        Schema::Array(_) => "array",
        _ => "value",
    }
}

/// A short description of a JSON value for error messages: its type and a clipped rendering,
/// never a whole payload.
fn describe(v: &Json) -> String {
    let rendered = v.to_string();
    let shown = clip(&rendered, 40);
    match v {
        Json::Null => "null".into(),
        Json::Bool(_) => format!("boolean {shown}"),
        Json::Number(_) => format!("number {shown}"),
        Json::String(_) => format!("string {shown}"),
        Json::Array(_) => format!("array {shown}"),
        Json::Object(_) => format!("object {shown}"),
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut with `…`.
pub fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}
