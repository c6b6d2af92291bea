//! Alerts in the server: the rules of `ptrack.toml` evaluated on a timer and after runs are
//! posted, and a JSON notification POSTed to `[notify] webhook` when a rule starts or stops
//! firing.
//!
//! The evaluator and the sender are tasks of their own: a post only wakes the evaluator, and the
//! sender retries a failed delivery with exponential backoff, so neither a slow evaluation nor
//! a webhook that is down ever holds up ingestion. A rule's state starts as not firing, so a
//! rule that fires when the server starts is notified once.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;

use super::AppState;
use crate::alerts::{AlertState, AlertStatus};

/// Deliveries tried per notification before it is dropped.
pub const ATTEMPTS: u32 = 6;
/// The wait before the second attempt; each later wait doubles it.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The shortest time between two evaluations woken by posts.
const MIN_GAP: Duration = Duration::from_millis(500);

/// What the webhook receives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertNotification {
    /// `firing` when the rule started firing, `resolved` when it stopped.
    pub event: &'static str,
    /// The rule's name.
    pub rule: String,
    /// Its prompt.
    pub prompt: String,
    /// When it was evaluated.
    pub at: DateTime<Utc>,
    /// The rule as evaluated (the `alerts --json` model of one rule).
    pub alert: AlertStatus,
}

/// The background tasks; [`Background::abort`] stops them.
pub struct Background {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Stop every task.
    pub fn abort(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Start the evaluator and the sender.
pub fn spawn(state: AppState) -> Background {
    let (tx, rx) = mpsc::unbounded_channel();
    Background {
        tasks: vec![
            tokio::spawn(evaluate_loop(state, tx)),
            tokio::spawn(send_loop(rx)),
        ],
    }
}

/// What changed since the states in `firing`: a notification per rule that started or stopped
/// firing. `firing` is updated; rules no longer in `rules` are forgotten.
pub fn transitions(
    firing: &mut HashMap<String, bool>,
    rules: &[AlertStatus],
    at: DateTime<Utc>,
) -> Vec<AlertNotification> {
    let mut out = Vec::new();
    let mut now: HashMap<String, bool> = HashMap::with_capacity(rules.len());
    for s in rules {
        let fires = s.state == AlertState::Firing;
        let was = firing.get(&s.name).copied().unwrap_or(false);
        if fires != was {
            out.push(AlertNotification {
                event: if fires { "firing" } else { "resolved" },
                rule: s.name.clone(),
                prompt: s.prompt.clone(),
                at,
                alert: s.clone(),
            });
        }
        now.insert(s.name.clone(), fires);
    }
    *firing = now;
    out
}

async fn evaluate_loop(state: AppState, tx: mpsc::UnboundedSender<(String, AlertNotification)>) {
    let every = state.config().alert_interval;
    let mut firing: HashMap<String, bool> = HashMap::new();
    loop {
        let now = state.now();
        let evaluated = state
            .with_project(move |p| {
                let webhook = p.config().notify.webhook.clone();
                let report = p.evaluate_alerts(now).map_err(super::api::alerts_error)?;
                Ok((webhook, report))
            })
            .await;
        // A rule in error is reported by /api/alerts; the states stand until it is fixed.
        if let Ok((webhook, report)) = evaluated {
            for n in transitions(&mut firing, &report.rules, now) {
                if let Some(url) = &webhook {
                    // The sender lives as long as this task.
                    let _ = tx.send((url.clone(), n));
                }
            }
        }
        tokio::time::sleep(MIN_GAP).await;
        tokio::select! {
            () = state.posted() => {}
            () = tokio::time::sleep(every.saturating_sub(MIN_GAP)) => {}
        }
    }
}

async fn send_loop(mut rx: mpsc::UnboundedReceiver<(String, AlertNotification)>) {
    // One at a time, in order: a `resolved` never overtakes its `firing`.
    while let Some((url, n)) = rx.recv().await {
        let Ok(body) = serde_json::to_vec(&n) else {
            continue;
        };
        let mut wait = FIRST_BACKOFF;
        for attempt in 1..=ATTEMPTS {
            let (u, b) = (url.clone(), body.clone());
            let delivered = tokio::task::spawn_blocking(move || deliver(&u, &b))
                .await
                .unwrap_or(false);
            if delivered || attempt == ATTEMPTS {
                break;
            }
            tokio::time::sleep(wait).await;
            wait *= 2;
        }
    }
}

/// POST `body` to `url`; whether it answered 2xx.
fn deliver(url: &str, body: &[u8]) -> bool {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", concat!("ptrack/", env!("CARGO_PKG_VERSION")))
        .send(body)
        .is_ok_and(|r| r.status().is_success())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertMetric, AlertWindow, Op};

    fn status(name: &str, state: AlertState) -> AlertStatus {
        AlertStatus {
            name: name.into(),
            prompt: "p".into(),
            label: None,
            version: None,
            condition: "success_rate < 0.9".into(),
            metric: AlertMetric::SuccessRate,
            op: Op::Lt,
            threshold: 0.9,
            window: AlertWindow::Last { runs: 10 },
            window_text: "last 10".into(),
            min_runs: 1,
            runs: 10,
            value: Some(0.5),
            state,
            reason: None,
        }
    }

    #[test]
    fn only_changes_notify() {
        let at = Utc::now();
        let mut firing = HashMap::new();
        let events = |f: &mut HashMap<String, bool>, rules: &[AlertStatus]| {
            transitions(f, rules, at)
                .into_iter()
                .map(|n| format!("{} {}", n.rule, n.event))
                .collect::<Vec<_>>()
        };
        let first = [
            status("a", AlertState::Firing),
            status("b", AlertState::Ok),
            status("c", AlertState::NotEnoughData),
        ];
        assert_eq!(events(&mut firing, &first), ["a firing"]);
        assert!(events(&mut firing, &first).is_empty());
        let later = [
            status("a", AlertState::NotEnoughData),
            status("b", AlertState::Firing),
        ];
        assert_eq!(events(&mut firing, &later), ["a resolved", "b firing"]);
    }
}
