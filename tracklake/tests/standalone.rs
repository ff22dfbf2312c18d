//! The repository stands on its own: no tracked file reads or cites anything outside it.
//!
//! Every tracked text file (`git ls-files`; without git, the tree less `target/`, `.venv/` and
//! `.git/`) is scanned line by line, and the test fails naming each file and line that:
//! - points at a folder beside the repository (see [`OUTSIDE_NAMES`]) or a relative path that
//!   climbs out of the repository;
//! - names a planning document kept outside the repository ([`OUTSIDE_NAMES`]), or an issue by number (`issue #4`, `issue 4`,
//!   `(#3)`, `spotipy #766`): those texts are not part of the repository, so the fact itself must be
//!   written in `docs/` and cited there (a public page is cited by its URL);
//! - uses `§` other than for an RFC section (`RFC 7636 §4.1`);
//! - names a `notes/<file>` that does not exist;
//! - refers to `docs/<page>.md` or `docs/<page>.md#<section>`, or links `[text](<file>.md#<section>)`
//!   in a markdown file, where the page or the heading does not exist.
//!
//! The scanner is plain functions, and `the_scanner_finds_each_kind_of_citation` plants one line of
//! each kind, so a rule that stops working fails there even while the repository is clean.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Files not scanned, with the reason.
const SKIPPED: &[(&str, &str)] = &[
    // This file spells out every pattern it looks for.
    ("tracklake/tests/standalone.rs", "the guard itself"),
    // Third-party text, vendored unchanged (see its README); its own links are not ours to fix.
    (
        "stand-ins/spotify-sandbox/openapi/spotify-web-api.yml",
        "vendored upstream file",
    ),
    (
        "stand-ins/spotify-sandbox/openapi/LICENSE-sonallux-spotify-web-api",
        "vendored licence text",
    ),
    ("Cargo.lock", "generated"),
];

/// Folders never walked when git is not available.
const NOT_WALKED: &[&str] = &[
    "target",
    ".venv",
    ".git",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tracklake crate sits in the workspace root")
        .to_path_buf()
}

/// The tracked files, as paths relative to the root with `/` separators.
fn tracked_files(root: &Path) -> Vec<String> {
    let git = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["ls-files", "-z"])
        .output();
    match git {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout)
            .expect("git ls-files prints UTF-8 paths")
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        // No git, or not a repository (a source tarball): walk the tree instead.
        _ => {
            let mut files = Vec::new();
            walk(root, root, &mut files);
            files.sort();
            files
        }
    }
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        if path.is_dir() {
            if !NOT_WALKED.contains(&name.as_str()) {
                walk(root, &path, files);
            }
        } else if let Ok(rel) = path.strip_prefix(root) {
            files.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Lexically normalizes `base/rel`; `None` when it climbs above the root.
fn resolve(base: &Path, rel: &str) -> Option<PathBuf> {
    let mut out: Vec<String> = Vec::new();
    for comp in base.join(rel).components() {
        match comp {
            Component::Normal(c) => out.push(c.to_string_lossy().to_string()),
            Component::ParentDir => {
                out.pop()?;
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out.iter().collect())
}

/// GitHub's anchor of a heading: lower case, punctuation removed, spaces to hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a markdown text's headings (outside code fences), duplicates numbered as
/// GitHub numbers them.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') {
            let base = slug(&line[hashes..]);
            let n = seen.entry(base.clone()).or_insert(0);
            out.insert(if *n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            });
            *n += 1;
        }
    }
    out
}

/// Names of things kept beside the repository, never in it, as (prefix, rest) pairs. They are
/// spelt in two halves so this file does not itself contain what it looks for.
const OUTSIDE_NAMES: [(&str, &str); 6] = [
    ("..", "/shared"),
    ("..", "/notes"),
    ("design", " brief"),
    ("design", "-brief"),
    ("design", "_brief"),
    ("spotify", "-exports"),
];

