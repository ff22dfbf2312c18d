//! The synthetic catalog: artists, albums (release dates of year, month or day precision), tracks
//! with ISRCs, and podcast episodes, all derived from the seed, and their JSON in the shapes
//! Spotify serves to a Development Mode app in 2026 (no `available_markets`, `linked_from`,
//! `label`, artist `followers`; `popularity` only when asked for;
//! docs/spotify-web-api.md#removed-and-renamed-fields).

use serde_json::{json, Value};

use crate::rng::{hash, rng, spotify_id, Kind};

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ven", "tor", "sel", "an", "ber", "do", "el", "fi", "gar", "hol", "is", "jun",
    "kel", "lun", "mar", "nor", "ost", "pa", "quin", "ros", "sa", "tal", "ul", "vin", "wen", "yo", "zel",
];

/// Names Spotify's catalog is full of: diacritics, other scripts, punctuation.
const NON_ASCII_WORDS: &[&str] = &[
    "Björk",
    "Sigur Rós",
    "Mañana",
    "Café",
    "Ñandú",
    "Łódź",
    "Ærø",
    "東京",
    "夜明け",
    "Ночь",
    "Straße",
    "Öga",
    "Crème",
    "İstanbul",
    "ñ",
    "Fútbol",
    "Čaj",
    "Ελπίδα",
    "München",
    "São Paulo",
];

const WORDS: &[&str] = &[
    "Night",
    "Light",
    "River",
    "Echo",
    "Golden",
    "Blue",
    "Summer",
    "Heart",
    "City",
    "Dream",
    "Fire",
    "Ocean",
    "Silver",
    "Midnight",
    "Wild",
    "Paper",
    "Electric",
    "Quiet",
    "Morning",
    "Stone",
    "Glass",
    "Shadow",
    "Velvet",
    "Satellite",
    "Garden",
    "Highway",
    "Neon",
    "Winter",
    "Honey",
    "Thunder",
];

pub const GENRES: &[&str] = &[
    "indie pop",
    "jazz",
    "techno",
    "hip hop",
    "folk",
    "rock",
    "classical",
    "soul",
    "ambient",
    "metal",
    "reggaeton",
    "k-pop",
    "house",
    "blues",
    "country",
];

const ISRC_COUNTRIES: &[&str] = &["US", "GB", "SE", "DE", "FR", "JP", "BR", "NL", "KR", "ES"];

/// An album cover: three sizes, or one image whose size Spotify does not know (null width and
/// height, docs/spotify-web-api.md#edge-cases-in-real-data).
#[derive(Debug, Clone)]
pub struct Cover {
    pub hash: u64,
    pub null_sizes: bool,
}

#[derive(Debug, Clone)]
pub struct Artist {
    pub id: String,
    pub name: String,
    pub genre: &'static str,
}

#[derive(Debug, Clone)]
pub struct Album {
    pub id: String,
    pub name: String,
    pub album_type: &'static str,
    pub artists: Vec<u32>,
    pub release_date: String,
    pub precision: &'static str,
    pub year: i32,
    pub total_tracks: u32,
    pub cover: Cover,
}

#[derive(Debug, Clone)]
pub struct Track {
    pub id: String,
    pub name: String,
    pub album: u32,
    pub artists: Vec<u32>,
    pub duration_ms: u32,
    pub explicit: bool,
    pub track_number: u32,
    pub disc_number: u32,
    pub isrc: String,
    pub popularity: u32,
}

#[derive(Debug, Clone)]
pub struct Episode {
    pub id: String,
    pub name: String,
    pub show_id: String,
    pub show_name: String,
    pub publisher: String,
    pub duration_ms: u32,
    pub release_date: String,
    pub explicit: bool,
}

