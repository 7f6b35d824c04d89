//! Waiting for server-side jobs: exports until `completed` / `failed`, imports until every table is terminal.

use std::time::Duration;

use tokio::time::Instant;

use crate::client::Client;
use crate::models::{Export, ExportStatus, ImportResults};
use crate::{Error, Result};

/// How to poll a job: the first wait is `poll_interval`, each next one `backoff` times longer up to
/// `max_interval`, and the whole wait ends at `max_wait` with [`Error::Timeout`]. The defaults match the
/// incumbent SDK's `wait_until_ready(poll_interval=2.0, max_wait=300.0)`, with a gentle backoff added.
#[derive(Debug, Clone)]
pub struct PollConfig {
    /// First wait between polls. Default 2 s.
    pub poll_interval: Duration,
    /// Longest wait between polls. Default 30 s.
    pub max_interval: Duration,
    /// Growth of the wait per poll. Default 1.5.
    pub backoff: f64,
    /// Deadline of the whole wait. Default 300 s.
    pub max_wait: Duration,
}

impl Default for PollConfig {
    fn default() -> Self {
        PollConfig {
            poll_interval: Duration::from_secs(2),
            max_interval: Duration::from_secs(30),
            backoff: 1.5,
            max_wait: Duration::from_secs(300),
        }
    }
}

impl PollConfig {
    /// Polls every `poll_interval` (no backoff) for at most `max_wait`.
    pub fn fixed(poll_interval: Duration, max_wait: Duration) -> Self {
        PollConfig {
            poll_interval,
            max_interval: poll_interval,
            backoff: 1.0,
            max_wait,
        }
    }

    /// Polls at most every `poll_interval` for at most `max_wait`, starting quicker: the first wait is
    /// [`FIRST_POLL`] (or `poll_interval` if that is shorter) and grows by [`RAMP`] up to `poll_interval`.
    /// A job that finishes in a few hundred milliseconds is then noticed at once instead of a whole interval
    /// later, and one that takes a second or two at most a third of its time late, for a handful of extra
    /// status calls (five in the first two seconds).
    pub fn ramped(poll_interval: Duration, max_wait: Duration) -> Self {
        PollConfig {
            poll_interval: poll_interval.min(FIRST_POLL),
            max_interval: poll_interval,
            backoff: RAMP,
            max_wait,
        }
    }
}

/// How much each wait of [`PollConfig::ramped`] grows: 0.25 s, 0.375 s, 0.56 s, 0.84 s, … A doubling ramp
/// noticed a 1 s export only at 1.75 s (checks at 0.25, 0.75, 1.75 s); this one checks at 1.19 s.
pub const RAMP: f64 = 1.5;

/// The first wait of [`PollConfig::ramped`].
pub const FIRST_POLL: Duration = Duration::from_millis(250);

/// Polls `check` until it yields `Some`, or the deadline passes. `check` returns the status text it saw.
async fn poll<T, F, Fut>(config: &PollConfig, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(Option<T>, String)>>,
{
    let started = Instant::now();
    // A wait too long for the clock to represent is no deadline at all.
    let deadline = started.checked_add(config.max_wait);
    let mut interval = config.poll_interval;
    loop {
        let (done, status) = check().await?;
        if let Some(done) = done {
            return Ok(done);
        }
        let now = Instant::now();
        if deadline.is_some_and(|deadline| now >= deadline) {
            return Err(Error::Timeout {
                what: what.to_owned(),
                last_status: status,
                waited: now - started,
            });
        }
        tracing::debug!(%status, wait_ms = interval.as_millis() as u64, "{what} still running");
        let left = deadline.map_or(Duration::MAX, |deadline| deadline - now);
        tokio::time::sleep(interval.min(left)).await;
        interval = next_wait(config, interval);
    }
}

impl PollConfig {
    /// The wait after `current`: `backoff` times longer, at most `max_interval` (or `poll_interval` if
    /// larger); waits too long for a [`Duration`] saturate.
    pub fn next_wait(&self, current: Duration) -> Duration {
        next_wait(self, current)
    }
}

fn next_wait(config: &PollConfig, current: Duration) -> Duration {
    let longer = Duration::try_from_secs_f64(current.as_secs_f64() * config.backoff.max(1.0))
        .unwrap_or(Duration::MAX);
    longer.min(config.max_interval.max(config.poll_interval))
}

/// The error of a failed export.
pub(crate) fn export_failed(export: &Export) -> Error {
    Error::JobFailed {
        what: format!("export {}", export.id),
        message: export
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "unknown error".into()),
    }
}