/// [`OUTSIDE_NAMES`] joined, lowercase.
fn outside_names() -> impl Iterator<Item = String> {
    OUTSIDE_NAMES.iter().map(|(a, b)| format!("{a}{b}"))
}

/// What one line cites that is outside the repository, as messages. `exists` answers whether a
/// repository-relative path exists; `dir` is the line's file's folder, `crate_dir` its crate's.
fn outside_citations(
    line: &str,
    dir: &Path,
    crate_dir: &Path,
    exists: &dyn Fn(&Path) -> bool,
) -> Vec<String> {
    let mut found = Vec::new();
    let lower = line.to_lowercase();
    for needle in outside_names() {
        if lower.contains(&needle) {
            found.push(format!("cites `{needle}`, which is not part of the repository"));
        }
    }
    // "issue 4", "issue #4", "issues #3 and #5".
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(at) = lower[from..].find("issue") {
        let start = from + at;
        let mut i = start + "issue".len();
        if bytes.get(i) == Some(&b's') {
            i += 1;
        }
        while bytes.get(i) == Some(&b' ') {
            i += 1;
        }
        if bytes.get(i) == Some(&b'#') {
            i += 1;
        }
        let word_start = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        if word_start && bytes.get(i).is_some_and(u8::is_ascii_digit) {
            found.push("cites an issue by number; say the reason instead".to_string());
        }
        from = start + 1;
    }
    // A bare "#3" after a space, "(" or "[", as in "(#3)" or "spotipy #766".
    for (i, w) in bytes.windows(2).enumerate() {
        if w[0] == b'#'
            && w[1].is_ascii_digit()
            && (i == 0 || matches!(bytes[i - 1], b' ' | b'(' | b'[' | b','))
        {
            found
                .push("cites an issue or pull request by number (`#N`); cite a URL or say the reason".into());
            break;
        }
    }
    // `§` only as an RFC section.
    for (i, _) in line.match_indices('§') {
        let before = line[..i].trim_end();
        let number = before.rsplit(' ').next().unwrap_or("");
        let rfc = before[..before.len() - number.len()].trim_end().ends_with("RFC");
        if !(rfc && !number.is_empty() && number.chars().all(|c| c.is_ascii_digit())) {
            found.push("uses `§` for a section of a text outside the repository".into());
        }
    }
    // Relative paths that climb out of the repository.
    for (i, _) in line.match_indices("../") {
        if i > 0 && !matches!(line.as_bytes()[i - 1], b'"' | b'\'' | b' ' | b'(' | b'`' | b'=') {
            continue;
        }
        let path: String = line[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "_./-".contains(*c))
            .collect();
        // Relative to the file (include_str!, #[path], markdown), or to the crate for
        // `env!("CARGO_MANIFEST_DIR")` joins. A file outside any member crate is taken as from a
        // member two folders below the root (stand-ins/<crate>), as deep as members sit.
        let member = if crate_dir.as_os_str().is_empty() {
            Path::new("stand-ins/member")
        } else {
            crate_dir
        };
        let base = if line.contains("CARGO_MANIFEST_DIR") {
            member
        } else {
            dir
        };
        if resolve(base, &path).is_none() {
            found.push(format!("`{path}` climbs out of the repository"));
        }
    }
    // `notes/<file>` that does not exist.
    for (i, _) in lower.match_indices("notes/") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-' || bytes[i - 1] == b'/') {
            continue;
        }
        let path: String = line[i..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "_./-".contains(*c))
            .collect();
        let path = path.trim_end_matches('.');
        if path.len() > "notes/".len() && !exists(Path::new(path)) {
            found.push(format!("names `{path}`, which does not exist in the repository"));
        }
    }
    found
}

