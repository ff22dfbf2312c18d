//! The stop request: Ctrl-C (SIGINT) from a terminal, or SIGTERM from `kill`, a service manager or
//! a container runtime. Both stop tracklake the same way, letting the work in flight finish, so a
//! polite stop never loses what a run has pulled or the local Firehose has accepted.

use std::future::Future;

/// Completes on the next SIGINT or SIGTERM (on Unix; Ctrl-C elsewhere). The handlers are installed
/// when this is called, not when the future is first awaited: call it before announcing that
/// the process is ready, so a signal sent right after the announcement is never the default kill.
pub fn stop_requested() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                // No handler could be installed for one of them: the other, or Ctrl-C, still works.
                (Ok(mut interrupt), Err(_)) => {
                    interrupt.recv().await;
                }
                (Err(_), Ok(mut terminate)) => {
                    terminate.recv().await;
                }
                (Err(_), Err(_)) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
