//! The journal on its own: what is appended comes back after the process is gone, a write cut
//! short is ignored, finished segments go, and one stream has one deliverer.

use local_firehose::journal::{tmp_dir, Journal};
use local_firehose::pipeline::Incoming;
use local_firehose::FirehoseError;

fn records(n: usize, tag: &str) -> Vec<Incoming> {
    (0..n)
        .map(|i| Incoming {
            seq: 0,
            id: format!("{tag}-{i}"),
            arrival_ms: 1_764_000_000_000 + i as i64,
            data: format!("{{\"n\":{i}}}\n").into_bytes(),
        })
        .collect()
}

fn segments(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir.join("journal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn appended_records_come_back_in_order_after_the_journal_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, recovered) = Journal::open(dir.path()).unwrap();
    assert!(recovered.is_empty());
    let mut first = records(3, "a");
    let mut second = records(2, "b");
    journal.append(&mut first).unwrap();
    journal.append(&mut second).unwrap();
    assert_eq!(
        first.iter().chain(&second).map(|r| r.seq).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4]
    );
    drop(journal); // as a killed process: nothing closed, nothing flushed

    let (journal, recovered) = Journal::open(dir.path()).unwrap();
    let ids: Vec<&str> = recovered.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["a-0", "a-1", "a-2", "b-0", "b-1"]);
    assert_eq!(recovered[4].data, b"{\"n\":1}\n");
    assert_eq!(recovered[2].arrival_ms, 1_764_000_000_002);
    // New records are numbered after the recovered ones.
    let mut third = records(1, "c");
    journal.append(&mut third).unwrap();
    assert_eq!(third[0].seq, 5);
}

#[test]
fn a_write_cut_short_is_ignored_and_what_came_before_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path()).unwrap();
    journal.append(&mut records(4, "a")).unwrap();
    drop(journal);
    let segment = segments(dir.path()).pop().unwrap();
    let whole = std::fs::read(&segment).unwrap();
    // Half of another entry: its frame says more bytes than follow.
    let mut cut = whole.clone();
    cut.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 9, 9]);
    std::fs::write(&segment, &cut).unwrap();
    let (_, recovered) = Journal::open(dir.path()).unwrap();
    assert_eq!(recovered.len(), 4);

    // A damaged last entry (a flipped byte) is not delivered as data.
    let mut damaged = whole;
    let last = damaged.len() - 2;
    damaged[last] ^= 0xff;
    std::fs::write(&segment, &damaged).unwrap();
    let (_, recovered) = Journal::open(dir.path()).unwrap();
    assert_eq!(recovered.len(), 3);
}

#[test]
fn a_sealed_segment_goes_once_each_record_is_backed_up_and_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path()).unwrap();
    let mut batch = records(3, "a");
    journal.append(&mut batch).unwrap();
    let seqs: Vec<u64> = batch.iter().map(|r| r.seq).collect();
    journal.seal();
    journal.done(seqs.iter().copied()); // the raw backup
    assert_eq!(segments(dir.path()).len(), 1, "delivery still pending");
    journal.done(seqs[..2].iter().copied());
    assert_eq!(segments(dir.path()).len(), 1, "one record still pending");
    journal.done([seqs[2]]);
    assert!(segments(dir.path()).is_empty());
    assert_eq!(journal.unfinished_segments(), 0);
    drop(journal);
    let (_, recovered) = Journal::open(dir.path()).unwrap();
    assert!(recovered.is_empty());
}

#[test]
fn an_open_segment_stays_until_sealed_even_when_its_records_are_finished() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path()).unwrap();
    let mut batch = records(2, "a");
    journal.append(&mut batch).unwrap();
    let seqs: Vec<u64> = batch.iter().map(|r| r.seq).collect();
    journal.done(seqs.iter().chain(&seqs).copied());
    assert_eq!(segments(dir.path()).len(), 1);
    journal.seal();
    assert!(segments(dir.path()).is_empty());
}

#[test]
fn one_stream_has_one_deliverer_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path()).unwrap();
    match Journal::open(dir.path()) {
        Err(FirehoseError::Busy { path }) => assert_eq!(path, dir.path()),
        other => panic!("expected Busy, got {:?}", other.map(|_| ())),
    }
    journal.close();
    assert!(journal.append(&mut records(1, "late")).is_err(), "closed");
    let (_again, _) = Journal::open(dir.path()).unwrap();
}

#[test]
fn temporary_files_a_killed_process_left_are_removed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = tmp_dir(dir.path());
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("0b1d.tmp"), b"half an object").unwrap();
    let (_journal, _) = Journal::open(dir.path()).unwrap();
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[test]
fn an_open_segment_is_sealed_once_old_so_a_restart_replays_only_what_is_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(dir.path()).unwrap();
    let mut early = records(2, "early");
    journal.append(&mut early).unwrap();
    journal.seal_if_old();
    assert_eq!(segments(dir.path()).len(), 1, "too young to seal");
    std::thread::sleep(local_firehose::journal::SEGMENT_AGE);
    journal.seal_if_old();
    // Delivered after the seal: the segment goes.
    let seqs: Vec<u64> = early.iter().map(|r| r.seq).collect();
    journal.done(seqs.iter().chain(&seqs).copied());
    assert!(segments(dir.path()).is_empty());
    // Records still in flight are all a restart gets.
    let mut late = records(1, "late");
    journal.append(&mut late).unwrap();
    drop(journal);
    let (_, recovered) = Journal::open(dir.path()).unwrap();
    assert_eq!(
        recovered.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        ["late-0"]
    );
}
