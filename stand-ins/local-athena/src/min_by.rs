//! Trino's `min_by(x, y)` and `max_by(x, y)` aggregates, which DataFusion lacks: the `x` of the
//! row with the smallest (largest) `y` in each group
//! (<https://trino.io/docs/current/functions/aggregate.html#min_by>). As in Trino, rows whose `y`
//! is NULL are skipped, and a group without such a row gives NULL. Ties keep the row seen first
//! (Trino leaves ties unspecified).
//!
//! `sql/` uses `min_by(x, observed_at)` to keep the first observed copy of an observation with a
//! hash aggregation on `record_key`, which both engines run faster than a sort (README,
//! Benchmarks). The local engine orders `y` of integer, date and timestamp types (every ordering
//! column of the lake); `x` can be of any type.
//!
//! Written here rather than taken from `datafusion-functions-extra`, which has both aggregates:
//! its latest release (0.3.0) is built for DataFusion 49, and this workspace runs DataFusion 55.
//! Replace this module with it once a release for the workspace's DataFusion exists.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, Int64Array};
use arrow::compute::{cast, interleave};
use arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// `min_by` and `max_by`, for `SessionContext::register_udaf`.
pub fn functions() -> [AggregateUDF; 2] {
    [Extreme::Min, Extreme::Max].map(|extreme| AggregateUDF::from(ValueBy::new(extreme)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Extreme {
    Min,
    Max,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ValueBy {
    extreme: Extreme,
    signature: Signature,
}

impl ValueBy {
    fn new(extreme: Extreme) -> Self {
        ValueBy {
            extreme,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The types of `y` this implementation orders: it compares them as 64-bit integers (a
/// timestamp's count of its unit, a date's days), which keeps their order.
fn orderable(t: &DataType) -> bool {
    use DataType::*;
    matches!(
        t,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | Date32 | Date64 | Timestamp(_, _)
    )
}

/// `y` as the 64-bit integers that order it.
fn keys(y: &ArrayRef) -> Result<Int64Array> {
    Ok(cast(y, &DataType::Int64)?.as_primitive::<Int64Type>().clone())
}

impl AggregateUDFImpl for ValueBy {
    fn name(&self) -> &str {
        match self.extreme {
            Extreme::Min => "min_by",
            Extreme::Max => "max_by",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [_, y] if orderable(y) => Ok(arg_types.to_vec()),
            [_, y] => plan_err!(
                "{}(x, y): the local engine orders y of integer, date or timestamp types, got {y}; cast y to one of them",
                self.name()
            ),
            _ => plan_err!("{}(x, y) takes two arguments, got {}", self.name(), arg_types.len()),
        }
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }
    /// Partial aggregates pass on each group's `x` and the key of its `y`.
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "value"),
                args.return_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "key"),
                DataType::Int64,
                true,
            )),
        ])
    }
    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(OneGroup::new(Picks::new(
            self.extreme,
            args.return_type().clone(),
        ))))
    }
    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }
    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Picks::new(self.extreme, args.return_type().clone())))
    }
}

/// Where a group's `x` is: a batch of [`Picks::batches`] and a row in it.
type Pick = Option<(u32, u32)>;

/// Each group's best key so far and where its `x` is. The `x` arrays of the batches that hold a
/// pick are kept (shared, not copied) until the groups are emitted, and the values are gathered
/// from them then, so no value is copied for a row that a later row beats. When the kept rows
/// outnumber the groups by more than [`COMPACT_WHEN_KEPT_PER_GROUP`] (later rows won, or groups
/// were emitted early), the picked values are gathered into one array and the batches let go.
#[derive(Debug)]
struct Picks {
    extreme: Extreme,
    value_type: DataType,
    batches: Vec<ArrayRef>,
    /// The rows of `batches`, and their memory: counted as batches come and go, since DataFusion
    /// asks for [`GroupsAccumulator::size`] after every batch.
    kept_rows: usize,
    kept_bytes: usize,
    keys: Vec<i64>,
    picks: Vec<Pick>,
}

/// Kept rows per group past which [`Picks`] compacts: each compaction copies one value per group
/// and follows at least as many new rows, so the copying stays linear in the input.
const COMPACT_WHEN_KEPT_PER_GROUP: usize = 2;

/// Groups counted at least this many when deciding to compact, so that a few groups (an aggregate
/// without GROUP BY) are not compacted after every batch: DataFusion's default batch size.
const COMPACT_MIN_GROUPS: usize = 8_192;

impl Picks {
    fn new(extreme: Extreme, value_type: DataType) -> Self {
        Picks {
            extreme,
            value_type,
            batches: Vec::new(),
            kept_rows: 0,
            kept_bytes: 0,
            keys: Vec::new(),
            picks: Vec::new(),
        }
    }

