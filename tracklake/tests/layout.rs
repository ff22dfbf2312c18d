//! The tree says what is product and what stands in for the cloud: every crate under `stand-ins/`
//! (and the test helpers of `test-support/`) stays out of what the Lambdas are built from.
//!
//! `cargo metadata` resolves the workspace; the normal and build dependencies of the two Lambda
//! crates, followed transitively, must not reach a stand-in or a test helper. Dev-dependencies
//! (tests) may.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crates a Lambda zip is built from; whatever they depend on is product code.
const LAMBDA_CRATES: &[&str] = &["producer", "firehose-transform"];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tracklake/ sits in the repository")
        .to_path_buf()
}

/// The host's target triple: metadata for other platforms would need crates never downloaded.
fn host() -> String {
    let output = Command::new("rustc").arg("-vV").output().expect("run rustc -vV");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

fn metadata() -> Value {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host()])
        .current_dir(repo_root())
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// Workspace package ids whose manifest sits under `stand-ins/` or is the test-support crate.
fn not_product(meta: &Value, root: &Path) -> HashMap<String, String> {
    let members: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut found = HashMap::new();
    for package in meta["packages"].as_array().unwrap() {
        let id = package["id"].as_str().unwrap();
        if !members.contains(id) {
            continue;
        }
        let manifest = Path::new(package["manifest_path"].as_str().unwrap());
        let rel = manifest.strip_prefix(root).unwrap_or(manifest);
        if rel.starts_with("stand-ins") || rel.starts_with("test-support") {
            found.insert(id.to_string(), package["name"].as_str().unwrap().to_string());
        }
    }
    found
}

/// Every package `start` reaches through normal or build dependencies, with the path to it.
fn product_closure(meta: &Value, start: &str) -> HashMap<String, Vec<String>> {
    let nodes: HashMap<&str, &Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let name_of = |id: &str| -> String {
        meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .map(|p| p["name"].as_str().unwrap().to_string())
            .unwrap_or_else(|| id.to_string())
    };
    let start_id = nodes
        .keys()
        .find(|id| name_of(id) == start)
        .unwrap_or_else(|| panic!("{start} is not in the workspace"))
        .to_string();
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    let mut queue = vec![(start_id, vec![start.to_string()])];
    while let Some((id, path)) = queue.pop() {
        if seen.contains_key(&id) {
            continue;
        }
        seen.insert(id.clone(), path.clone());
        for dep in nodes[id.as_str()]["deps"].as_array().unwrap() {
            let product = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if product {
                let dep_id = dep["pkg"].as_str().unwrap().to_string();
                let mut next = path.clone();
                next.push(name_of(&dep_id));
                queue.push((dep_id, next));
            }
        }
    }
    seen
}

#[test]
fn product_crates_never_depend_on_stand_ins() {
    let root = repo_root();
    let meta = metadata();
    let banned = not_product(&meta, &root);
    assert!(
        banned.values().any(|n| n == "local-firehose") && banned.values().any(|n| n == "test-support"),
        "the stand-ins and test-support were not found under stand-ins/ and test-support/: {banned:?}"
    );
    let mut problems = Vec::new();
    for lambda in LAMBDA_CRATES {
        for (id, path) in product_closure(&meta, lambda) {
            if let Some(name) = banned.get(&id) {
                problems.push(format!("{lambda} reaches {name} through {}", path.join(" -> ")));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "product code depends on a stand-in or a test helper (make it a dev-dependency):\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_stand_in_sits_under_stand_ins() {
    let root = repo_root();
    let meta = metadata();
    let banned = not_product(&meta, &root);
    for name in ["spotify-sandbox", "local-firehose", "local-athena", "moto-server"] {
        assert!(
            banned.values().any(|n| n == name),
            "{name} is not under stand-ins/ (the tree should show what stands in for the cloud)"
        );
    }
}
