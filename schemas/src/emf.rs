//! CloudWatch's embedded metric format (EMF): the one shape of the JSON log line in which both
//! Lambdas report their counts. CloudWatch Logs turns each such line into metrics, which the
//! alarms and the dashboard of `infra/` read under the names of [`crate::names`]
//! (docs/lambda-contracts.md#metrics).

use serde_json::{json, Map, Value};

/// The unit of every metric the Lambdas report: they count records, runs and requests.
pub const UNIT: &str = "Count";

/// One EMF document: `metrics` under `namespace`, with one dimension (`dimension` =
/// `dimension_value`, the function's name) and the event's time in milliseconds.
///
/// Every metric given is written, zero or not, so that alarms always have data points.
pub fn document<N: Into<String>>(
    namespace: &str,
    dimension: &str,
    dimension_value: &str,
    timestamp_ms: i64,
    metrics: impl IntoIterator<Item = (N, usize)>,
) -> Value {
    let metrics: Vec<(String, usize)> = metrics.into_iter().map(|(n, v)| (n.into(), v)).collect();
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": UNIT}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[dimension]],
                "Metrics": definitions,
            }]
        }),
    );
    doc.insert(dimension.into(), dimension_value.into());
    for (name, value) in metrics {
        doc.insert(name, value.into());
    }
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_metric_is_declared_and_valued_under_the_dimension() {
        let doc = document("ns", "FunctionName", "f", 1_700_000_000_000, [("A", 0), ("B", 3)]);
        let spec = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000i64);
        assert_eq!(spec["Namespace"], "ns");
        assert_eq!(spec["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(
            spec["Metrics"],
            json!([{"Name": "A", "Unit": "Count"}, {"Name": "B", "Unit": "Count"}])
        );
        assert_eq!(doc["FunctionName"], "f");
        assert_eq!(doc["A"], 0);
        assert_eq!(doc["B"], 3);
    }
}