    fn update(
        &mut self,
        x: &ArrayRef,
        keys: &Int64Array,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.keys.resize(total_num_groups, 0);
        self.picks.resize(total_num_groups, None);
        // Compaction keeps the batches far fewer than u32::MAX.
        let batch = self.batches.len() as u32;
        let mut picked = false;
        for (row, &group) in group_indices.iter().enumerate() {
            let wanted = filter.is_none_or(|f| f.is_valid(row) && f.value(row));
            if !wanted || keys.is_null(row) {
                continue;
            }
            let key = keys.value(row);
            let better = match (self.picks[group], self.extreme) {
                (None, _) => true,
                (Some(_), Extreme::Min) => key < self.keys[group],
                (Some(_), Extreme::Max) => key > self.keys[group],
            };
            if better {
                self.keys[group] = key;
                // Rows of one batch fit in u32 (Arrow's offsets are i32 for most types).
                self.picks[group] = Some((batch, row as u32));
                picked = true;
            }
        }
        if picked {
            self.batches.push(Arc::clone(x));
            self.kept_rows += x.len();
            self.kept_bytes += x.get_array_memory_size();
            let groups = self.picks.len().max(COMPACT_MIN_GROUPS);
            if self.kept_rows > COMPACT_WHEN_KEPT_PER_GROUP * groups {
                self.compact()?;
            }
        }
        Ok(())
    }

    /// Gathers the picked values into one array, group by group, and lets the batches go.
    fn compact(&mut self) -> Result<()> {
        let values = self.gather(&self.picks)?;
        self.kept_rows = values.len();
        self.kept_bytes = values.get_array_memory_size();
        self.batches = vec![values];
        for (group, pick) in self.picks.iter_mut().enumerate() {
            if pick.is_some() {
                *pick = Some((0, group as u32));
            }
        }
        Ok(())
    }

    /// The `x` of each pick, NULL where a group had no row with a key.
    fn gather(&self, picks: &[Pick]) -> Result<ArrayRef> {
        let null = new_null_array(&self.value_type, 1);
        let mut sources: Vec<&dyn Array> = self.batches.iter().map(|a| a.as_ref()).collect();
        sources.push(null.as_ref());
        let none = (self.batches.len(), 0);
        let indices: Vec<(usize, usize)> = picks
            .iter()
            .map(|p| p.map_or(none, |(batch, row)| (batch as usize, row as usize)))
            .collect();
        Ok(interleave(&sources, &indices)?)
    }

    fn key_array(picks: &[Pick], keys: &[i64]) -> Int64Array {
        picks.iter().zip(keys).map(|(p, k)| p.map(|_| *k)).collect()
    }

    /// Takes the emitted groups' picks and keys; the batches go too once every group is out.
    fn take(&mut self, emit_to: EmitTo) -> (Vec<Pick>, Vec<i64>) {
        (
            emit_to.take_needed(&mut self.picks),
            emit_to.take_needed(&mut self.keys),
        )
    }

    fn release_if_empty(&mut self) {
        if self.picks.is_empty() {
            self.batches.clear();
            self.kept_rows = 0;
            self.kept_bytes = 0;
        }
    }
}

impl GroupsAccumulator for Picks {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.update(
            &values[0],
            &keys(&values[1])?,
            group_indices,
            opt_filter,
            total_num_groups,
        )
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (picks, _) = self.take(emit_to);
        let values = self.gather(&picks);
        self.release_if_empty();
        values
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (picks, keys) = self.take(emit_to);
        let values = self.gather(&picks)?;
        self.release_if_empty();
        Ok(vec![values, Arc::new(Self::key_array(&picks, &keys))])
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let keys = values[1].as_primitive::<Int64Type>();
        self.update(&values[0], keys, group_indices, None, total_num_groups)
    }

    /// Each row is its own group: its `x`, and its key unless the filter leaves it out.
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let keys = keys(&values[1])?;
        let keys = match opt_filter {
            None => keys,
            Some(f) => keys
                .iter()
                .enumerate()
                .map(|(row, k)| k.filter(|_| f.is_valid(row) && f.value(row)))
                .collect(),
        };
        Ok(vec![Arc::clone(&values[0]), Arc::new(keys)])
    }

    fn size(&self) -> usize {
        self.kept_bytes
            + self.keys.capacity() * size_of::<i64>()
            + self.picks.capacity() * size_of::<Pick>()
            + self.batches.capacity() * size_of::<ArrayRef>()
    }
}

/// The accumulator for one group (an aggregate without GROUP BY, or a window): [`Picks`] with
/// every row in group 0. Evaluating leaves the state as it is, since a window evaluates again as
/// its frame grows.
#[derive(Debug)]
struct OneGroup(Picks);

impl OneGroup {
    fn new(mut picks: Picks) -> Self {
        picks.keys.resize(1, 0);
        picks.picks.resize(1, None);
        OneGroup(picks)
    }
}

