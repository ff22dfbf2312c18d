//! Nothing lost: records acknowledged by the local Firehose survive `kill -9` of either process
//! (`kill`), and a soak of faults, kills and runs faster than the buffer interval loses nothing
//! (`soak`). Every test runs the real `tracklake` binary.

mod kill;
mod soak;
mod support;
