//! Trino functions that DataFusion lacks (or names differently), as DataFusion UDFs, so that the
//! queries of `sql/` run unchanged on Athena (engine v3, Trino) and locally.
//!
//! Each follows the Trino documentation page cited on it. Timestamps are read as UTC instants:
//! the lake holds UTC timestamps only (Athena's `timestamp` is zone-less and Firehose writes UTC),
//! so the fields of a value are its UTC fields. Dates count as midnight of that day.

use std::sync::Arc;

use arrow::array::{
    make_array, Array, ArrayRef, AsArray, Int64Array, StringBuilder, TimestampMillisecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, FieldRef, TimeUnit, TimestampMillisecondType};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::functions::datetime::date_trunc::DateTruncFunc;
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::prelude::SessionContext;

/// Registers every function of this module; `date_format` replaces DataFusion's own (an alias of
/// its `to_char`, with chrono's format letters, where Trino uses MySQL's), and `date_trunc` wraps
/// DataFusion's own (same results, faster on the lake's UTC timestamps); and Trino's `min_by` and
/// `max_by` aggregates (`crate::min_by`).
pub fn register(ctx: &SessionContext) {
    for function in crate::min_by::functions() {
        ctx.register_udaf(function);
    }
    for field in DateField::ALL {
        ctx.register_udf(ScalarUDF::from(FieldFn::new(field)));
    }
    ctx.register_udf(ScalarUDF::from(DateFormat::new()));
    ctx.register_udf(ScalarUDF::from(DateTrunc::default()));
    ctx.register_udf(ScalarUDF::from(DateDiff::new()));
    ctx.register_udf(ScalarUDF::from(FromIso8601Timestamp::new()));
}

/// The timestamp type every date/time argument is cast to before a function reads it.
fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// Argument coercion for a date/time parameter: dates and timestamps of any unit become UTC
/// milliseconds; anything else is a planning error naming the function.
fn coerce_temporal(function: &str, t: &DataType) -> Result<DataType> {
    match t {
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) | DataType::Null => Ok(utc_millis()),
        other => plan_err!("{function} expects a date or timestamp argument, got {other}"),
    }
}

fn as_instants(array: &ArrayRef) -> Result<TimestampMillisecondArray> {
    let array = cast(array, &utc_millis())?;
    Ok(array.as_primitive::<TimestampMillisecondType>().clone())
}

fn instant(millis: i64) -> Result<DateTime<Utc>> {
    match DateTime::from_timestamp_millis(millis) {
        Some(t) => Ok(t),
        None => exec_err!("timestamp {millis} ms is out of range"),
    }
}

/// The instants [`instant`] accepts (chrono's range, years -262143 to 262142), for the functions
/// that compute a field without building a date.
const INSTANTS: std::ops::RangeInclusive<i64> =
    DateTime::<Utc>::MIN_UTC.timestamp_millis()..=DateTime::<Utc>::MAX_UTC.timestamp_millis();

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Returns a scalar when every argument was a scalar (constant folding calls with one row), else
/// the array.
fn finish(args: &[ColumnarValue], result: ArrayRef) -> Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

/// A field of a date or timestamp, each a Trino function returning `bigint`
/// (<https://trino.io/docs/current/functions/datetime.html#convenience-extraction-functions>).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateField {
    /// `year(x)`.
    Year,
    /// `quarter(x)`: 1-4.
    Quarter,
    /// `month(x)`: 1-12.
    Month,
    /// `week(x)`, `week_of_year(x)`: the ISO 8601 week, 1-53.
    WeekOfYear,
    /// `year_of_week(x)`, `yow(x)`: the ISO 8601 week-numbering year.
    YearOfWeek,
    /// `day(x)`, `day_of_month(x)`: 1-31.
    DayOfMonth,
    /// `day_of_week(x)`, `dow(x)`: ISO 8601, Monday 1 to Sunday 7.
    DayOfWeek,
    /// `day_of_year(x)`, `doy(x)`: 1-366.
    DayOfYear,
    /// `hour(x)`: 0-23.
    Hour,
    /// `minute(x)`: 0-59.
    Minute,
    /// `second(x)`: 0-59.
    Second,
    /// `millisecond(x)`: 0-999.
    Millisecond,
}

