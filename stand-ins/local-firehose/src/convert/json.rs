//! Reading JSON records with the OpenX SerDe's rules: straight into the column builders
//! ([`AppendVisitor`]), or into a row of cells ([`RecordVisitor`]) for the records that path stops at.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use arrow::array::ArrayBuilder;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::columns::ColumnBuilder;
use super::dates::{date_days, iso_millis, timestamp_millis};
use super::{GlueColumn, HiveType};

/// A JSON value as read, strings borrowed where the input allows; of an array or an object only
/// the kind, which is all a column of another type needs to say why it cannot hold it.
#[derive(Debug, Clone)]
pub(super) enum Loose<'a> {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

/// A value converted to its column's type.
#[derive(Debug)]
pub(super) enum Cell<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    TimestampMillis(i64),
    Date(i32),
    List(Vec<Cell<'a>>),
}

pub(super) struct RecordVisitor<'i, 's, 'a> {
    pub(super) columns: &'i [GlueColumn],
    pub(super) index: &'i HashMap<String, usize>,
    pub(super) slots: &'s mut Vec<Option<Result<Cell<'a>, String>>>,
    /// Records of one stream list their keys in the same order: `follows[c]` is the column whose
    /// key came after column `c`'s in the last record (`follows[columns.len()]`: the first key).
    pub(super) follows: &'s mut Vec<usize>,
}

impl<'de, 'i, 's> Visitor<'de> for RecordVisitor<'i, 's, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut previous = self.columns.len();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match column_of(self.columns, self.index, self.follows, &mut previous, &key) {
                Some(i) => self.slots[i] = Some(map.next_value_seed(CellSeed(&self.columns[i].hive_type))?),
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Reads a record's values straight into the builders (see [`Converter::append_record`]); its
/// value is the number of columns filled. Anything [`RecordVisitor`] would not simply append is
/// an error here, so that `read_record` settles it.
pub(super) struct AppendVisitor<'i, 'b> {
    pub(super) columns: &'i [GlueColumn],
    pub(super) index: &'i HashMap<String, usize>,
    pub(super) follows: &'b mut [usize],
    pub(super) builders: &'b mut [ColumnBuilder],
    pub(super) row: usize,
}

impl<'de> Visitor<'de> for AppendVisitor<'_, '_> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
        let mut previous = self.columns.len();
        let mut filled = 0;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match column_of(self.columns, self.index, self.follows, &mut previous, &key) {
                Some(i) => {
                    let builder = &mut self.builders[i];
                    if builder.len() > self.row {
                        return Err(de::Error::custom("a key repeats"));
                    }
                    map.next_value_seed(AppendSeed {
                        ty: &self.columns[i].hive_type,
                        builder,
                    })?;
                    filled += 1;
                }
                None => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(filled)
    }
}

/// Appends one JSON value to its column's builder, converted as `to_cell` converts it, or fails
/// when it cannot be converted (a list whose item fails is appended all the same, to be removed
/// with the row).
pub(super) struct AppendSeed<'t, 'b> {
    pub(super) ty: &'t HiveType,
    pub(super) builder: &'b mut ColumnBuilder,
}

impl AppendSeed<'_, '_> {
    fn put<E: de::Error>(self, value: Loose) -> Result<(), E> {
        let cell = to_cell(self.ty, value).map_err(E::custom)?;
        self.builder.append(cell);
        Ok(())
    }
}

