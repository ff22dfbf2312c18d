//! `tracklake import`'s progress on the terminal: one line on stderr, redrawn in place, only when
//! stderr is a terminal (in tests, pipes and logs there is nothing of it).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use history_import::Progress;

/// The shortest time between two redraws: four a second read as live without the line flickering
/// or the drawing costing anything against the import.
pub const REDRAW_EVERY: Duration = Duration::from_millis(250);

/// The progress line, or nothing when its output is not a terminal.
pub struct ProgressLine {
    out: Option<Box<dyn Write>>,
    started: Instant,
    drawn: Option<Instant>,
}

impl ProgressLine {
    /// On stderr if it is a terminal, else quiet.
    pub fn stderr() -> Self {
        let err = std::io::stderr();
        let out: Option<Box<dyn Write>> = err.is_terminal().then(|| Box::new(err) as Box<dyn Write>);
        Self::new(out)
    }

    /// On `out`, or quiet with `None`.
    pub fn new(out: Option<Box<dyn Write>>) -> Self {
        Self {
            out,
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Redraws the line with `at`, unless it was drawn less than [`REDRAW_EVERY`] ago (the last
    /// state of a finished file is always drawn).
    pub fn update(&mut self, at: Progress) {
        let Some(out) = &mut self.out else { return };
        let now = Instant::now();
        let finished = at.files_done == at.files_total;
        if !finished && self.drawn.is_some_and(|t| now - t < REDRAW_EVERY) {
            return;
        }
        self.drawn = Some(now);
        // Carriage return, the line, and erase to the end of the line (ANSI `EL`), so a shorter
        // line leaves nothing of the longer one before it.
        let _ = write!(out, "\r{}\x1b[K", render(&at, now - self.started));
        let _ = out.flush();
    }

    /// Erases the line, so what the command prints next starts on a clean line.
    pub fn finish(&mut self) {
        if let Some(out) = &mut self.out {
            if self.drawn.is_some() {
                let _ = write!(out, "\r\x1b[K");
                let _ = out.flush();
            }
        }
    }
}

/// The line: files done of all, plays so far, plays per second and the time left. The time left
/// is the time so far scaled by the bytes of the files still to import against those imported;
/// none before the first file is in the lake.
pub fn render(at: &Progress, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let mut line = format!(
        "importing: {}/{} files, {} plays",
        at.files_done, at.files_total, at.plays
    );
    if secs >= 0.001 {
        line.push_str(&format!(", {:.0} plays/s", at.plays as f64 / secs));
    }
    if at.bytes_done > 0 && at.bytes_total >= at.bytes_done && secs >= 0.001 {
        let left = secs * (at.bytes_total - at.bytes_done) as f64 / at.bytes_done as f64;
        line.push_str(&format!(
            ", about {} left",
            remaining(Duration::from_secs_f64(left))
        ));
    }
    line
}

/// A time left as a person reads it: seconds up to two minutes, then minutes.
fn remaining(left: Duration) -> String {
    let secs = left.as_secs();
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn at(files_done: usize, plays: usize, bytes_done: u64) -> Progress {
        Progress {
            files_done,
            files_total: 4,
            plays,
            bytes_done,
            bytes_total: 400,
        }
    }

    #[test]
    fn the_line_shows_files_plays_rate_and_time_left() {
        assert_eq!(
            render(&at(1, 20_000, 100), Duration::from_secs(2)),
            "importing: 1/4 files, 20000 plays, 10000 plays/s, about 6 s left"
        );
        assert_eq!(
            render(&at(1, 20_000, 100), Duration::from_secs(100)),
            "importing: 1/4 files, 20000 plays, 200 plays/s, about 5 min left"
        );
        assert_eq!(
            render(&at(0, 0, 0), Duration::ZERO),
            "importing: 0/4 files, 0 plays",
            "no rate nor estimate before anything is read"
        );
    }

    /// A writer the test can look into.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_line_is_redrawn_in_place_at_most_four_times_a_second_and_erased_at_the_end() {
        let out = Shared::default();
        let mut line = ProgressLine::new(Some(Box::new(out.clone())));
        line.update(at(0, 1000, 10));
        line.update(at(0, 2000, 20)); // within REDRAW_EVERY: not drawn
        line.update(at(4, 9000, 400)); // finished: always drawn
        line.finish();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let draws: Vec<&str> = text.split('\r').filter(|s| !s.is_empty()).collect();
        assert_eq!(draws.len(), 3, "{text:?}");
        assert!(
            draws[0].starts_with("importing: 0/4 files, 1000 plays"),
            "{text:?}"
        );
        assert!(
            draws[1].starts_with("importing: 4/4 files, 9000 plays"),
            "{text:?}"
        );
        assert_eq!(draws[2], "\x1b[K", "the line is erased");
        assert!(!text.contains('\n'), "one line, redrawn in place");
    }

    #[test]
    fn quiet_when_not_a_terminal() {
        assert_eq!(
            ProgressLine::stderr().out.is_some(),
            std::io::stderr().is_terminal(),
            "drawn on stderr exactly when it is a terminal"
        );
        let mut line = ProgressLine::new(None);
        line.update(at(0, 1000, 10));
        line.update(at(4, 9000, 400));
        line.finish();
        assert!(line.drawn.is_none(), "nothing drawn");
    }
}
