//! Everything the CLI shows: results as text or JSON on stdout, errors and progress bars on stderr.
//! The library crates never print; this module is the one place that does.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use trdm_sync::plan::{ChangeKind, TablePlan};
use trdm_sync::{Phase, Reporter, TableResult, TableStatus};

/// Prints an error line on stderr.
pub(crate) fn error(message: &str) {
    eprintln!("error: {message}");
}

/// Writes a line on stdout, ignoring a closed pipe (`trdm … | head` must not panic).
pub(crate) fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// The JSON of one table result: [`TableResult`]'s own serialised shape (documented in the README).
pub(crate) fn result_json(r: &TableResult) -> Value {
    serde_json::to_value(r).unwrap_or(Value::Null)
}

/// The text table of results.
pub(crate) fn results_text(results: &[TableResult]) -> Vec<String> {
    let width = results.iter().map(|r| r.target.len()).max().unwrap_or(0);
    results
        .iter()
        .map(|r| {
            let counts = match (r.inserted, r.updated, r.deleted, &r.plan) {
                (Some(i), Some(u), Some(d), _) => format!("  (+{i} ~{u} -{d})"),
                (_, _, _, Some(p)) => format!(
                    "  (would be +{} ~{} -{}, {} unchanged, of {} current)",
                    p.inserted, p.updated, p.deleted, p.unchanged, p.current
                ),
                _ => String::new(),
            };
            let changes = r
                .plan
                .as_ref()
                .filter(|_| r.status == TableStatus::Planned)
                .map(|p| plan_lines(p, width))
                .unwrap_or_default();
            let note = r
                .note
                .as_ref()
                .map(|n| format!("\n  {:<width$}  note: {n}", ""))
                .unwrap_or_default();
            format!(
                "  {:<width$}  {:>8} rows  {:>6.2}s  {}{counts}{note}{changes}",
                r.target,
                r.rows,
                r.duration.as_secs_f64(),
                r.status.as_incumbent_str()
            )
        })
        .collect()
}

/// The first changes of a plan, one line each, e.g. `update site_code=0047: site_name "A" → "B"`.
fn plan_lines(plan: &TablePlan, width: usize) -> String {
    let shown = |v: &Option<String>| match v {
        Some(v) => format!("{v:?}"),
        None => "NULL".into(),
    };
    let mut out = String::new();
    for c in &plan.changes {
        let key: Vec<String> = c
            .key
            .iter()
            .map(|(k, v)| format!("{k}={}", shown(v)))
            .collect();
        let what = match c.change {
            ChangeKind::Insert => "insert",
            ChangeKind::Update => "update",
            ChangeKind::Delete => "delete",
        };
        let columns: Vec<String> = match c.change {
            ChangeKind::Update => c
                .columns
                .iter()
                .map(|col| format!("{} {} → {}", col.column, shown(&col.old), shown(&col.new)))
                .collect(),
            _ => Vec::new(),
        };
        let columns = if columns.is_empty() {
            String::new()
        } else {
            format!(": {}", columns.join(", "))
        };
        out.push_str(&format!(
            "\n  {:<width$}    {what} {}{columns}",
            "",
            key.join(" ")
        ));
    }
    let shown_count = plan.changes.len() as u64;
    let total = plan.inserted + plan.updated + plan.deleted;
    if total > shown_count {
        out.push_str(&format!(
            "\n  {:<width$}    … and {} more",
            "",
            total - shown_count
        ));
    }
    out
}

/// Progress bars on stderr, one per table, only when stderr is a terminal.
pub(crate) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// Bars, or `None` when they should not be drawn.
    pub(crate) fn new(disabled: bool) -> Option<Self> {
        if disabled || !std::io::stderr().is_terminal() {
            return None;
        }
        Some(Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        })
    }

    fn bar(&self, target: &str) -> ProgressBar {
        let mut bars = self.bars.lock().expect("bars");
        bars.entry(target.to_owned())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:40} {msg}").expect("template"),
                );
                bar.set_prefix(target.to_owned());
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                bar
            })
            .clone()
    }
}

impl Reporter for Bars {
    fn table_started(&self, target: &str) {
        self.bar(target).set_message("starting");
    }
    fn phase(&self, target: &str, phase: Phase) {
        let text = match phase {
            Phase::Exporting => "waiting for the export",
            Phase::Transferring => "transferring",
            Phase::Validating => "reading and validating",
            Phase::Importing => "waiting for the import",
        };
        self.bar(target).set_message(text);
    }
    fn progress(&self, target: &str, rows: u64) {
        self.bar(target).set_message(format!("{rows} rows"));
    }
    fn table_finished(&self, result: &TableResult) {
        self.bar(&result.target).finish_with_message(format!(
            "{} rows, {}",
            result.rows,
            result.status.as_incumbent_str()
        ));
    }
}
