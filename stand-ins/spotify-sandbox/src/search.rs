//! Track search over the synthetic catalog: plain words match track, artist and album names
//! (case-insensitive substrings); field filters `track:`, `artist:`, `album:`, `genre:`, `isrc:`
//! and `year:` (a year or a range `1990-1999`) narrow the results, as in Spotify's query syntax.
//! Results are ranked deterministically per query.

use crate::catalog::Catalog;
use crate::rng::{hash, hash_str};

enum Term {
    Word(String),
    Field(String, String),
}

/// Splits a query into terms; `genre:"indie pop"` keeps its quoted value together.
fn terms(query: &str) -> Vec<Term> {
    let mut out = Vec::new();
    let mut rest = query.trim();
    while !rest.is_empty() {
        let token_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..token_end];
        if let Some((field, value)) = token.split_once(':') {
            if let Some(quoted) = value.strip_prefix('"') {
                // The value runs to the closing quote, possibly past spaces.
                let start = rest.find('"').map_or(0, |i| i + 1);
                let close = rest[start..].find('"').map_or(rest.len(), |i| start + i);
                let value = if quoted.ends_with('"') && !quoted.is_empty() {
                    quoted.trim_end_matches('"').to_string()
                } else {
                    rest[start..close].to_string()
                };
                out.push(Term::Field(field.to_lowercase(), value.to_lowercase()));
                rest = rest[(close + 1).min(rest.len())..].trim_start();
                continue;
            }
            out.push(Term::Field(field.to_lowercase(), value.to_lowercase()));
        } else {
            out.push(Term::Word(token.to_lowercase()));
        }
        rest = rest[token_end..].trim_start();
    }
    out
}

fn year_matches(range: &str, year: i32) -> bool {
    match range.split_once('-') {
        Some((a, b)) => match (a.parse::<i32>(), b.parse::<i32>()) {
            (Ok(a), Ok(b)) => (a..=b).contains(&year),
            _ => false,
        },
        None => range.parse::<i32>() == Ok(year),
    }
}

/// Catalog indexes of the tracks that match `query`, best first.
pub fn search(catalog: &Catalog, seed: u64, query: &str) -> Vec<u32> {
    let terms = terms(query);
    let query_hash = hash_str(&query.to_lowercase());
    let mut scored: Vec<(u64, u32)> = Vec::new();
    for (i, track) in catalog.tracks.iter().enumerate() {
        let album = &catalog.albums[track.album as usize];
        let artist_names: Vec<String> = track
            .artists
            .iter()
            .map(|a| catalog.artists[*a as usize].name.to_lowercase())
            .collect();
        let track_name = track.name.to_lowercase();
        let album_name = album.name.to_lowercase();
        let primary_genre = catalog.artists[track.artists[0] as usize].genre;
        let mut matched_words = 0u64;
        let mut ok = true;
        for term in &terms {
            match term {
                Term::Word(word) => {
                    if track_name.contains(word.as_str())
                        || album_name.contains(word.as_str())
                        || artist_names.iter().any(|n| n.contains(word.as_str()))
                    {
                        matched_words += 1;
                    }
                }
                Term::Field(field, value) => {
                    ok &= match field.as_str() {
                        "track" => track_name.contains(value.as_str()),
                        "album" => album_name.contains(value.as_str()),
                        "artist" => artist_names.iter().any(|n| n.contains(value.as_str())),
                        "genre" => primary_genre == value,
                        "isrc" => track.isrc.eq_ignore_ascii_case(value),
                        "year" => year_matches(value, album.year),
                        // Unknown filters (`tag:new` …) restrict nothing here.
                        _ => true,
                    };
                }
            }
        }
        let words = terms.iter().filter(|t| matches!(t, Term::Word(_))).count() as u64;
        if ok && (words == 0 || matched_words > 0) {
            // More matched words first, then a per-query order standing in for relevance.
            let score = (words - matched_words) << 56 | (hash(seed, &[query_hash, i as u64]) >> 8);
            scored.push((score, i as u32));
        }
    }
    scored.sort_unstable();
    scored.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_narrow_and_words_match_names() {
        let catalog = Catalog::generate(3, 40, 500, 4, false);
        let all_jazz = search(&catalog, 3, "genre:jazz");
        assert!(all_jazz
            .iter()
            .all(|t| catalog.artists[catalog.tracks[*t as usize].artists[0] as usize].genre == "jazz"));
        let quoted = search(&catalog, 3, "genre:\"indie pop\"");
        assert!(quoted
            .iter()
            .all(|t| catalog.artists[catalog.tracks[*t as usize].artists[0] as usize].genre == "indie pop"));
        let name = catalog.tracks[7].name.clone();
        assert!(search(&catalog, 3, &name).contains(&7));
        let isrc = catalog.tracks[9].isrc.clone();
        assert_eq!(search(&catalog, 3, &format!("isrc:{isrc}")), vec![9]);
        assert_eq!(search(&catalog, 3, "genre:jazz"), all_jazz, "deterministic");
    }
}