/// The `docs/<page>.md[#section]` references of a line and, in markdown, its relative links
/// `](<target>.md[#section])` and `](#section)`, each as (repository-relative file, anchor).
fn doc_references(line: &str, dir: &Path, is_markdown: bool) -> Vec<(PathBuf, Option<String>)> {
    let target_chars = |c: char| c.is_ascii_alphanumeric() || "_./#-".contains(c);
    let mut refs = Vec::new();
    if is_markdown {
        for (i, _) in line.match_indices("](") {
            let target: String = line[i + 2..]
                .chars()
                .take_while(|c| *c != ')' && *c != ' ')
                .collect();
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a.to_string())),
                None => (target.as_str(), None),
            };
            // Only markdown pages have headings to check; any other target must merely exist.
            let anchor = if file.is_empty() || file.ends_with(".md") {
                anchor
            } else {
                None
            };
            let path = if file.is_empty() {
                Some(PathBuf::new())
            } else {
                resolve(dir, file)
            };
            if let Some(p) = path {
                refs.push((p, anchor));
            }
        }
    }
    for (i, _) in line.match_indices("docs/") {
        let before = &line.as_bytes()[..i];
        // Inside a word or a longer path, or the target of a markdown link (checked above).
        if before
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'/')
            || (is_markdown && before.ends_with(b"]("))
        {
            continue;
        }
        let reference: String = line[i..].chars().take_while(|c| target_chars(*c)).collect();
        let reference = reference.trim_end_matches(['.', '-']);
        let (file, anchor) = match reference.split_once('#') {
            Some((f, a)) => (f, Some(a.to_string())),
            None => (reference, None),
        };
        if file.ends_with(".md") {
            refs.push((PathBuf::from(file), anchor));
        }
    }
    refs
}

#[test]
fn no_tracked_file_reads_or_cites_anything_outside_the_repository() {
    let root = repo_root();
    let files = tracked_files(&root);
    assert!(
        files.iter().any(|f| f == "Cargo.toml") && files.iter().any(|f| f.starts_with("docs/")),
        "the file list does not look like this repository: {} files",
        files.len()
    );
    let exists = |p: &Path| root.join(p).exists();
    let mut anchor_cache: BTreeMap<PathBuf, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut problems = Vec::new();
    let mut scanned = 0;
    for file in &files {
        if SKIPPED.iter().any(|(f, _)| f == file) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue; // binary, or deleted in the working tree
        };
        scanned += 1;
        let rel = Path::new(file);
        let dir = rel.parent().unwrap_or(Path::new(""));
        let crate_dir = rel
            .ancestors()
            .skip(1)
            .find(|d| root.join(d).join("Cargo.toml").exists())
            .unwrap_or(Path::new(""));
        let is_markdown = file.ends_with(".md");
        let mut fenced = false;
        for (n, line) in text.lines().enumerate() {
            for problem in outside_citations(line, dir, crate_dir, &exists) {
                problems.push(format!("{file}:{}: {problem}\n    {}", n + 1, line.trim()));
            }
            if is_markdown && line.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            if fenced {
                continue;
            }
            for (target, anchor) in doc_references(line, dir, is_markdown) {
                let target = if target.as_os_str().is_empty() {
                    rel.to_path_buf()
                } else {
                    target
                };
                let known = anchor_cache.entry(target.clone()).or_insert_with(|| {
                    std::fs::read_to_string(root.join(&target))
                        .ok()
                        .map(|t| anchors(&t))
                });
                let shown = target.display();
                match (known, anchor) {
                    (None, _) if !root.join(&target).exists() => {
                        problems.push(format!("{file}:{}: `{shown}` does not exist", n + 1))
                    }
                    (Some(known), Some(anchor)) if !anchor.is_empty() && !known.contains(&anchor) => problems
                        .push(format!(
                            "{file}:{}: `{shown}` has no heading `#{anchor}` (it has: {})",
                            n + 1,
                            known.iter().cloned().collect::<Vec<_>>().join(", ")
                        )),
                    _ => {}
                }
            }
        }
    }
    assert!(scanned > 50, "only {scanned} files could be read");
    assert!(
        problems.is_empty(),
        "\n{} place(s) read or cite something outside the repository. Write the fact in docs/ in \
         the repository's own words and cite docs/<page>.md#<section>, or cite the public page by \
         URL:\n\n{}\n",
        problems.len(),
        problems.join("\n")
    );
}