impl Accumulator for OneGroup {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; values[0].len()];
        self.0.update(&values[0], &keys(&values[1])?, &groups, None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&self.0.gather(&self.0.picks)?, 0)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let key = Picks::key_array(&self.0.picks, &self.0.keys);
        Ok(vec![self.evaluate()?, ScalarValue::try_from_array(&key, 0)?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; states[0].len()];
        let keys = states[1].as_primitive::<Int64Type>();
        self.0.update(&states[0], keys, &groups, None, 1)
    }

    fn size(&self) -> usize {
        size_of::<Self>() + GroupsAccumulator::size(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::{Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{Schema, TimeUnit};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    /// One row of the test table: group, x (nullable), y (nullable).
    type Row = (i64, Option<String>, Option<i64>);

    /// Deterministic rows: `groups` groups, each y unique within its group (so the answer has no
    /// ties), some x and some y NULL, and every tenth group with no y at all.
    fn rows(n: usize, groups: i64) -> Vec<Row> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        (0..n)
            .map(|i| {
                let group = (next() % groups as u64) as i64;
                let x = (next() % 7 != 0).then(|| format!("x{i}"));
                let y = (group % 10 != 0 && next() % 5 != 0)
                    .then_some(i as i64 * 1_000 + (next() % 1_000) as i64);
                (group, x, y)
            })
            .collect()
    }

    /// min_by/max_by by a plain loop: the x of the smallest/largest non-NULL y per group.
    fn reference(rows: &[Row], extreme: Extreme) -> HashMap<i64, Option<String>> {
        let mut best: HashMap<i64, Option<(i64, Option<String>)>> = HashMap::new();
        for (group, x, y) in rows {
            let slot = best.entry(*group).or_default();
            if let Some(y) = y {
                let better = match (&slot, extreme) {
                    (None, _) => true,
                    (Some((b, _)), Extreme::Min) => y < b,
                    (Some((b, _)), Extreme::Max) => y > b,
                };
                if better {
                    *slot = Some((*y, x.clone()));
                }
            }
        }
        best.into_iter()
            .map(|(g, b)| (g, b.and_then(|(_, x)| x)))
            .collect()
    }

    /// A session with Trino's functions and the rows as table `t` (g, x, y as a UTC timestamp),
    /// in `partitions` partitions of batches of 1,000 rows.
    async fn session(rows: &[Row], partitions: usize, settings: &[&str]) -> SessionContext {
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
        crate::trino::register(&ctx);
        for s in settings {
            ctx.sql(s).await.unwrap();
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int64, false),
            Field::new("x", DataType::Utf8, true),
            Field::new(
                "y",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                true,
            ),
        ]));
        let batches: Vec<RecordBatch> = rows
            .chunks(1_000)
            .map(|c| {
                let g = Int64Array::from_iter_values(c.iter().map(|r| r.0));
                let x: StringArray = c.iter().map(|r| r.1.clone()).collect();
                let y = TimestampMillisecondArray::from(c.iter().map(|r| r.2).collect::<Vec<_>>())
                    .with_timezone("UTC");
                RecordBatch::try_new(schema.clone(), vec![Arc::new(g), Arc::new(x), Arc::new(y)]).unwrap()
            })
            .collect();
        let per = batches.len().div_ceil(partitions);
        let parts: Vec<Vec<RecordBatch>> = batches.chunks(per).map(|c| c.to_vec()).collect();
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
            .unwrap();
        ctx
    }

    async fn grouped(ctx: &SessionContext, sql: &str) -> HashMap<i64, Option<String>> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out = HashMap::new();
        for b in batches {
            let g = b.column(0).as_primitive::<Int64Type>();
            let x = b.column(1).as_string::<i32>();
            for i in 0..b.num_rows() {
                let value = x.is_valid(i).then(|| x.value(i).to_owned());
                assert!(
                    out.insert(g.value(i), value).is_none(),
                    "group {} twice",
                    g.value(i)
                );
            }
        }
        out
    }

    #[tokio::test]
    async fn group_by_picks_the_x_of_the_smallest_and_largest_y() {
        let rows = rows(20_000, 3_000);
        for settings in [
            &[][..],
            // Every row its own partial state (`convert_to_state`), as DataFusion does when the
            // partial aggregate does not reduce the rows enough.
            &[
                "SET datafusion.execution.skip_partial_aggregation_probe_rows_threshold = 1",
                "SET datafusion.execution.skip_partial_aggregation_probe_ratio_threshold = 0.0",
            ][..],
        ] {
            let ctx = session(&rows, 3, settings).await;
            let min = grouped(&ctx, "SELECT g, min_by(x, y) FROM t GROUP BY g").await;
            assert_eq!(min, reference(&rows, Extreme::Min), "{settings:?}");
            let max = grouped(&ctx, "SELECT g, max_by(x, y) FROM t GROUP BY g").await;
            assert_eq!(max, reference(&rows, Extreme::Max), "{settings:?}");
            // A group whose every y is NULL gives NULL.
            assert_eq!(min[&0], None);
        }
    }

    #[tokio::test]
    async fn filter_and_no_group_by_take_the_same_rule() {
        let rows = rows(5_000, 40);
        let ctx = session(&rows, 2, &[]).await;
        let kept: Vec<Row> = rows.iter().filter(|r| r.0 % 2 == 1).cloned().collect();
        let filtered = grouped(
            &ctx,
            "SELECT g % 2, min_by(x, y) FILTER (WHERE g % 2 = 1) FROM t GROUP BY g % 2",
        )
        .await;
        let expected = reference(
            &kept.iter().map(|r| (1, r.1.clone(), r.2)).collect::<Vec<_>>(),
            Extreme::Min,
        );
        assert_eq!(filtered[&1], expected[&1]);
        assert_eq!(filtered[&0], None);
        let all = ctx
            .sql("SELECT max_by(x, y), min_by(x, y) FROM t")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let whole: Vec<Row> = rows.iter().map(|r| (0, r.1.clone(), r.2)).collect();
        let value = |col: usize| {
            let x = all[0].column(col).as_string::<i32>();
            x.is_valid(0).then(|| x.value(0).to_owned())
        };
        assert_eq!(value(0), reference(&whole, Extreme::Max)[&0]);
        assert_eq!(value(1), reference(&whole, Extreme::Min)[&0]);
    }

    #[tokio::test]
    async fn y_that_is_not_an_integer_date_or_timestamp_is_a_clear_error() {
        let ctx = session(&rows(10, 2), 1, &[]).await;
        // Dates and integers order y as well as timestamps.
        for y in ["CAST(y AS DATE)", "g", "CAST(g AS INT)"] {
            let sql = format!("SELECT min_by(g, {y}) FROM t");
            let r = ctx.sql(&sql).await.unwrap().collect().await;
            assert!(r.is_ok(), "{sql}: {r:?}");
        }
        let err = ctx
            .sql("SELECT min_by(y, x) FROM t")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("min_by(x, y)") && err.contains("cast y"), "{err}");
    }

    #[test]
    fn kept_batches_stay_few_when_later_rows_keep_winning() {
        // Ten groups, and every batch beats every group's key: without compaction every batch
        // would be kept.
        let mut picks = Picks::new(Extreme::Min, DataType::Int64);
        let groups: Vec<usize> = (0..1_000).map(|i| i % 10).collect();
        for b in 0..200_i64 {
            let x: ArrayRef = Arc::new(Int64Array::from_iter_values((0..1_000).map(|i| b * 1_000 + i)));
            let y: ArrayRef = Arc::new(Int64Array::from_iter_values((0..1_000).map(|i| -b * 1_000 - i)));
            picks.update_batch(&[x, y], &groups, None, 10).unwrap();
            assert!(
                picks.kept_rows <= 2 * COMPACT_MIN_GROUPS + 1_000,
                "{} rows kept",
                picks.kept_rows
            );
        }
        // The last batch's last row of each group: row 990 + group.
        let expected = Int64Array::from_iter_values((0..10).map(|g| 199_000 + 990 + g));
        assert_eq!(
            picks.evaluate(EmitTo::All).unwrap().as_primitive::<Int64Type>(),
            &expected
        );
    }

    #[test]
    fn emitting_the_first_groups_keeps_the_rest() {
        let mut picks = Picks::new(Extreme::Min, DataType::Int64);
        let x: ArrayRef = Arc::new(Int64Array::from(vec![10, 11, 12, 13]));
        let y: ArrayRef = Arc::new(Int64Array::from(vec![Some(5), Some(1), None, Some(7)]));
        picks.update_batch(&[x, y], &[0, 1, 2, 0], None, 3).unwrap();
        let first = picks.evaluate(EmitTo::First(1)).unwrap();
        assert_eq!(first.as_primitive::<Int64Type>(), &Int64Array::from(vec![10]));
        // Group 1 is now group 0; a smaller y for it wins.
        let x: ArrayRef = Arc::new(Int64Array::from(vec![20, 21]));
        let y: ArrayRef = Arc::new(Int64Array::from(vec![Some(0), Some(3)]));
        picks.update_batch(&[x, y], &[0, 1], None, 2).unwrap();
        let state = picks.state(EmitTo::All).unwrap();
        assert_eq!(
            state[0].as_primitive::<Int64Type>(),
            &Int64Array::from(vec![20, 21])
        );
        assert_eq!(
            state[1].as_primitive::<Int64Type>(),
            &Int64Array::from(vec![0, 3])
        );
        assert!(picks.batches.is_empty());
    }
}