/// The whole catalog, generated once at start (tens of thousands of tracks take milliseconds).
#[derive(Debug)]
pub struct Catalog {
    pub artists: Vec<Artist>,
    pub albums: Vec<Album>,
    pub tracks: Vec<Track>,
    pub episodes: Vec<Episode>,
    pub include_popularity: bool,
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A made-up name of one to `max_words` words; about one in fourteen has a non-ASCII word.
fn name(rng: &mut fastrand::Rng, max_words: usize) -> String {
    let words = rng.usize(1..=max_words);
    let mut parts: Vec<String> = Vec::with_capacity(words);
    for _ in 0..words {
        if rng.u8(..) < 18 {
            parts.push(NON_ASCII_WORDS[rng.usize(..NON_ASCII_WORDS.len())].to_string());
        } else if rng.bool() {
            parts.push(WORDS[rng.usize(..WORDS.len())].to_string());
        } else {
            let syllables = rng.usize(2..=3);
            let word: String = (0..syllables)
                .map(|_| SYLLABLES[rng.usize(..SYLLABLES.len())])
                .collect();
            parts.push(title_case(&word));
        }
    }
    parts.join(" ")
}

impl Catalog {
    pub fn generate(seed: u64, artists: u32, tracks: u32, episodes: u32, include_popularity: bool) -> Self {
        let mut names = rng(seed, &[Kind::Names as u64]);
        let artists: Vec<Artist> = (0..artists)
            .map(|i| {
                let mut r = rng(seed, &[Kind::Artist as u64, u64::from(i)]);
                let mut artist_name = name(&mut r, 2);
                if names.u8(..) < 10 {
                    artist_name = format!("The {artist_name}s");
                }
                Artist {
                    id: spotify_id(seed, Kind::Artist, u64::from(i)),
                    name: artist_name,
                    genre: GENRES[r.usize(..GENRES.len())],
                }
            })
            .collect();
        let n_artists = artists.len() as u32;
        let mut albums = Vec::new();
        let mut track_list = Vec::with_capacity(tracks as usize);
        while (track_list.len() as u32) < tracks {
            let a = albums.len() as u64;
            let mut r = rng(seed, &[Kind::Album as u64, a]);
            let kind = r.u8(..100);
            let (album_type, size) = match kind {
                0..=29 => ("single", r.u32(1..=3)),
                30..=39 => ("compilation", r.u32(8..=18)),
                _ => ("album", r.u32(6..=14)),
            };
            let size = size.min(tracks - track_list.len() as u32);
            let primary = r.u32(..n_artists);
            let mut album_artists = vec![primary];
            if r.u8(..100) < 8 {
                album_artists.push(r.u32(..n_artists));
                album_artists.dedup();
            }
            // Skewed towards recent years, as a listener's library is.
            let year = 2026 - (r.f64().powi(2) * 66.0) as i32;
            let month = r.u32(1..=12);
            let day = r.u32(1..=28);
            let precision_roll = r.u8(..100);
            // Older releases more often carry only a year.
            let (release_date, precision) = if precision_roll < 6 {
                (format!("{year:04}-{month:02}"), "month")
            } else if precision_roll < 6 + if year < 1990 { 45 } else { 10 } {
                (format!("{year:04}"), "year")
            } else {
                (format!("{year:04}-{month:02}-{day:02}"), "day")
            };
            let explicit_album = r.u8(..100) < 15;
            let album_index = albums.len() as u32;
            albums.push(Album {
                id: spotify_id(seed, Kind::Album, a),
                name: name(&mut r, 3),
                album_type,
                artists: album_artists.clone(),
                release_date,
                precision,
                year,
                total_tracks: size,
                cover: Cover {
                    hash: hash(seed, &[Kind::Album as u64, a, 1]),
                    null_sizes: r.u8(..100) < 4,
                },
            });
            let country = ISRC_COUNTRIES[r.usize(..ISRC_COUNTRIES.len())];
            let registrant: String = (0..3).map(|_| r.uppercase()).collect();
            for n in 0..size {
                let t = track_list.len() as u64;
                let mut tr = rng(seed, &[Kind::Track as u64, t]);
                let mut track_artists = album_artists.clone();
                if tr.u8(..100) < 12 {
                    let featured = tr.u32(..n_artists);
                    if !track_artists.contains(&featured) {
                        track_artists.push(featured);
                    }
                }
                let discs = if size > 14 { 2 } else { 1 };
                let per_disc = size.div_ceil(discs);
                track_list.push(Track {
                    id: spotify_id(seed, Kind::Track, t),
                    name: name(&mut tr, 4),
                    album: album_index,
                    artists: track_artists,
                    duration_ms: tr.u32(95_000..=420_000),
                    explicit: explicit_album && tr.bool(),
                    track_number: n % per_disc + 1,
                    disc_number: n / per_disc + 1,
                    isrc: format!(
                        "{country}{registrant}{:02}{:05}",
                        year.rem_euclid(100),
                        t % 100_000
                    ),
                    popularity: (tr.f64().powi(3) * 100.0) as u32,
                });
            }
        }
        let episodes = (0..episodes)
            .map(|e| {
                let e = u64::from(e);
                let mut r = rng(seed, &[Kind::Episode as u64, e]);
                let show = e % 6;
                let mut sr = rng(seed, &[Kind::Show as u64, show]);
                Episode {
                    id: spotify_id(seed, Kind::Episode, e),
                    name: format!("Episode {}: {}", e + 1, name(&mut r, 4)),
                    show_id: spotify_id(seed, Kind::Show, show),
                    show_name: format!("The {} Podcast", name(&mut sr, 2)),
                    publisher: name(&mut sr, 2),
                    duration_ms: r.u32(900_000..=5_400_000),
                    release_date: format!(
                        "20{:02}-{:02}-{:02}",
                        r.u32(18..=26),
                        r.u32(1..=12),
                        r.u32(1..=28)
                    ),
                    explicit: r.u8(..100) < 10,
                }
            })
            .collect();
        Catalog {
            artists,
            albums,
            tracks: track_list,
            episodes,
            include_popularity,
        }
    }