/// Each rule fires on a planted line and stays quiet on its look-alikes, so a rule that breaks
/// fails here even while the repository itself is clean.
#[test]
fn the_scanner_finds_each_kind_of_citation() {
    let dir = Path::new("producer/src");
    let crate_dir = Path::new("producer");
    let exists = |p: &Path| p == Path::new("notes/real.md");
    let hits = |line: &str| outside_citations(line, dir, crate_dir, &exists).len();
    let join = |i: usize| outside_names().nth(i).unwrap();
    let planted = [
        format!("// the limit ({} §3).", join(2)),
        format!("//! See the {}.", join(3).to_uppercase()),
        format!("let p = \"{}/spotify-web-api/openapi.yml\";", join(0)),
        format!("from {} contracts", join(1)),
        format!("as {}.md says", join(5)),
        "//! The local Athena (issue #4): DataFusion".to_string(),
        "### The local pipeline (issue 4)".to_string(),
        "per the issues #3 and #5".to_string(),
        "the producer (#3) spreads".to_string(),
        "slept an hour (spotipy #766)".to_string(),
        "the rules of § 6".to_string(),
        "(`notes/contracts.md` lists the variables)".to_string(),
        "include_str!(\"../../../outside.txt\")".to_string(),
        "PathBuf::from(env!(\"CARGO_MANIFEST_DIR\")).join(\"../../x.yml\")".to_string(),
    ];
    for line in &planted {
        assert!(hits(line) > 0, "not flagged: {line}");
    }
    let clean = [
        "/// Verifier length bounds (RFC 7636 §4.1).",
        "#[derive(Debug)]",
        "println!(\"{:#?}\", x);",
        "include_str!(\"../../sql/dedupe.sql\")",
        "PathBuf::from(env!(\"CARGO_MANIFEST_DIR\")).join(\"openapi/spotify-web-api.yml\")",
        "see notes/real.md",
        "a `notes/` folder in general",
        "fn brief(report: &RunReport) -> String {",
        "retrying briefly",
        "let r = r#\"raw\"#;",
        "https://github.com/dlt-hub/dlt/issues/4036",
        "see the tissue 5 mm",
    ];
    for line in clean {
        assert_eq!(
            outside_citations(line, dir, crate_dir, &exists),
            Vec::<String>::new(),
            "flagged: {line}"
        );
    }

    // References into docs/: the page and the anchor, in comments and in markdown links.
    let refs = doc_references("// (docs/firehose.md#processor-limits).", dir, false);
    assert_eq!(
        refs,
        vec![(PathBuf::from("docs/firehose.md"), Some("processor-limits".into()))]
    );
    let refs = doc_references(
        "see [limits](firehose.md#processor-limits) and [x](#top)",
        Path::new("docs"),
        true,
    );
    assert_eq!(
        refs,
        vec![
            (PathBuf::from("docs/firehose.md"), Some("processor-limits".into())),
            (PathBuf::new(), Some("top".into()))
        ]
    );
    let refs = doc_references(
        "[d](../docs/spotify-web-api.md#paging)",
        Path::new("spotify-sandbox"),
        true,
    );
    assert_eq!(
        refs,
        vec![(PathBuf::from("docs/spotify-web-api.md"), Some("paging".into()))]
    );
    assert!(doc_references("[site](https://docs.aws.amazon.com/x.md#y)", dir, true).is_empty());

    let md =
        "# Top\n## Rate limits\n```\n## not a heading\n```\n## What moto does *not* model\n## Rate limits\n";
    let found = anchors(md);
    for a in ["top", "rate-limits", "rate-limits-1", "what-moto-does-not-model"] {
        assert!(found.contains(a), "{a} missing from {found:?}");
    }
    assert!(!found.contains("not-a-heading"), "{found:?}");
    assert_eq!(slug("PutRecordBatch limits"), "putrecordbatch-limits");
    assert_eq!(slug("`Retry-After`, and 429s"), "retry-after-and-429s");
}
