//! The column builders a chunk of records is appended to, sized from a sample.

use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, Int8Builder, ListBuilder, StringBuilder, TimestampMillisecondBuilder,
};

use super::json::Cell;
use super::HiveType;

/// One column's Arrow builder, by type, so that appending a cell is one match. (Appending through
/// `Box<dyn ArrayBuilder>` and a downcast per cell took ~10% of the conversion's time.)
#[derive(Debug)]
pub(super) enum ColumnBuilder {
    Str(StringBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampMillisecondBuilder),
    Date(Date32Builder),
    List(Box<ListBuilder<ColumnBuilder>>),
}

/// `$scalar` with the builder of any variant but `List` bound to `$b`, or `$list` with a list
/// column's builder bound to `$l`: one match for what every variant does alike.
macro_rules! each_builder {
    ($builder:expr, $b:ident => $scalar:expr, $l:ident => $list:expr) => {
        match $builder {
            ColumnBuilder::Str($b) => $scalar,
            ColumnBuilder::Int8($b) => $scalar,
            ColumnBuilder::Int16($b) => $scalar,
            ColumnBuilder::Int32($b) => $scalar,
            ColumnBuilder::Int64($b) => $scalar,
            ColumnBuilder::Float32($b) => $scalar,
            ColumnBuilder::Float64($b) => $scalar,
            ColumnBuilder::Bool($b) => $scalar,
            ColumnBuilder::Timestamp($b) => $scalar,
            ColumnBuilder::Date($b) => $scalar,
            ColumnBuilder::List($l) => $list,
        }
    };
}

/// Records of a chunk read first to size its column buffers.
pub(super) const SIZING_SAMPLE: usize = 64;

/// What a column's builder should make room for: its values, their string bytes, and for a list
/// column the room of its items.
#[derive(Debug, Default, Clone)]
pub(super) struct Room {
    pub(super) values: usize,
    pub(super) bytes: usize,
    pub(super) items: Option<Box<Room>>,
}

impl Room {
    pub(super) fn measure(&mut self, cell: &Cell) {
        self.values += 1;
        match cell {
            Cell::Str(s) => self.bytes += s.len(),
            Cell::List(items) => {
                let room = self.items.get_or_insert_default();
                items.iter().for_each(|item| room.measure(item));
            }
            _ => {}
        }
    }

    /// The room for `scale` times the measured values, with an eighth more for variation (a
    /// reservation is only address space until it is written), and at least `rows` values.
    pub(super) fn scaled(&self, scale: f64, rows: usize) -> Room {
        let more = |n: usize| (n as f64 * scale * 1.125) as usize;
        Room {
            values: more(self.values).max(rows),
            bytes: more(self.bytes),
            items: self.items.as_ref().map(|items| Box::new(items.scaled(scale, 0))),
        }
    }
}

impl ColumnBuilder {
    /// A builder of `ty`'s Arrow type (see [`HiveType::arrow_type`]) with `room` reserved.
    pub(super) fn new(ty: &HiveType, room: &Room) -> Self {
        let rows = room.values;
        match ty {
            HiveType::String => Self::Str(StringBuilder::with_capacity(rows, room.bytes)),
            HiveType::TinyInt => Self::Int8(Int8Builder::with_capacity(rows)),
            HiveType::SmallInt => Self::Int16(Int16Builder::with_capacity(rows)),
            HiveType::Int => Self::Int32(Int32Builder::with_capacity(rows)),
            HiveType::BigInt => Self::Int64(Int64Builder::with_capacity(rows)),
            HiveType::Float => Self::Float32(Float32Builder::with_capacity(rows)),
            HiveType::Double => Self::Float64(Float64Builder::with_capacity(rows)),
            HiveType::Boolean => Self::Bool(BooleanBuilder::with_capacity(rows)),
            HiveType::Timestamp => Self::Timestamp(
                TimestampMillisecondBuilder::with_capacity(rows).with_data_type(ty.arrow_type()),
            ),
            HiveType::Date => Self::Date(Date32Builder::with_capacity(rows)),
            HiveType::Array(item) => {
                let items = room.items.as_deref().cloned().unwrap_or_default();
                Self::List(Box::new(ListBuilder::with_capacity(
                    ColumnBuilder::new(item, &items),
                    rows,
                )))
            }
        }
    }

    /// Appends one cell, converted for this column by `to_cell` (so of this builder's type, or
    /// `Null`).
    pub(super) fn append(&mut self, cell: Cell) {
        match (self, cell) {
            (Self::Str(b), Cell::Str(s)) => b.append_value(s),
            // The integer ranges were checked in to_cell.
            (Self::Int8(b), Cell::Int(n)) => b.append_value(n as i8),
            (Self::Int16(b), Cell::Int(n)) => b.append_value(n as i16),
            (Self::Int32(b), Cell::Int(n)) => b.append_value(n as i32),
            (Self::Int64(b), Cell::Int(n)) => b.append_value(n),
            (Self::Float32(b), Cell::Float(n)) => b.append_value(n as f32),
            (Self::Float64(b), Cell::Float(n)) => b.append_value(n),
            (Self::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (Self::Timestamp(b), Cell::TimestampMillis(v)) => b.append_value(v),
            (Self::Date(b), Cell::Date(v)) => b.append_value(v),
            (Self::List(b), Cell::List(items)) => {
                for item in items {
                    b.values().append(item);
                }
                b.append(true);
            }
            (this, _) => this.append_null(),
        }
    }

    pub(super) fn append_null(&mut self) {
        each_builder!(self, b => b.append_null(), list => list.append(false))
    }

    fn inner(&self) -> &dyn ArrayBuilder {
        each_builder!(self, b => b as &dyn ArrayBuilder, list => list.as_ref() as &dyn ArrayBuilder)
    }

    fn inner_mut(&mut self) -> &mut dyn ArrayBuilder {
        each_builder!(self, b => b as &mut dyn ArrayBuilder, list => list.as_mut() as &mut dyn ArrayBuilder)
    }
}

/// So that a list column's values can be a `ColumnBuilder` (`ListBuilder` takes any builder).
impl ArrayBuilder for ColumnBuilder {
    // Matched here rather than through `inner()`: the converter asks it per key and per missing
    // column, and a match costs less than a dynamic call.
    fn len(&self) -> usize {
        each_builder!(self, b => b.len(), list => list.len())
    }

    fn finish(&mut self) -> ArrayRef {
        self.inner_mut().finish()
    }

    fn finish_cloned(&self) -> ArrayRef {
        self.inner().finish_cloned()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }

    fn into_box_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}