impl DateField {
    const ALL: [DateField; 12] = [
        DateField::Year,
        DateField::Quarter,
        DateField::Month,
        DateField::WeekOfYear,
        DateField::YearOfWeek,
        DateField::DayOfMonth,
        DateField::DayOfWeek,
        DateField::DayOfYear,
        DateField::Hour,
        DateField::Minute,
        DateField::Second,
        DateField::Millisecond,
    ];

    /// The Trino name and its aliases.
    fn names(self) -> (&'static str, &'static [&'static str]) {
        match self {
            DateField::Year => ("year", &[]),
            DateField::Quarter => ("quarter", &[]),
            DateField::Month => ("month", &[]),
            DateField::WeekOfYear => ("week_of_year", &["week"]),
            DateField::YearOfWeek => ("year_of_week", &["yow"]),
            DateField::DayOfMonth => ("day", &["day_of_month"]),
            DateField::DayOfWeek => ("day_of_week", &["dow"]),
            DateField::DayOfYear => ("day_of_year", &["doy"]),
            DateField::Hour => ("hour", &[]),
            DateField::Minute => ("minute", &[]),
            DateField::Second => ("second", &[]),
            DateField::Millisecond => ("millisecond", &[]),
        }
    }

    /// The field of an instant given as milliseconds since the epoch, when it needs no calendar:
    /// the weekday and the time of day follow from the count of whole days and the time within the
    /// day, without building a date (`listening_by_hour` calls `day_of_week` and `hour` on every
    /// play: README, Benchmarks). Tested against [`DateField::of`].
    fn of_millis(self, millis: i64) -> Option<i64> {
        let (day, in_day) = (
            millis.div_euclid(MILLIS_PER_DAY),
            millis.rem_euclid(MILLIS_PER_DAY),
        );
        match self {
            // Day 0, 1970-01-01, was a Thursday (ISO 4).
            DateField::DayOfWeek => Some((day + 3).rem_euclid(7) + 1),
            DateField::Hour => Some(in_day / 3_600_000),
            DateField::Minute => Some(in_day / 60_000 % 60),
            DateField::Second => Some(in_day / 1_000 % 60),
            DateField::Millisecond => Some(in_day % 1_000),
            _ => None,
        }
    }

    /// The field of a UTC date-time (its fields are the UTC ones: no offset to apply per call).
    fn of(self, t: NaiveDateTime) -> i64 {
        i64::from(match self {
            DateField::Year => t.year(),
            DateField::Quarter => (t.month0() / 3 + 1) as i32,
            DateField::Month => t.month() as i32,
            DateField::WeekOfYear => t.iso_week().week() as i32,
            DateField::YearOfWeek => t.iso_week().year(),
            DateField::DayOfMonth => t.day() as i32,
            DateField::DayOfWeek => t.weekday().number_from_monday() as i32,
            DateField::DayOfYear => t.ordinal() as i32,
            DateField::Hour => t.hour() as i32,
            DateField::Minute => t.minute() as i32,
            DateField::Second => t.second() as i32,
            DateField::Millisecond => (t.nanosecond() / 1_000_000 % 1000) as i32,
        })
    }
}

/// One [`DateField`] as a function.
#[derive(Debug, PartialEq, Eq, Hash)]
struct FieldFn {
    field: DateField,
    aliases: Vec<String>,
    signature: Signature,
}

impl FieldFn {
    fn new(field: DateField) -> Self {
        let aliases = field.names().1.iter().map(|a| (*a).to_owned()).collect();
        FieldFn {
            field,
            aliases,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FieldFn {
    fn name(&self) -> &str {
        self.field.names().0
    }
    fn aliases(&self) -> &[String] {
        &self.aliases
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] => Ok(vec![coerce_temporal(self.name(), t)?]),
            _ => plan_err!(
                "{} takes one date or timestamp argument, got {}",
                self.name(),
                arg_types.len()
            ),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let input = as_instants(&arrays[0])?;
        let out: Int64Array = input
            .iter()
            .map(|v| {
                v.map(|ms| match self.field.of_millis(ms) {
                    Some(field) if INSTANTS.contains(&ms) => Ok(field),
                    _ => instant(ms).map(|t| self.field.of(t.naive_utc())),
                })
                .transpose()
            })
            .collect::<Result<_>>()?;
        finish(&args.args, Arc::new(out))
    }
}

/// `date_format(timestamp, format)`: formats with MySQL's format letters
/// (<https://trino.io/docs/current/functions/datetime.html#mysql-date-functions>). Trino supports
/// `%a %b %c %D %d %e %f %H %h %I %i %j %k %l %M %m %p %r %S %s %T %v %W %x %Y %y %%` and rejects
/// `%U %u %V %w %X`; so does this function (an unknown letter is an error, as in Trino).
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateFormat {
    signature: Signature,
}

impl DateFormat {
    fn new() -> Self {
        DateFormat {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateFormat {
    fn name(&self) -> &str {
        "date_format"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t, _] => Ok(vec![coerce_temporal("date_format", t)?, DataType::Utf8]),
            _ => plan_err!(
                "date_format takes (timestamp, format), got {} arguments",
                arg_types.len()
            ),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let input = as_instants(&arrays[0])?;
        let formats = cast(&arrays[1], &DataType::Utf8)?;
        let formats = formats.as_string::<i32>();
        // Written straight into the column's buffer: one allocation per batch, not per row.
        let mut out = StringBuilder::with_capacity(input.len(), input.len() * 12);
        for (t, f) in input.iter().zip(formats.iter()) {
            match (t, f) {
                (Some(ms), Some(f)) => {
                    write_mysql_format(&mut out, instant(ms)?.naive_utc(), f)?;
                    out.append_value("");
                }
                _ => out.append_null(),
            }
        }
        finish(&args.args, Arc::new(out.finish()))
    }
}

/// `date_trunc(unit, x)` (<https://trino.io/docs/current/functions/datetime.html#truncation-function>):
/// DataFusion's own function, which already truncates as Trino does (weeks start on Monday), given
/// the lake's UTC timestamps without their zone. With a zone, even UTC, DataFusion converts every
/// value through a time-zone lookup (about 0.24 µs a value: 207 ms of CPU for the 850K plays of
/// `new_discoveries` on the bench lake, 66 ms with this, most of it then the cast to DATE); without
/// one it truncates by arithmetic. In UTC both give the same instant, so the zone is dropped before
/// the call and put back on the result. Other zones, scalars and types go to DataFusion's function
/// unchanged.
#[derive(Debug, Default, PartialEq, Eq, Hash)]
struct DateTrunc {
    inner: DateTruncFunc,
}

/// Zone names that mean UTC: the lake's timestamps carry `UTC` (`schemas::arrow`).
fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "+00:00")
}

/// The same values with the timestamp type's zone replaced: the data is untouched (a timestamp is
/// an instant; the zone only says how to show it).
fn with_zone(array: &ArrayRef, zone: Option<Arc<str>>) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, _) = array.data_type() else {
        return exec_err!("date_trunc: expected a timestamp, got {}", array.data_type());
    };
    let data = array
        .to_data()
        .into_builder()
        .data_type(DataType::Timestamp(*unit, zone))
        .build()?;
    Ok(make_array(data))
}

impl ScalarUDFImpl for DateTrunc {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }
    fn signature(&self) -> &Signature {
        self.inner.signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }
    fn output_ordering(&self, input: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(input)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let utc = match args.args.get(1) {
            Some(ColumnarValue::Array(a)) => match a.data_type() {
                DataType::Timestamp(_, Some(zone)) if is_utc(zone) => Some((a.clone(), zone.clone())),
                _ => None,
            },
            _ => None,
        };
        let Some((array, zone)) = utc else {
            return self.inner.invoke_with_args(args);
        };
        // Only the value changes: DataFusion's function reads the values, not `arg_fields`, and
        // the result gets the zone back, so the planned return type holds.
        args.args[1] = ColumnarValue::Array(with_zone(&array, None)?);
        match self.inner.invoke_with_args(args)? {
            ColumnarValue::Array(out) => Ok(ColumnarValue::Array(with_zone(&out, Some(zone))?)),
            scalar => Ok(scalar),
        }
    }
}