impl Client {
    /// Polls an export until it completes (returned, with its `download_url`), fails
    /// ([`Error::JobFailed`] with the server's message) or the deadline passes ([`Error::Timeout`] naming the
    /// last status).
    #[tracing::instrument(level = "debug", skip(self, config))]
    pub async fn wait_for_export(&self, id: i64, config: &PollConfig) -> Result<Export> {
        let what = format!("export {id}");
        poll(config, &what, || async {
            let export = self.export(id).await?;
            match export.status {
                ExportStatus::Completed => Ok((Some(export), String::new())),
                ExportStatus::Failed => Err(export_failed(&export)),
                ref other => Ok((None, other.to_string())),
            }
        })
        .await
    }

    /// Polls an import until it has settled ([`ImportResults::is_settled`]: the batch is terminal, or every
    /// table is), and returns the per-table results with their insert/update/delete counts. Failed tables are
    /// part of the result, not an error; [`Error::Timeout`] names the last batch status.
    #[tracing::instrument(level = "debug", skip(self, config))]
    pub async fn wait_for_import(&self, id: i64, config: &PollConfig) -> Result<ImportResults> {
        let what = format!("import {id}");
        poll(config, &what, || async {
            let results = self.import_results(id).await?;
            if results.is_settled() {
                Ok((Some(results), String::new()))
            } else {
                let pending = results
                    .tables
                    .iter()
                    .filter(|t| !t.status.is_terminal())
                    .count();
                Ok((
                    None,
                    format!(
                        "{} ({pending} table(s) not finished)",
                        results.import.status
                    ),
                ))
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waits `poll` sleeps, in order, for a job that never finishes within `n` polls.
    fn waits(config: &PollConfig, n: usize) -> Vec<Duration> {
        std::iter::successors(Some(config.poll_interval), |w| Some(next_wait(config, *w)))
            .take(n)
            .collect()
    }

    #[test]
    fn ramped_polls_start_quick_and_never_exceed_the_interval() {
        let ms = Duration::from_millis;
        let us = Duration::from_micros;
        let ramped = PollConfig::ramped(Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(
            waits(&ramped, 7),
            [
                us(250_000),
                us(375_000),
                us(562_500),
                us(843_750),
                us(1_265_625),
                Duration::from_nanos(1_898_437_500),
                ms(2000)
            ]
        );
        // An interval shorter than the first step is used as is, from the start.
        let short = PollConfig::ramped(ms(50), Duration::from_secs(60));
        assert_eq!(waits(&short, 3), [ms(50), ms(50), ms(50)]);
        let fixed = PollConfig::fixed(ms(300), Duration::from_secs(1));
        assert_eq!(waits(&fixed, 3), [ms(300), ms(300), ms(300)]);
    }

    #[tokio::test]
    async fn waits_too_long_for_the_clock_mean_no_deadline_instead_of_a_panic() {
        let forever = PollConfig::ramped(Duration::MAX, Duration::MAX);
        assert_eq!(forever.next_wait(Duration::MAX), Duration::MAX, "saturates");
        let ms = Duration::from_millis;
        assert_eq!(waits(&forever, 2), [ms(250), ms(375)]);
        let mut polls = 0;
        let done = poll(&forever, "export 1", || {
            polls += 1;
            let ready = polls == 1;
            async move { Ok((ready.then_some("ready"), "completed".to_owned())) }
        })
        .await
        .unwrap();
        assert_eq!((done, polls), ("ready", 1));
    }
}
