use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A UTC instant with millisecond precision, the Avro `timestamp-millis` type.
///
/// In JSON it is written as `2026-11-24T08:15:30.123Z`, a form that Firehose's OpenX JSON SerDe
/// parses for a Glue `timestamp` column. Reading also accepts any RFC 3339 offset and the SerDe's
/// `yyyy-MM-dd HH:mm:ss[.fff]` form (taken as UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Years a timestamp may have: what `YYYY-MM-DDTHH:MM:SS.sssZ` can write and Glue's
    /// `timestamp` and Parquet readers accept. An offset can push a parsed time outside them
    /// (`0000-01-01T00:30:00+01:00` is year -1 in UTC).
    pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

    /// Truncates to whole milliseconds, the precision the schema stores; `None` outside [`Self::YEARS`].
    pub fn from_datetime(at: DateTime<Utc>) -> Option<Self> {
        let at = DateTime::from_timestamp_millis(at.timestamp_millis())?;
        Self::YEARS.contains(&at.year()).then_some(Timestamp(at))
    }

    pub fn from_millis(millis: i64) -> Option<Self> {
        DateTime::from_timestamp_millis(millis).and_then(Self::from_datetime)
    }

    pub fn now() -> Self {
        Self::from_datetime(Utc::now()).expect("the clock reads a year between 1 and 9999")
    }

    /// Parses RFC 3339 (any offset) or `yyyy-MM-dd HH:mm:ss[.fff]` (UTC); `None` when the UTC
    /// time falls outside [`Self::YEARS`].
    pub fn parse(text: &str) -> Option<Self> {
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Self::from_datetime(at.with_timezone(&Utc));
        }
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .and_then(|naive| Self::from_datetime(naive.and_utc()))
    }

    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn datetime(self) -> DateTime<Utc> {
        self.0
    }

    /// The UTC date, `YYYY-MM-DD`: the `dt` partition value.
    pub fn utc_date(self) -> String {
        let text = self.text();
        String::from_utf8_lossy(&text[..10]).into_owned()
    }

    /// `YYYY-MM-DDTHH:MM:SS.sssZ`, written by hand: it runs twice per record on the hot path, and
    /// chrono's formatter allocates. The year is always 1-9999 (see [`Self::YEARS`]).
    pub(crate) fn text(self) -> [u8; 24] {
        let (date, time) = (self.0.date_naive(), self.0.time());
        let mut out = *b"0000-00-00T00:00:00.000Z";
        put_digits(&mut out, 0, 4, date.year() as u32);
        put_digits(&mut out, 5, 2, date.month());
        put_digits(&mut out, 8, 2, date.day());
        put_digits(&mut out, 11, 2, time.hour());
        put_digits(&mut out, 14, 2, time.minute());
        put_digits(&mut out, 17, 2, time.second());
        put_digits(&mut out, 20, 3, time.nanosecond() / 1_000_000);
        out
    }
}

/// Writes `value` as `width` decimal digits, zero-padded, at `out[at..]`.
pub(crate) fn put_digits(out: &mut [u8], at: usize, width: usize, mut value: u32) {
    for i in (at..at + width).rev() {
        out[i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text();
        f.write_str(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format_args!(
                "`{}` is not a timestamp of years 1-9999 in UTC (expected RFC 3339, e.g. 2026-11-24T08:15:30.123Z)",
                crate::validate::clip(&text, 64)
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_millis_with_z_and_reads_other_offsets() {
        let t = Timestamp::parse("2026-11-24T09:15:30.123456+01:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-24T08:15:30.123Z");
        assert_eq!(
            Timestamp::parse("2026-11-24 08:15:30").unwrap().to_string(),
            "2026-11-24T08:15:30.000Z"
        );
        assert_eq!(t.utc_date(), "2026-11-24");
        assert!(Timestamp::parse("yesterday").is_none());
    }

    /// Found by fuzzing: an offset moved a valid-looking time outside the years a timestamp can
    /// be written in, and the record failed schema validation downstream.
    #[test]
    fn regression_offset_moves_time_outside_years_1_to_9999() {
        assert!(Timestamp::parse("0000-01-01T00:30:00+01:00").is_none());
        assert!(Timestamp::parse("9999-12-31T23:30:00-01:00").is_none());
        assert!(Timestamp::parse("0001-01-01T00:00:00Z").is_some());
        assert!(Timestamp::parse("9999-12-31T23:59:59.999Z").is_some());
        assert!(Timestamp::from_millis(i64::MAX).is_none());
    }

    #[test]
    fn hand_written_text_matches_chrono_rfc3339() {
        use chrono::SecondsFormat;
        for millis in [
            0,
            1,
            999,
            1_795_507_200_123,
            -62_135_596_800_000,
            253_402_300_799_999,
            951_782_400_000,
        ] {
            let t = Timestamp::from_millis(millis).unwrap();
            assert_eq!(
                t.to_string(),
                t.datetime().to_rfc3339_opts(SecondsFormat::Millis, true),
                "{millis}"
            );
            assert_eq!(t.utc_date(), t.datetime().format("%Y-%m-%d").to_string());
        }
    }
}
