//! Timestamps and dates as the OpenX SerDe reads them: ISO text (with a fast path for the usual
//! shapes), `yyyy-MM-dd HH:mm:ss[.fff]`, epoch seconds or milliseconds.

use chrono::{NaiveDate, NaiveDateTime};

use super::json::{integer, Loose};

/// Numbers with at least this many digits are epoch milliseconds, shorter ones epoch seconds.
pub(super) const EPOCH_MILLIS_MIN: i64 = 10_000_000_000;

pub(super) fn epoch_to_millis(n: i64) -> Option<i64> {
    if n.abs() >= EPOCH_MILLIS_MIN {
        Some(n)
    } else {
        n.checked_mul(1000)
    }
}

pub(super) fn timestamp_millis(value: &Loose) -> Option<i64> {
    match value {
        Loose::Int(_) | Loose::UInt(_) => epoch_to_millis(integer(value)?),
        Loose::Float(f) if f.fract() == 0.0 => epoch_to_millis(*f as i64),
        // Fractional numbers are epoch seconds with a fraction.
        Loose::Float(f) => Some((f * 1000.0).floor() as i64),
        Loose::Str(s) => {
            let s = s.trim();
            if let Some(millis) = iso_millis(s) {
                return Some(millis);
            }
            if let Ok(n) = s.parse::<i64>() {
                return epoch_to_millis(n);
            }
            let parsed = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                .ok()?;
            Some(parsed.and_utc().timestamp_millis())
        }
        _ => None,
    }
}

/// The usual shapes, `yyyy-MM-ddTHH:mm:ss[.fff]Z` and `yyyy-MM-dd HH:mm:ss[.fff]`, read without
/// chrono's format-string interpreter (the conversion's hottest path); anything else, or an
/// impossible date, returns None and takes the general path.
pub(super) fn iso_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let rest = match b[10] {
        b'T' => b[19..].strip_suffix(b"Z")?,
        b' ' => &b[19..],
        _ => return None,
    };
    let millis = match rest {
        [] => 0,
        [b'.', fraction @ ..] if !fraction.is_empty() && fraction.len() <= 9 => {
            // Milliseconds: the first three digits, padded; finer digits are truncated.
            let mut ms = 0;
            for i in 0..3 {
                ms = ms * 10 + fraction.get(i).map_or(Some(0), |&d| digit(d))?;
            }
            if !fraction.iter().all(u8::is_ascii_digit) {
                return None;
            }
            ms
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(number(&b[0..4])? as i32, number(&b[5..7])?, number(&b[8..10])?)?;
    let time = date.and_hms_milli_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        millis,
    )?;
    Some(time.and_utc().timestamp_millis())
}

pub(super) fn digit(d: u8) -> Option<u32> {
    d.is_ascii_digit().then(|| u32::from(d - b'0'))
}

pub(super) fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |n, &d| Some(n * 10 + digit(d)?))
}

pub(super) fn date_days(s: &str) -> Option<i32> {
    let s = s.trim();
    let b = s.as_bytes();
    // `yyyy-MM-dd` without the format interpreter; other shapes take chrono's general path.
    let fast = || {
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        NaiveDate::from_ymd_opt(number(&b[0..4])? as i32, number(&b[5..7])?, number(&b[8..10])?)
    };
    let date = match fast() {
        Some(date) => date,
        None => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?,
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}
