//! The stop request: Ctrl-C (SIGINT) from a terminal, or SIGTERM from `kill`, a service manager or
//! a container runtime. Both stop tracklake the same way, letting the work in flight finish, so a
//! polite stop never loses what a run has pulled or the local Firehose has accepted.

/// Completes on the next SIGINT or SIGTERM (on Unix; Ctrl-C elsewhere).
pub async fn stop_requested() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            // No SIGTERM handler could be installed: Ctrl-C still works.
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
