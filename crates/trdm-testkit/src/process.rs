//! `trdm emulator` as a child process, as users run it: for the CLI's tests and the benchmarks, which
//! measure the server apart from the client.

use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

/// `trdm emulator --fixture FIXTURE --db DB --listen 127.0.0.1:0` with stdout piped (its first line says
/// where it listens); add arguments, or set stderr, before [`EmulatorProcess::start`] or a spawn of your own.
pub fn emulator_command(trdm: &Path, fixture: &Path, db: &Path) -> Command {
    let mut command = Command::new(trdm);
    command
        .arg("emulator")
        .arg("--fixture")
        .arg(fixture)
        .arg("--db")
        .arg(db)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped());
    command
}

/// A running `trdm emulator` child process; killed on drop.
pub struct EmulatorProcess {
    /// The child (for signals and `wait`).
    pub child: Child,
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
}

impl EmulatorProcess {
    /// Spawns `command` (see [`emulator_command`]), waits for its `listening on URL` line, and drains the
    /// rest of its stdout in a thread so the server never writes into a closed pipe.
    pub fn start(mut command: Command) -> EmulatorProcess {
        let (child, mut lines) = spawn(&mut command);
        let url = loop {
            let line = lines
                .next()
                .expect("the emulator exited before it listened")
                .expect("the emulator's stdout");
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        EmulatorProcess { child, url }
    }

    /// Peak resident set size of the server process so far (or since [`reset_peak_rss`](Self::reset_peak_rss)),
    /// in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id())
    }

    /// Starts a new peak: see [`reset_peak_rss`].
    pub fn reset_peak_rss(&self) -> std::io::Result<()> {
        reset_peak_rss(self.child.id())
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `command` and returns the child with its stdout's lines, for a test that reads them itself.
pub fn spawn(command: &mut Command) -> (Child, Lines<BufReader<ChildStdout>>) {
    let mut child = command
        .spawn()
        .expect("start trdm emulator (is the binary built?)");
    let lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    (child, lines)
}

/// Peak resident set size (`VmHWM`) of a live process so far, in MiB; NaN once it has exited.
pub fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Resets a live process's peak resident set size to its current size (Linux `clear_refs` 5), so the next
/// [`peak_rss_mib`] covers only what runs from now on.
pub fn reset_peak_rss(pid: u32) -> std::io::Result<()> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5")
}
