//! Every file of `sql/`: its header, that it parses, and that the built-in copy has it.

use std::path::PathBuf;

use datafusion::sql::parser::DFParser;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use local_athena::{built_in_queries, named_queries, parse_query, AthenaError};

fn sql_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sql")
}

#[test]
fn every_sql_file_has_a_name_and_a_question_and_parses() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sql_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let q = parse_query(&file, &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            file.file_stem().unwrap().to_str().unwrap(),
            q.name,
            "{}: name the file after its query",
            file.display()
        );
        assert!(
            q.question.ends_with('?'),
            "{}: the question should be a question: {}",
            file.display(),
            q.question
        );
        let statements = DFParser::parse_sql_with_dialect(&q.sql, &GenericDialect {})
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", file.display()));
        assert_eq!(
            statements.len(),
            1,
            "{}: one statement per named query",
            file.display()
        );
    }
}

#[test]
fn the_built_in_copy_holds_every_sql_file_as_it_is_now() {
    let on_disk = named_queries(&sql_dir()).unwrap();
    let built_in = built_in_queries();
    let names = |qs: &[local_athena::NamedQuery]| {
        let mut n: Vec<String> = qs.iter().map(|q| q.name.clone()).collect();
        n.sort();
        n
    };
    assert_eq!(
        names(&on_disk),
        names(&built_in),
        "add new sql/ files to BUILT_IN in src/named.rs"
    );
    for q in &on_disk {
        let b = built_in.iter().find(|b| b.name == q.name).unwrap();
        assert_eq!(b.sql, q.sql, "{}", q.name);
        assert_eq!(b.question, q.question);
    }
    // Views come first, so the queries that read them find them.
    assert!(on_disk[0].is_view() && built_in[0].is_view());
    assert_eq!(on_disk.iter().filter(|q| q.is_view()).count(), 1);
}

#[test]
fn a_file_without_its_header_is_refused_with_the_fix() {
    let file = std::path::Path::new("sql/x.sql");
    let err = parse_query(file, "SELECT 1").unwrap_err();
    assert!(matches!(err, AthenaError::QueryFile { .. }));
    assert!(err.to_string().contains("-- name:"), "{err}");
    let err = parse_query(file, "-- name: x\nSELECT 1").unwrap_err().to_string();
    assert!(err.contains("-- question:"), "{err}");
    let err = parse_query(file, "-- name: Top Tracks\n-- question: q?\nSELECT 1")
        .unwrap_err()
        .to_string();
    assert!(err.contains("lower-case"), "{err}");
    let q = parse_query(
        file,
        "-- name: x\n-- question: first line\n--   and second?\n--\n-- note\nSELECT 1",
    )
    .unwrap();
    assert_eq!(q.question, "first line and second?");
}

#[test]
fn a_sql_folder_with_two_files_of_one_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.sql"),
        "-- name: same\n-- question: a?\nSELECT 1",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.sql"),
        "-- name: same\n-- question: b?\nSELECT 2",
    )
    .unwrap();
    let err = named_queries(dir.path()).unwrap_err().to_string();
    assert!(err.contains("already used"), "{err}");
}

/// The queries about plays each carry the play rule (no named query reads another's result), and
/// carry the same text of it: a fix made in one file and not the others fails here.
#[test]
fn every_query_about_plays_carries_the_same_play_rule() {
    const START: &str = "-- The play rule (";
    const END: &str = "-- End of the play rule.";
    let rule = |q: &local_athena::NamedQuery| {
        let start = q.sql.find(START)?;
        let end = q.sql[start..].find(END)? + start;
        Some(q.sql[start..end].to_owned())
    };
    let queries = named_queries(&sql_dir()).unwrap();
    let mut with_rule = Vec::new();
    for q in &queries {
        let reads_plays = q.sql.contains("'recently_played'") || q.sql.contains("'streaming_history'");
        match rule(q) {
            Some(text) => with_rule.push((q.name.clone(), text)),
            None => assert!(
                !reads_plays || q.is_view(),
                "{} reads plays without the play rule (copy it from listening_by_hour.sql)",
                q.name
            ),
        }
    }
    assert!(with_rule.len() >= 4, "{with_rule:?}");
    let (first, text) = &with_rule[0];
    for (name, other) in &with_rule[1..] {
        assert_eq!(other, text, "{name}'s play rule differs from {first}'s");
    }
}
