//! The named queries of `sql/`: one Trino (Athena engine v3) query per file, headed by
//! `-- name: <name>` and `-- question: <the question it answers>`.

use std::path::{Path, PathBuf};

use crate::AthenaError;

/// One named query: what `infra/` registers as an Athena named query and what `run_named` runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedQuery {
    /// From the `-- name:` header; `[a-z0-9_]+`.
    pub name: String,
    /// From the `-- question:` header (continuation lines `--   …` right after it are joined).
    pub question: String,
    /// The whole file text, header comments included (both engines skip comments).
    pub sql: String,
    /// Where it was read from (`sql/<file>`, relative to the workspace root for the built-in copy).
    pub file: PathBuf,
}

impl NamedQuery {
    /// True for a `CREATE [OR REPLACE] VIEW` query: the local engine runs these when it opens the
    /// lake, so the queries that read the view find it (in Athena they are run once after deploy).
    pub fn is_view(&self) -> bool {
        let words: Vec<String> = sql_without_comments(&self.sql)
            .split_whitespace()
            .take(4)
            .map(str::to_ascii_uppercase)
            .collect();
        matches!(
            words.iter().map(String::as_str).collect::<Vec<_>>().as_slice(),
            ["CREATE", "VIEW", ..] | ["CREATE", "OR", "REPLACE", "VIEW"]
        )
    }
}

/// The queries of `sql/`, compiled in, so the binary works from any folder. Order matters: views
/// come before the queries that read them.
const BUILT_IN: &[(&str, &str)] = &[
    ("sql/dedupe.sql", include_str!("../../../sql/dedupe.sql")),
    (
        "sql/listening_by_hour.sql",
        include_str!("../../../sql/listening_by_hour.sql"),
    ),
    ("sql/top_tracks.sql", include_str!("../../../sql/top_tracks.sql")),
    (
        "sql/top_artists.sql",
        include_str!("../../../sql/top_artists.sql"),
    ),
    (
        "sql/new_discoveries.sql",
        include_str!("../../../sql/new_discoveries.sql"),
    ),
    (
        "sql/top_list_movement.sql",
        include_str!("../../../sql/top_list_movement.sql"),
    ),
    (
        "sql/playlist_churn.sql",
        include_str!("../../../sql/playlist_churn.sql"),
    ),
    (
        "sql/popularity_trend.sql",
        include_str!("../../../sql/popularity_trend.sql"),
    ),
    (
        "sql/listening_time.sql",
        include_str!("../../../sql/listening_time.sql"),
    ),
    ("sql/skip_rate.sql", include_str!("../../../sql/skip_rate.sql")),
    (
        "sql/completion_rate.sql",
        include_str!("../../../sql/completion_rate.sql"),
    ),
    (
        "sql/listening_sessions.sql",
        include_str!("../../../sql/listening_sessions.sql"),
    ),
    (
        "sql/first_listens.sql",
        include_str!("../../../sql/first_listens.sql"),
    ),
];

/// The built-in copy of `sql/` (the files as they were when this crate was built).
pub fn built_in_queries() -> Vec<NamedQuery> {
    BUILT_IN
        .iter()
        .map(|(file, text)| {
            parse_query(Path::new(file), text).expect("sql/ headers are checked by the tests")
        })
        .collect()
}

/// Reads every `*.sql` file of `sql_dir`, views first, then by file name.
pub fn named_queries(sql_dir: &Path) -> Result<Vec<NamedQuery>, AthenaError> {
    let io = |source| AthenaError::Io {
        path: sql_dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(sql_dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    files.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    files.sort();
    let mut queries = Vec::with_capacity(files.len());
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|source| AthenaError::Io {
            path: file.clone(),
            source,
        })?;
        let query = parse_query(&file, &text)?;
        if let Some(other) = queries.iter().find(|q: &&NamedQuery| q.name == query.name) {
            return Err(AthenaError::QueryFile {
                file,
                reason: format!(
                    "the name {} is already used by {}",
                    query.name,
                    other.file.display()
                ),
            });
        }
        queries.push(query);
    }
    // Stable sort: views first, each group still in file-name order.
    queries.sort_by_key(|q| !q.is_view());
    Ok(queries)
}

/// Parses one query file: the `-- name:` and `-- question:` headers must come in the leading
/// comment block, before the SQL.
pub fn parse_query(file: &Path, text: &str) -> Result<NamedQuery, AthenaError> {
    let bad = |reason: &str| AthenaError::QueryFile {
        file: file.to_owned(),
        reason: reason.to_owned(),
    };
    let mut name = None;
    let mut question: Option<String> = None;
    let mut in_question = false;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            in_question = false;
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let comment = comment.trim();
        if let Some(v) = comment.strip_prefix("name:") {
            name = Some(v.trim().to_owned());
            in_question = false;
        } else if let Some(v) = comment.strip_prefix("question:") {
            question = Some(v.trim().to_owned());
            in_question = true;
        } else if in_question && !comment.is_empty() && line.starts_with("--  ") {
            // An indented comment line right after the question continues it.
            let q = question.as_mut().expect("in_question implies a question");
            q.push(' ');
            q.push_str(comment);
        } else {
            in_question = false;
        }
    }
    let name = name.ok_or_else(|| bad("no `-- name: <name>` line in the leading comments; add one"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(bad(
            "the name must be lower-case letters, digits and underscores (an Athena named query)",
        ));
    }
    let question = question
        .filter(|q| !q.is_empty())
        .ok_or_else(|| bad("no `-- question: <what it answers>` line in the leading comments; add one"))?;
    if sql_without_comments(text).trim().is_empty() {
        return Err(bad("the file holds no SQL after its header"));
    }
    Ok(NamedQuery {
        name,
        question,
        sql: text.to_owned(),
        file: file.to_owned(),
    })
}

/// The text with `--` line comments removed (enough for telling a view from a query; the
/// queries keep no `--` inside string literals).
fn sql_without_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}