impl<'de> de::DeserializeSeed<'de> for AppendSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AppendSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.builder.append_null();
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.builder.append_null();
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        if let ColumnBuilder::Bool(b) = self.builder {
            b.append_value(v);
            return Ok(());
        }
        self.put(Loose::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.put(Loose::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        // The usual integer columns, in range; anything else takes `to_cell`.
        match self.builder {
            ColumnBuilder::Int32(b) if v <= i32::MAX as u64 => b.append_value(v as i32),
            ColumnBuilder::Int64(b) if v <= i64::MAX as u64 => b.append_value(v as i64),
            _ => return self.put(Loose::UInt(v)),
        }
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.put(Loose::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        // Most values are strings of string columns, which need no conversion.
        match self.builder {
            ColumnBuilder::Str(b) => {
                b.append_value(v);
                return Ok(());
            }
            // The usual timestamp shapes (see `timestamp_millis`).
            ColumnBuilder::Timestamp(b) => {
                if let Some(millis) = iso_millis(v) {
                    b.append_value(millis);
                    return Ok(());
                }
            }
            _ => {}
        }
        // Appended before `v` goes, so an unescaped (not borrowed) string is not copied twice.
        self.put(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (HiveType::Array(item), ColumnBuilder::List(list)) = (self.ty, self.builder) else {
            return Err(de::Error::custom("an array for a column of another type"));
        };
        let read = loop {
            match seq.next_element_seed(AppendSeed {
                ty: item,
                builder: list.values(),
            }) {
                Ok(Some(())) => {}
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        // The entry is closed even when an item failed, so that the items it has so far belong
        // to this record's row (which is then removed), not to the next record's list.
        list.append(true);
        read
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<(), A::Error> {
        Err(de::Error::custom("an object for a column"))
    }
}

/// The column of the record key `key`, if the table has one: OpenX lower-cases keys. The key is
/// first predicted from the last record's key order (`follows`, updated here; `previous` is the
/// column of the key before, `columns.len()` at the first key) before it is hashed.
pub(super) fn column_of(
    columns: &[GlueColumn],
    index: &HashMap<String, usize>,
    follows: &mut [usize],
    previous: &mut usize,
    key: &str,
) -> Option<usize> {
    let predicted = follows[*previous];
    let found = if columns.get(predicted).is_some_and(|c| c.name == key) {
        Some(predicted)
    } else if key.bytes().any(|b| b.is_ascii_uppercase()) {
        // Most keys already are lower case, so avoid the allocation then.
        index.get(&key.to_lowercase()).copied()
    } else {
        index.get(key).copied()
    };
    if let Some(i) = found {
        follows[*previous] = i;
        *previous = i;
    }
    found
}

/// A JSON object key, borrowed from the input unless it holds escapes (serde's own `Cow<str>`
/// always copies).
pub(super) struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Reads one JSON value straight into a cell of its column's type: `Ok(Err(why))` when the value
/// cannot be read as that type (the record fails, but the JSON is still read to its end, so a
/// later duplicate key can still replace it, as with any value).
pub(super) struct CellSeed<'t>(&'t HiveType);

impl<'de> de::DeserializeSeed<'de> for CellSeed<'_> {
    type Value = Result<Cell<'de>, String>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed<'_> {
    type Value = Result<Cell<'de>, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Ok(Cell::Null))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Ok(Cell::Null))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::UInt(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Float(v)))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Str(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Str(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(to_cell(self.0, Loose::Str(Cow::Owned(v))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let HiveType::Array(item) = self.0 else {
            while seq.next_element::<de::IgnoredAny>()?.is_some() {}
            return Ok(to_cell(self.0, Loose::Array));
        };
        let mut items = Vec::new();
        while let Some(cell) = seq.next_element_seed(CellSeed(item))? {
            match cell {
                Ok(cell) => items.push(cell),
                Err(why) => {
                    while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                    return Ok(Err(why));
                }
            }
        }
        Ok(Ok(Cell::List(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(to_cell(self.0, Loose::Object))
    }
}

pub(super) fn kind(value: &Loose) -> &'static str {
    match value {
        Loose::Bool(_) => "a boolean",
        Loose::Int(_) | Loose::UInt(_) | Loose::Float(_) => "a number",
        Loose::Str(_) => "a string",
        Loose::Array => "an array",
        Loose::Object => "an object",
    }
}

/// Converts one JSON value that is neither null nor an array (see `CellSeed`) to `ty`, or says why it cannot.
pub(super) fn to_cell<'a>(ty: &HiveType, value: Loose<'a>) -> Result<Cell<'a>, String> {
    let wrong = |value: &Loose| format!("cannot read {} as {}", kind(value), ty);
    match ty {
        HiveType::String => match value {
            Loose::Str(s) => Ok(Cell::Str(s)),
            Loose::Bool(b) => Ok(Cell::Str(Cow::Owned(b.to_string()))),
            Loose::Int(n) => Ok(Cell::Str(Cow::Owned(n.to_string()))),
            Loose::UInt(n) => Ok(Cell::Str(Cow::Owned(n.to_string()))),
            Loose::Float(n) => Ok(Cell::Str(Cow::Owned(n.to_string()))),
            other => Err(wrong(&other)),
        },
        HiveType::TinyInt | HiveType::SmallInt | HiveType::Int | HiveType::BigInt => {
            let n = integer(&value).ok_or_else(|| wrong(&value))?;
            let (min, max) = match ty {
                HiveType::TinyInt => (i8::MIN as i64, i8::MAX as i64),
                HiveType::SmallInt => (i16::MIN as i64, i16::MAX as i64),
                HiveType::Int => (i32::MIN as i64, i32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            if n < min || n > max {
                return Err(format!("{n} is out of range for {}", ty));
            }
            Ok(Cell::Int(n))
        }
        HiveType::Float | HiveType::Double => match &value {
            Loose::Int(n) => Ok(Cell::Float(*n as f64)),
            Loose::UInt(n) => Ok(Cell::Float(*n as f64)),
            Loose::Float(n) => Ok(Cell::Float(*n)),
            Loose::Str(s) => s
                .trim()
                .parse::<f64>()
                .map(Cell::Float)
                .map_err(|_| format!("`{}` is not a number", clip(s))),
            other => Err(wrong(other)),
        },
        HiveType::Boolean => match &value {
            Loose::Bool(b) => Ok(Cell::Bool(*b)),
            Loose::Str(s) if s.eq_ignore_ascii_case("true") => Ok(Cell::Bool(true)),
            Loose::Str(s) if s.eq_ignore_ascii_case("false") => Ok(Cell::Bool(false)),
            other => Err(wrong(other)),
        },
        HiveType::Timestamp => timestamp_millis(&value)
            .map(Cell::TimestampMillis)
            .ok_or_else(|| match &value {
                Loose::Str(s) => format!(
                    "`{}` is not a timestamp (yyyy-MM-dd'T'HH:mm:ss[.fff]Z, yyyy-MM-dd HH:mm:ss[.fff], epoch seconds or millis)",
                    clip(s)
                ),
                other => wrong(other),
            }),
        HiveType::Date => match &value {
            Loose::Str(s) => date_days(s)
                .map(Cell::Date)
                .ok_or_else(|| format!("`{}` is not a date (yyyy-MM-dd)", clip(s))),
            other => Err(wrong(other)),
        },
        // Arrays are read item by item by `CellSeed`; anything else is the wrong kind.
        HiveType::Array(_) => Err(wrong(&value)),
    }
}

pub(super) fn clip(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

pub(super) fn integer(value: &Loose) -> Option<i64> {
    match value {
        Loose::Int(n) => Some(*n),
        Loose::UInt(n) => i64::try_from(*n).ok(),
        Loose::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
        Loose::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}