    fn artist_json(&self, index: u32, base: &str) -> Value {
        let artist = &self.artists[index as usize];
        json!({
            "external_urls": {"spotify": format!("https://open.spotify.com/artist/{}", artist.id)},
            "href": format!("{base}/artists/{}", artist.id),
            "id": artist.id,
            "name": artist.name,
            "type": "artist",
            "uri": format!("spotify:artist:{}", artist.id),
        })
    }

    fn album_json(&self, index: u32, base: &str) -> Value {
        let album = &self.albums[index as usize];
        let mut object = json!({
            "album_type": album.album_type,
            "artists": album.artists.iter().map(|a| self.artist_json(*a, base)).collect::<Vec<_>>(),
            "external_urls": {"spotify": format!("https://open.spotify.com/album/{}", album.id)},
            "href": format!("{base}/albums/{}", album.id),
            "id": album.id,
            "images": cover_images(&album.cover),
            "is_playable": true,
            "name": album.name,
            "release_date": album.release_date,
            "release_date_precision": album.precision,
            "total_tracks": album.total_tracks,
            "type": "album",
            "uri": format!("spotify:album:{}", album.id),
        });
        if self.include_popularity {
            object["popularity"] = json!(hash(album.cover.hash, &[]) % 101);
        }
        object
    }

    /// The full track object, as in playlists, saved tracks, plays, top lists and search.
    pub fn track_json(&self, index: u32, base: &str) -> Value {
        let track = &self.tracks[index as usize];
        let mut object = json!({
            "album": self.album_json(track.album, base),
            "artists": track.artists.iter().map(|a| self.artist_json(*a, base)).collect::<Vec<_>>(),
            "disc_number": track.disc_number,
            "duration_ms": track.duration_ms,
            "explicit": track.explicit,
            "external_ids": {"isrc": track.isrc},
            "external_urls": {"spotify": format!("https://open.spotify.com/track/{}", track.id)},
            "href": format!("{base}/tracks/{}", track.id),
            "id": track.id,
            "is_local": false,
            "is_playable": true,
            "name": track.name,
            "preview_url": null,
            "track_number": track.track_number,
            "type": "track",
            "uri": format!("spotify:track:{}", track.id),
        });
        if self.include_popularity {
            object["popularity"] = json!(track.popularity);
        }
        object
    }

    pub fn track_uri(&self, index: u32) -> String {
        format!("spotify:track:{}", self.tracks[index as usize].id)
    }

