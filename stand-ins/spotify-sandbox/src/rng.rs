//! Deterministic randomness: every generated value is a pure function of the seed and a few
//! integers (what it is, which one, when), so data can be generated lazily, in any order, and is
//! the same in every process.

/// SplitMix64's finalizer: a fast, well-mixed 64-bit hash step.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of the seed and a list of integers.
pub fn hash(seed: u64, parts: &[u64]) -> u64 {
    let mut h = mix(seed);
    for part in parts {
        h = mix(h ^ part.wrapping_mul(0xff51_afd7_ed55_8ccd));
    }
    h
}

/// A hash of a string, for keys such as a search query.
pub fn hash_str(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A seeded generator for one item (`fastrand`, seeded from [`hash`]).
pub fn rng(seed: u64, parts: &[u64]) -> fastrand::Rng {
    fastrand::Rng::with_seed(hash(seed, parts))
}

/// Kinds of generated things, so that the hashes of different kinds never collide.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub enum Kind {
    Artist = 1,
    Album = 2,
    Track = 3,
    Show = 4,
    Episode = 5,
    Playlist = 6,
    PlaylistEntry = 7,
    PlayHour = 8,
    SaveDay = 9,
    User = 10,
    Token = 11,
    Snapshot = 13,
    Names = 14,
    ExportHour = 15,
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A 22-character base-62 Spotify id for item `index` of `kind`.
pub fn spotify_id(seed: u64, kind: Kind, index: u64) -> String {
    let mut a = hash(seed, &[kind as u64, index]);
    let mut b = mix(a ^ 0x5bd1_e995);
    let mut id = String::with_capacity(22);
    for i in 0..22 {
        let word = if i < 11 { &mut a } else { &mut b };
        id.push(BASE62[(*word % 62) as usize] as char);
        *word /= 62;
    }
    id
}

/// A Poisson-distributed count with mean `lambda` (Knuth for small means, a rounded normal
/// approximation for large ones: exactness does not matter, determinism does).
pub fn poisson(rng: &mut fastrand::Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    if lambda < 30.0 {
        let limit = (-lambda).exp();
        let mut k = 0u32;
        let mut p = 1.0;
        loop {
            p *= rng.f64();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
    // Box-Muller.
    let u1 = rng.f64().max(f64::MIN_POSITIVE);
    let u2 = rng.f64();
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (lambda + z * lambda.sqrt()).round().max(0.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_base62_characters_and_stable() {
        let id = spotify_id(7, Kind::Track, 3);
        assert_eq!(id.len(), 22);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(id, spotify_id(7, Kind::Track, 3));
        assert_ne!(id, spotify_id(7, Kind::Track, 4));
        assert_ne!(id, spotify_id(8, Kind::Track, 3));
    }

    #[test]
    fn poisson_mean_is_close() {
        let mut rng = fastrand::Rng::with_seed(1);
        for lambda in [0.5, 4.0, 120.0] {
            let n = 4000;
            let sum: u64 = (0..n).map(|_| u64::from(poisson(&mut rng, lambda))).sum();
            let mean = sum as f64 / n as f64;
            assert!((mean - lambda).abs() < lambda * 0.1 + 0.1, "{lambda}: {mean}");
        }
    }
}
