//! Offset-paged lists: follow `next` until it is null, within the page size and offset Spotify
//! accepts for the endpoint. Cursor-paged recently-played keeps its own watermark logic elsewhere.

use reqwest::Url;
use serde_json::Value;

use crate::{normalize_endpoint, SpotifyClient, SpotifyError};

/// The largest `limit` and `offset` an endpoint accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    pub max_limit: u32,
    /// `None`: no documented offset ceiling.
    pub max_offset: Option<u32>,
}

/// Search: limit 1–10 (11 gives 400 "Invalid limit"), offset ≤ 1000 (docs/spotify-web-api.md#paging).
pub const SEARCH_PAGES: PageLimits = PageLimits {
    max_limit: 10,
    max_offset: Some(1000),
};

/// `/artists/{id}/albums`: limit ≤ 10 (docs/spotify-web-api.md#paging).
pub const ARTIST_ALBUMS_PAGES: PageLimits = PageLimits {
    max_limit: 10,
    max_offset: None,
};

/// Playlist items and most `/me/*` lists: limit ≤ 50 (docs/spotify-web-api.md#paging).
pub const LIST_PAGES: PageLimits = PageLimits {
    max_limit: 50,
    max_offset: None,
};

/// One page: the body as received, and where it sits in the list.
#[derive(Debug, Clone)]
pub struct Page {
    /// The response body, verbatim (for search, the whole answer, not only the paging object).
    pub body: Vec<u8>,
    pub offset: u64,
    pub limit: u64,
    pub total: Option<u64>,
    /// Entries in this page's `items`.
    pub items: usize,
}

/// Walks an offset-paged list one page per [`Pager::next_page`] call.
#[derive(Debug)]
pub struct Pager<'c> {
    client: &'c SpotifyClient,
    endpoint: String,
    limits: PageLimits,
    /// Where the paging object sits in the body: search nests it (`{"tracks": {…}}`).
    key: Option<String>,
    /// The next request: path and query first, then each `next` URL.
    next: Option<(String, Vec<(String, String)>)>,
    stopped_at_offset_cap: bool,
}

impl<'c> Pager<'c> {
    /// A pager over `path` with `query`; refuses, before any request, a `limit` or `offset` above
    /// what `limits` allows.
    pub fn new(
        client: &'c SpotifyClient,
        path: &str,
        query: &[(&str, &str)],
        limits: PageLimits,
    ) -> Result<Self, SpotifyError> {
        let endpoint = normalize_endpoint(path);
        for (name, value) in query {
            let Ok(value) = value.parse::<u64>() else { continue };
            check(&endpoint, limits, name, value)?;
        }
        Ok(Pager {
            client,
            endpoint,
            limits,
            key: None,
            next: Some((
                path.to_string(),
                query
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )),
            stopped_at_offset_cap: false,
        })
    }

    /// The paging object is the body's field `key` (search: `tracks`, `albums`, …).
    pub fn nested(mut self, key: &str) -> Self {
        self.key = Some(key.to_string());
        self
    }

    /// Whether the walk ended because the next page would start beyond `max_offset`, so that the
    /// caller can report a truncated result instead of a complete one.
    pub fn stopped_at_offset_cap(&self) -> bool {
        self.stopped_at_offset_cap
    }

    /// The next page, or `None` once `next` is null (or lies beyond the offset cap).
    pub async fn next_page(&mut self) -> Result<Option<Page>, SpotifyError> {
        let Some((target, query)) = self.next.take() else {
            return Ok(None);
        };
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = self.client.get_bytes(&target, &query).await?;
        let invalid = |detail: &str| SpotifyError::InvalidResponse {
            endpoint: self.endpoint.clone(),
            detail: detail.to_string(),
        };
        let json: Value = serde_json::from_slice(&body).map_err(|e| invalid(&e.to_string()))?;
        let paging = match &self.key {
            Some(key) => json
                .get(key)
                .ok_or_else(|| invalid(&format!("no `{key}` paging object")))?,
            None => &json,
        };
        let number = |field: &str| paging.get(field).and_then(Value::as_u64);
        let limit = number("limit").ok_or_else(|| invalid("paging object without `limit`"))?;
        check(&self.endpoint, self.limits, "limit", limit)?;
        let page = Page {
            offset: number("offset").unwrap_or(0),
            limit,
            total: number("total"),
            items: paging.get("items").and_then(Value::as_array).map_or(0, Vec::len),
            body: Vec::new(),
        };
        match paging.get("next") {
            None | Some(Value::Null) => {}
            Some(Value::String(next)) => {
                let offset = Url::parse(next)
                    .ok()
                    .and_then(|url| {
                        url.query_pairs()
                            .find(|(k, _)| k == "offset")
                            .map(|(_, v)| v.into_owned())
                    })
                    .and_then(|offset| offset.parse::<u64>().ok())
                    .unwrap_or(page.offset + page.limit);
                if self.limits.max_offset.is_some_and(|max| offset > u64::from(max)) {
                    // Spotify refuses offsets past the cap: what lies beyond cannot be read.
                    self.stopped_at_offset_cap = true;
                } else {
                    self.next = Some((next.clone(), Vec::new()));
                }
            }
            Some(_) => return Err(invalid("`next` is neither a URL nor null")),
        }
        Ok(Some(Page { body, ..page }))
    }
}

fn check(endpoint: &str, limits: PageLimits, name: &str, value: u64) -> Result<(), SpotifyError> {
    match name {
        "limit" if value > u64::from(limits.max_limit) => Err(SpotifyError::PageLimitTooLarge {
            endpoint: endpoint.to_string(),
            limit: value,
            max: limits.max_limit,
        }),
        "offset" => match limits.max_offset {
            Some(max) if value > u64::from(max) => Err(SpotifyError::OffsetTooLarge {
                endpoint: endpoint.to_string(),
                offset: value,
                max,
            }),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}
