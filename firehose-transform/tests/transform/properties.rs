//! Property tests: whatever Firehose sends, the transform answers every record once, with a
//! well-formed result, and never panics.

use crate::support::{assert_well_formed, response};
use base64::Engine as _;
use firehose_transform::sample::{envelope_line, event};
use firehose_transform::{FirehoseEvent, FirehoseRecord};
use proptest::prelude::*;
use serde_json::Value;

fn check(event: &FirehoseEvent) {
    let processed = firehose_transform::process(event);
    let s = &processed.summary;
    assert_eq!(s.records, event.records.len());
    assert_eq!(
        s.ok + s.dropped + s.processing_failed,
        s.records,
        "every record is counted once"
    );
    assert_eq!(
        s.reasons.values().sum::<usize>(),
        s.dropped + s.processing_failed,
        "every non-Ok has a reason"
    );
    assert_well_formed(event, &response(event));
}

/// Keys the transform reads, mixed with random ones, so generated objects reach deep paths.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "v", "source", "observed_at", "context", "spotify", "item", "track", "type", "episode", "id", "uri",
            "name", "duration_ms", "explicit", "popularity", "is_local", "album", "artists", "release_date",
            "images", "url", "width", "added_at", "played_at", "rank", "query", "time_range", "playlist_id",
            "position", "external_ids", "isrc",
        ]).prop_map(String::from),
        1 => ".{0,6}",
    ]
}

/// RFC 3339 timestamps with any offset, half of them at the first or last half hour of years
/// 0, 1, 9999: an offset can move such a time out of the years 1-9999 (a bug found by fuzzing).
fn timestamp() -> impl Strategy<Value = String> {
    let edge = prop::sample::select(vec![
        "0000-01-01T00:30:00",
        "0001-01-01T00:30:00",
        "9999-12-31T23:30:00",
    ])
    .prop_map(String::from);
    let any = (1i32..=9999, 1u32..=12, 1u32..=28, 0u32..24)
        .prop_map(|(y, mo, d, h)| format!("{y:04}-{mo:02}-{d:02}T{h:02}:30:00"));
    (prop_oneof![edge, any], -1439i32..=1439).prop_map(|(local, off)| {
        let sign = if off < 0 { '-' } else { '+' };
        format!("{local}{sign}{:02}:{:02}", off.abs() / 60, off.abs() % 60)
    })
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        prop::sample::select(vec![
            "track",
            "episode",
            "recently_played",
            "playlist",
            "2026-11-24T08:00:00Z",
            "1998-05"
        ])
        .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        timestamp().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path (object keys and array indexes) of a JSON value.
fn paths(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    let children: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(a) => a.iter().enumerate().map(|(i, v)| (i.to_string(), v)).collect(),
        _ => vec![],
    };
    for (k, child) in children {
        prefix.push(k);
        paths(child, prefix, out);
        prefix.pop();
    }
}

fn at<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
    path.iter().fold(v, |v, k| match v {
        Value::Array(a) => &mut a[k.parse::<usize>().unwrap()],
        other => &mut other[k.as_str()],
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..8)) {
        check(&event(payloads));
    }

    #[test]
    fn arbitrary_base64_text_never_panics(data in prop::collection::vec(".{0,80}", 0..8)) {
        let mut ev = event(Vec::<Vec<u8>>::new());
        ev.records = data.into_iter().enumerate().map(|(i, data)| FirehoseRecord {
            record_id: format!("id-{i}"), approximate_arrival_timestamp: 0, data,
        }).collect();
        check(&ev);
    }

    #[test]
    fn arbitrary_json_never_panics(values in prop::collection::vec(json(), 1..6)) {
        check(&event(values.iter().map(|v| serde_json::to_vec(v).unwrap())));
    }

    #[test]
    fn arbitrary_spotify_object_in_a_valid_envelope(spotify in json(), source in 0usize..5) {
        let mut env: Value = serde_json::from_slice(&envelope_line(source)).unwrap();
        env["spotify"] = spotify;
        check(&event([serde_json::to_vec(&env).unwrap()]));
    }

    #[test]
    fn any_field_of_a_real_envelope_replaced(n in 0usize..10, pick in any::<prop::sample::Index>(), value in json()) {
        let mut env: Value = serde_json::from_slice(&envelope_line(n)).unwrap();
        let mut all = Vec::new();
        paths(&env, &mut Vec::new(), &mut all);
        let path = pick.get(&all).clone();
        *at(&mut env, &path) = value;
        check(&event([serde_json::to_vec(&env).unwrap()]));
    }

    #[test]
    fn any_field_of_a_real_envelope_removed(n in 0usize..10, pick in any::<prop::sample::Index>()) {
        let mut env: Value = serde_json::from_slice(&envelope_line(n)).unwrap();
        let mut all = Vec::new();
        paths(&env, &mut Vec::new(), &mut all);
        let path = pick.get(&all[1..]).clone();
        let (last, parent) = path.split_last().unwrap();
        match at(&mut env, parent) {
            Value::Object(m) => { m.remove(last); }
            Value::Array(a) => { a.remove(last.parse::<usize>().unwrap()); }
            _ => {}
        }
        check(&event([serde_json::to_vec(&env).unwrap()]));
    }

    #[test]
    fn timestamps_of_any_year_and_offset(n in 0usize..10, at in prop::collection::vec(timestamp(), 4)) {
        let mut env: Value = serde_json::from_slice(&envelope_line(n)).unwrap();
        env["observed_at"] = at[0].clone().into();
        env["context"]["played_at"] = at[1].clone().into();
        if env["spotify"].get("added_at").is_some() {
            env["spotify"]["added_at"] = at[2].clone().into();
        }
        if env["spotify"].get("played_at").is_some() {
            env["spotify"]["played_at"] = at[3].clone().into();
        }
        check(&event([serde_json::to_vec(&env).unwrap()]));
    }

    #[test]
    fn truncated_records_never_panic(n in 0usize..10, cut in any::<prop::sample::Index>()) {
        let line = envelope_line(n);
        let cut = cut.index(line.len());
        check(&event([line[..cut].to_vec()]));
    }
}

#[test]
fn non_standard_base64_fails_alone() {
    // URL-safe alphabet and missing padding are not what Firehose sends.
    let line = envelope_line(3);
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&line);
    let mut ev = event([line]);
    ev.records.push(FirehoseRecord {
        record_id: "url-safe".into(),
        approximate_arrival_timestamp: 0,
        data: url_safe,
    });
    check(&ev);
}
