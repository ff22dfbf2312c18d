//! S3 prefixes and object names as Firehose makes them [Firehose developer guide, "Understand
//! custom prefixes for Amazon S3 objects" and "Configure Amazon S3 object name format"]:
//! - `!{timestamp:<Java DateTimeFormatter pattern>}`: UTC, from the oldest record in the object;
//! - `!{firehose:random-string}`: 11 random characters; `!{firehose:error-output-type}`;
//! - `!{partitionKeyFromLambda:key}` (and `partitionKeyFromQuery:key`, which reads the same keys
//!   here): from the processor's `metadata.partitionKeys`;
//! - a prefix with no `!{timestamp:...}` and no partition key gets `yyyy/MM/dd/HH/` appended;
//! - object names are `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid>`, plus `.gz` for the gzip
//!   backup and `.parquet` for converted output. The time in the name is also the oldest
//!   record's arrival (UTC).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::FirehoseError;

/// Firehose's `!{firehose:random-string}` is 11 characters long.
const RANDOM_STRING_LEN: usize = 11;
/// The version of the delivery stream in object names; a new stream starts at 1.
pub const STREAM_VERSION: u32 = 1;

/// One piece of a parsed prefix template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    /// A chrono format string translated from the Java pattern.
    Timestamp(String),
    RandomString,
    ErrorOutputType,
    PartitionKey(String),
}

/// A parsed prefix such as `processed/source=!{partitionKeyFromLambda:source}/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What a prefix is evaluated with.
pub struct Values<'a> {
    /// Arrival time of the oldest record in the object.
    pub oldest_arrival: DateTime<Utc>,
    pub error_output_type: Option<&'a str>,
    pub partition_keys: Option<&'a BTreeMap<String, String>>,
}

impl Template {
    pub fn parse(prefix: &str) -> Result<Self, FirehoseError> {
        let bad = |why: String| FirehoseError::Settings {
            message: format!("prefix `{prefix}`: {why}"),
        };
        let mut parts = Vec::new();
        let mut rest = prefix;
        while let Some(start) = rest.find("!{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| bad("an `!{` expression is not closed".into()))?
                + start;
            let expr = &rest[start + 2..end];
            let (namespace, arg) = expr
                .split_once(':')
                .ok_or_else(|| bad(format!("`!{{{expr}}}` has no namespace")))?;
            parts.push(match (namespace, arg) {
                ("timestamp", pattern) => Part::Timestamp(java_to_chrono(pattern).map_err(bad)?),
                ("firehose", "random-string") => Part::RandomString,
                ("firehose", "error-output-type") => Part::ErrorOutputType,
                ("partitionKeyFromLambda" | "partitionKeyFromQuery", key) if !key.is_empty() => {
                    Part::PartitionKey(key.to_owned())
                }
                _ => return Err(bad(format!("unsupported expression `!{{{expr}}}`"))),
            });
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        let has_time_or_key = parts
            .iter()
            .any(|p| matches!(p, Part::Timestamp(_) | Part::PartitionKey(_)));
        if !has_time_or_key {
            parts.push(Part::Timestamp("%Y/%m/%d/%H/".into()));
        }
        Ok(Self { parts })
    }

    /// The partition keys the template needs.
    pub fn partition_keys(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::PartitionKey(k) => Some(k.as_str()),
            _ => None,
        })
    }

    pub fn uses_error_output_type(&self) -> bool {
        self.parts.contains(&Part::ErrorOutputType)
    }

    /// The template with only its partition keys filled in: the identity of a partition (the
    /// time and random parts are evaluated per object). `None` names the first missing key.
    pub fn partition(&self, keys: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            if let Part::PartitionKey(k) = part {
                let v = keys.get(k).ok_or_else(|| k.clone())?;
                out.push_str(k);
                out.push('=');
                out.push_str(v);
                out.push('/');
            }
        }
        Ok(out)
    }

    /// The prefix for one object. Missing partition keys or error type evaluate to the empty
    /// string; callers check them first with [`Template::partition`].
    pub fn evaluate(&self, values: &Values) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Timestamp(f) => out.push_str(&values.oldest_arrival.format(f).to_string()),
                Part::RandomString => out.push_str(&random_string()),
                Part::ErrorOutputType => out.push_str(values.error_output_type.unwrap_or_default()),
                Part::PartitionKey(k) => {
                    if let Some(v) = values.partition_keys.and_then(|keys| keys.get(k)) {
                        out.push_str(v)
                    }
                }
            }
        }
        out
    }
}

