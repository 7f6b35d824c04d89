//! An emulator inside the test process, on a free loopback port, its database in a directory of its own.

use trdm_emulator::{Emulator, EmulatorConfig};

use crate::fixture;

/// A running in-process emulator serving the Clinics fixture; stops when dropped, and its directory goes.
pub struct TestEmulator {
    /// The server.
    pub emulator: Emulator,
    /// Its directory: the database is `emulator.db` (records in `emulator.db.records`, files under
    /// `emulator.db.blobs`).
    pub dir: tempfile::TempDir,
}

impl TestEmulator {
    /// The Clinics fixture, default settings.
    pub async fn start() -> TestEmulator {
        TestEmulator::start_with(|_| {}).await
    }

    /// The Clinics fixture with the configuration changed by `configure` (faults, delays, token lifetime…).
    pub async fn start_with(configure: impl FnOnce(&mut EmulatorConfig)) -> TestEmulator {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = EmulatorConfig {
            db_path: Some(dir.path().join("emulator.db")),
            fixture: Some(fixture::clinics()),
            ..EmulatorConfig::default()
        };
        configure(&mut config);
        TestEmulator::start_in(dir, config).await
    }

    /// `config` as it is, in `dir` (kept for as long as the emulator).
    pub async fn start_in(dir: tempfile::TempDir, config: EmulatorConfig) -> TestEmulator {
        let emulator = Emulator::start(config, "127.0.0.1:0".parse().expect("an address"))
            .await
            .expect("the emulator starts");
        TestEmulator { emulator, dir }
    }

    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        self.emulator.url()
    }
}