    /// A podcast episode object, as it appears in a playlist (`type: "episode"`).
    pub fn episode_json(&self, index: u32, base: &str) -> Value {
        let episode = &self.episodes[index as usize];
        let description = format!("{} talks about {}.", episode.show_name, episode.name);
        json!({
            "audio_preview_url": null,
            "description": description,
            "html_description": format!("<p>{description}</p>"),
            "duration_ms": episode.duration_ms,
            "explicit": episode.explicit,
            "external_urls": {"spotify": format!("https://open.spotify.com/episode/{}", episode.id)},
            "href": format!("{base}/episodes/{}", episode.id),
            "id": episode.id,
            "images": cover_images(&Cover { hash: hash(index.into(), &[5]), null_sizes: false }),
            "is_externally_hosted": false,
            "is_playable": true,
            "languages": ["en"],
            "name": episode.name,
            "release_date": episode.release_date,
            "release_date_precision": "day",
            "type": "episode",
            "uri": format!("spotify:episode:{}", episode.id),
            "show": {
                "copyrights": [],
                "description": format!("{} by {}", episode.show_name, episode.publisher),
                "html_description": format!("<p>{} by {}</p>", episode.show_name, episode.publisher),
                "explicit": false,
                "external_urls": {"spotify": format!("https://open.spotify.com/show/{}", episode.show_id)},
                "href": format!("{base}/shows/{}", episode.show_id),
                "id": episode.show_id,
                "images": cover_images(&Cover { hash: hash(index.into(), &[6]), null_sizes: false }),
                "is_externally_hosted": false,
                "languages": ["en"],
                "media_type": "audio",
                "name": episode.show_name,
                "publisher": episode.publisher,
                "total_episodes": 120,
                "type": "show",
                "uri": format!("spotify:show:{}", episode.show_id),
            },
        })
    }

    pub fn episode_uri(&self, index: u32) -> String {
        format!("spotify:episode:{}", self.episodes[index as usize].id)
    }
}

/// A local file as Spotify shows it in a playlist: `is_local: true`, no id, a `spotify:local:` URI
/// made of artist, album, title and seconds, and null for every catalog field.
pub fn local_track_json(seed: u64, n: u64, include_popularity: bool) -> (String, Value) {
    let mut r = rng(seed, &[Kind::PlaylistEntry as u64, n, 99]);
    let artist = name(&mut r, 2);
    let album = name(&mut r, 2);
    let title = name(&mut r, 3);
    let seconds = r.u32(120..=400);
    let uri = format!(
        "spotify:local:{}:{}:{}:{seconds}",
        local_part(&artist),
        local_part(&album),
        local_part(&title)
    );
    let mut object = json!({
        "album": {
            "album_type": null, "artists": [], "external_urls": {}, "href": null, "id": null,
            "images": [], "name": album, "release_date": null, "release_date_precision": null,
            "type": "album", "uri": null,
        },
        "artists": [{"external_urls": {}, "href": null, "id": null, "name": artist, "type": "artist", "uri": null}],
        "disc_number": 0,
        "duration_ms": seconds * 1000,
        "explicit": false,
        "external_ids": {},
        "external_urls": {},
        "href": null,
        "id": null,
        "is_local": true,
        "name": title,
        "preview_url": null,
        "track_number": 0,
        "type": "track",
        "uri": uri,
    });
    if include_popularity {
        // Spotify reports 0 for local files: no measurement (the transform makes it NULL).
        object["popularity"] = json!(0);
    }
    (uri, object)
}

/// A local-file URI part: Spotify URL-encodes it with `+` for spaces.
fn local_part(text: &str) -> String {
    crate::server::form_encode(text)
}

/// Album or episode art: 640, 300 and 64 px, or one image of unknown size.
pub fn cover_images(cover: &Cover) -> Value {
    let hex = format!("{:016x}{:08x}", cover.hash, cover.hash >> 32);
    if cover.null_sizes {
        return json!([{"url": format!("https://i.scdn.co/image/ab67616d0000b273{hex}"), "height": null, "width": null}]);
    }
    json!([
        {"url": format!("https://i.scdn.co/image/ab67616d0000b273{hex}"), "height": 640, "width": 640},
        {"url": format!("https://i.scdn.co/image/ab67616d00001e02{hex}"), "height": 300, "width": 300},
        {"url": format!("https://i.scdn.co/image/ab67616d00004851{hex}"), "height": 64, "width": 64},
    ])
}
