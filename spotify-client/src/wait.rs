//! Waiting between attempts, behind a trait so that tests can record the waits the client asks for
//! instead of sitting through them (and local runs could scale them).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Sleeps for a requested time. The client calls it for every wait before a retry.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// Real waits on the tokio timer: the production sleeper.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(wait))
    }
}
