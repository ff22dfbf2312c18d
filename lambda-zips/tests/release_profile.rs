//! The release profile the Lambda zips are built with keeps unwinding. `cargo lambda build
//! --release` builds with `panic = "abort"` unless `[profile.release]` names `panic` itself; with
//! abort, a panic in a handler kills the process instead of lambda_runtime catching it and
//! answering that one invocation with an error (a Firehose batch would be retried whole, a cold
//! start paid each time).

#[test]
fn the_workspace_release_profile_says_panic_unwind() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
    let manifest: toml::Table = std::fs::read_to_string(path).unwrap().parse().unwrap();
    let panic = manifest
        .get("profile")
        .and_then(|p| p.get("release"))
        .and_then(|r| r.get("panic"))
        .and_then(|p| p.as_str());
    assert_eq!(
        panic,
        Some("unwind"),
        "[profile.release] in Cargo.toml must say panic = \"unwind\": cargo lambda builds the zips \
         with panic = \"abort\" otherwise"
    );
}