/// Translates the subset of Java's DateTimeFormatter letters Firehose prefixes use.
fn java_to_chrono(pattern: &str) -> Result<String, String> {
    let mut out = String::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        if c.is_ascii_alphabetic() {
            let spec = match (c, run) {
                ('y', 4) | ('u', 4) => "%Y",
                ('y', 2) | ('u', 2) => "%y",
                ('M', 2) => "%m",
                ('d', 2) => "%d",
                ('H', 2) => "%H",
                ('m', 2) => "%M",
                ('s', 2) => "%S",
                _ => {
                    return Err(format!(
                        "timestamp pattern `{pattern}`: `{}` is not supported (use yyyy, MM, dd, HH, mm, ss)",
                        c.to_string().repeat(run)
                    ))
                }
            };
            out.push_str(spec);
        } else {
            for _ in 0..run {
                if c == '%' {
                    out.push_str("%%");
                } else {
                    out.push(c);
                }
            }
        }
        i += run;
    }
    Ok(out)
}

fn random_string() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..RANDOM_STRING_LEN)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// A random (version 4) UUID in its text form.
pub fn uuid_v4() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `<stream>-<version>-yyyy-MM-dd-HH-mm-ss-<uuid><extension>`.
pub fn object_name(stream: &str, at: DateTime<Utc>, extension: &str) -> String {
    format!(
        "{stream}-{STREAM_VERSION}-{}-{}{extension}",
        at.format("%Y-%m-%d-%H-%M-%S"),
        uuid_v4()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T08:05:09Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn evaluates_the_checked_in_prefixes() {
        let s = schemas::delivery::settings();
        let keys: BTreeMap<String, String> = [("source", "playlist"), ("dt", "2026-11-23")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let processed = Template::parse(&s.processed_prefix).unwrap();
        let values = Values {
            oldest_arrival: at(),
            error_output_type: None,
            partition_keys: Some(&keys),
        };
        assert_eq!(
            processed.evaluate(&values),
            "processed/source=playlist/dt=2026-11-23/"
        );
        let errors = Template::parse(&s.error_output_prefix).unwrap();
        let values = Values {
            oldest_arrival: at(),
            error_output_type: Some("processing-failed"),
            partition_keys: None,
        };
        assert_eq!(errors.evaluate(&values), "errors/processing-failed/2026/11/24/");
        let raw = Template::parse(&s.raw_backup_prefix).unwrap();
        assert_eq!(raw.evaluate(&values), "raw/2026/11/24/08/");
        assert_eq!(processed.partition(&BTreeMap::new()), Err("source".to_owned()));
    }

    #[test]
    fn no_timestamp_appends_hour_folders_and_random_string_is_11() {
        let t = Template::parse("plain/").unwrap();
        let v = Values {
            oldest_arrival: at(),
            error_output_type: None,
            partition_keys: None,
        };
        assert_eq!(t.evaluate(&v), "plain/2026/11/24/08/");
        let r = Template::parse("x/!{firehose:random-string}/!{timestamp:yyyy}/").unwrap();
        let out = r.evaluate(&v);
        assert_eq!(out.len(), "x//2026/".len() + 11, "{out}");
        assert!(Template::parse("x/!{timestamp:QQ}/").is_err());
        assert!(Template::parse("x/!{unknown:thing}/").is_err());
    }

    #[test]
    fn object_names_follow_firehose() {
        let name = object_name("s", at(), ".parquet");
        assert!(name.starts_with("s-1-2026-11-24-08-05-09-"), "{name}");
        assert!(name.ends_with(".parquet"));
        let uuid = &name["s-1-2026-11-24-08-05-09-".len()..name.len() - ".parquet".len()];
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
    }
}