/// English day and month names, as Trino writes them for `%W %a %M %b`.
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Formats `t` with MySQL format letters, as Trino's `date_format` does, into any writer (the
/// `date_format` UDF writes into the column's buffer).
fn write_mysql_format(out: &mut impl std::fmt::Write, t: NaiveDateTime, format: &str) -> Result<()> {
    let weekday = WEEKDAYS[t.weekday().num_days_from_monday() as usize];
    let month = MONTHS[t.month0() as usize];
    let mut chars = format.chars();
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let am_pm = if t.hour() < 12 { "AM" } else { "PM" };
    while let Some(c) = chars.next() {
        if c != '%' {
            let _ = out.write_char(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            let _ = out.write_char('%');
            break;
        };
        // Writing to a String or an arrow StringBuilder cannot fail.
        let _ = match spec {
            'a' => out.write_str(&weekday[..3]),
            'b' => out.write_str(&month[..3]),
            'c' => write!(out, "{}", t.month()),
            'D' => write!(out, "{}{}", t.day(), english_suffix(t.day())),
            'd' => write!(out, "{:02}", t.day()),
            'e' => write!(out, "{}", t.day()),
            'f' => write!(out, "{:06}", t.nanosecond() / 1000 % 1_000_000),
            'H' => write!(out, "{:02}", t.hour()),
            'h' | 'I' => write!(out, "{hour12:02}"),
            'i' => write!(out, "{:02}", t.minute()),
            'j' => write!(out, "{:03}", t.ordinal()),
            'k' => write!(out, "{}", t.hour()),
            'l' => write!(out, "{hour12}"),
            'M' => out.write_str(month),
            'm' => write!(out, "{:02}", t.month()),
            'p' => out.write_str(am_pm),
            'r' => write!(out, "{hour12:02}:{:02}:{:02} {am_pm}", t.minute(), t.second()),
            'S' | 's' => write!(out, "{:02}", t.second()),
            'T' => write!(out, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
            'v' => write!(out, "{:02}", t.iso_week().week()),
            'W' => out.write_str(weekday),
            'x' => write!(out, "{:04}", t.iso_week().year()),
            'Y' => write!(out, "{:04}", t.year()),
            'y' => write!(out, "{:02}", t.year().rem_euclid(100)),
            '%' => out.write_char('%'),
            other => return exec_err!("date_format: %{other} is not supported (Trino supports %a %b %c %D %d %e %f %H %h %I %i %j %k %l %M %m %p %r %S %s %T %v %W %x %Y %y %%)"),
        };
    }
    Ok(())
}

fn english_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

/// `date_diff(unit, x1, x2)`: `x2 - x1` in whole `unit`s, truncated toward zero, as `bigint`
/// (<https://trino.io/docs/current/functions/datetime.html#date_diff>). Units: `millisecond`,
/// `second`, `minute`, `hour`, `day`, `week` (elapsed time); `month`, `quarter`, `year`
/// (calendar months, as Trino's Joda-based implementation counts them: see [`months_between`]).
#[derive(Debug, PartialEq, Eq, Hash)]
struct DateDiff {
    signature: Signature,
}

impl DateDiff {
    fn new() -> Self {
        DateDiff {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for DateDiff {
    fn name(&self) -> &str {
        "date_diff"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [_, a, b] => Ok(vec![
                DataType::Utf8,
                coerce_temporal("date_diff", a)?,
                coerce_temporal("date_diff", b)?,
            ]),
            _ => plan_err!(
                "date_diff takes (unit, x1, x2), got {} arguments",
                arg_types.len()
            ),
        }
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let units = cast(&arrays[0], &DataType::Utf8)?;
        let units = units.as_string::<i32>();
        let a = as_instants(&arrays[1])?;
        let b = as_instants(&arrays[2])?;
        let out: Int64Array = units
            .iter()
            .zip(a.iter().zip(b.iter()))
            .map(|(u, (a, b))| match (u, a, b) {
                (Some(u), Some(a), Some(b)) => date_diff(u, instant(a)?, instant(b)?).map(Some),
                _ => Ok(None),
            })
            .collect::<Result<_>>()?;
        finish(&args.args, Arc::new(out))
    }
}

/// `b - a` in whole `unit`s, truncated toward zero (Trino's `date_diff`).
pub fn date_diff(unit: &str, a: DateTime<Utc>, b: DateTime<Utc>) -> Result<i64> {
    let ms = b.timestamp_millis() - a.timestamp_millis();
    let per = |unit_ms: i64| Ok(ms / unit_ms); // Rust's `/` truncates toward zero, like Joda.
    match unit.to_ascii_lowercase().as_str() {
        "millisecond" => per(1),
        "second" => per(1_000),
        "minute" => per(60_000),
        "hour" => per(3_600_000),
        "day" => per(86_400_000),
        "week" => per(7 * 86_400_000),
        "month" => Ok(months_between(a, b)),
        "quarter" => Ok(months_between(a, b) / 3),
        "year" => Ok(months_between(a, b) / 12),
        other => exec_err!(
            "date_diff: unit '{other}' is not one of millisecond, second, minute, hour, day, week, month, quarter, year"
        ),
    }
}

/// Whole calendar months from `a` to `b`, as Joda's month field difference (which Trino uses)
/// counts them: a month counts once `b` reaches `a`'s day of month and time of day, where a `b` on
/// the last day of its month has reached any later day (Jan 31 to Feb 28 is one month).
fn months_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    if b < a {
        return -months_between(b, a);
    }
    let index = |t: DateTime<Utc>| i64::from(t.year()) * 12 + i64::from(t.month0());
    let mut a_day = a.day();
    if is_last_day_of_month(b) && a_day > b.day() {
        a_day = b.day();
    }
    // Position within the month, comparable between months: day, then time of day.
    let within_a = (a_day, a.num_seconds_from_midnight(), a.nanosecond());
    let within_b = (b.day(), b.num_seconds_from_midnight(), b.nanosecond());
    let months = index(b) - index(a);
    if within_b < within_a {
        months - 1
    } else {
        months
    }
}

fn is_last_day_of_month(t: DateTime<Utc>) -> bool {
    (t.date_naive() + chrono::Days::new(1)).month() != t.month()
}

/// `from_iso8601_timestamp(string)`: parses an ISO 8601 date or date-time
/// (<https://trino.io/docs/current/functions/datetime.html#from_iso8601_timestamp>). Trino returns
/// `timestamp with time zone` in the given offset; this returns the same instant in UTC. A
/// value without an offset is read as UTC (the session zone of the local engine).
#[derive(Debug, PartialEq, Eq, Hash)]
struct FromIso8601Timestamp {
    signature: Signature,
}

impl FromIso8601Timestamp {
    fn new() -> Self {
        FromIso8601Timestamp {
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for FromIso8601Timestamp {
    fn name(&self) -> &str {
        "from_iso8601_timestamp"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(utc_millis())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let input = arrays[0].as_string::<i32>();
        let out: TimestampMillisecondArray = input
            .iter()
            .map(|v| v.map(parse_iso8601).transpose())
            .collect::<Result<_>>()?;
        finish(&args.args, Arc::new(out.with_timezone("UTC")))
    }
}

/// Milliseconds since the epoch of an ISO 8601 date (`2026-11-23`) or date-time
/// (`2026-11-23T08:15:30.123Z`, `…+01:00`, or with no offset for UTC).
pub fn parse_iso8601(s: &str) -> Result<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, format) {
            return Ok(t.timestamp_millis());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
            return Ok(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis());
    }
    exec_err!(
        "from_iso8601_timestamp: '{s}' is not an ISO 8601 date or date-time (e.g. 2026-11-23T08:15:30.123Z)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arithmetic fields equal chrono's for instants before and after 1970, at day edges, at
    /// both ends of the range, and in two spreads of 40,000 instants whose strides are not whole
    /// days (so they fall at every time of day and on every weekday).
    #[test]
    fn fields_from_millis_equal_the_calendar_fields() {
        let (lo, hi) = (*INSTANTS.start(), *INSTANTS.end());
        let mut instants = vec![
            lo,
            lo + 1,
            hi - 1,
            hi,
            -1,
            0,
            1,
            MILLIS_PER_DAY - 1,
            MILLIS_PER_DAY,
        ];
        instants.extend((-20_000i64..20_000).map(|i| i * 7_919_999_983 + i % 1_000));
        instants.extend((-20_000i64..20_000).map(|i| i * 413_612_345_679 + 1));
        let mut checked = 0;
        for ms in instants.into_iter().filter(|ms| INSTANTS.contains(ms)) {
            let t = instant(ms).unwrap().naive_utc();
            for field in DateField::ALL {
                if let Some(value) = field.of_millis(ms) {
                    assert_eq!(value, field.of(t), "{field:?} of {ms} ms ({t})");
                    checked += 1;
                }
            }
        }
        assert!(checked > 5 * 79_000, "only {checked} fields compared");
    }
}
