//! SQLite plumbing: two database files and a tiny connection pool.
//!
//! The catalog file holds metadata and the state of every job; the records file holds one physical table per
//! deployed table per branch. They are separate files because an import applies a whole table file in ONE
//! records transaction, which may run for seconds; with one file, that transaction would block every other
//! writer (new exports, new imports, status changes) for as long. WAL mode lets readers run beside it.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::error::{ApiError, ApiResult};

/// How long a connection waits for another writer before giving up.
const BUSY_TIMEOUT_MS: u32 = 300_000;
/// Idle connections kept per pool.
const MAX_IDLE: usize = 8;

/// A pool of connections to one SQLite file.
pub(crate) struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Pool {
    pub(crate) fn open(path: &Path) -> rusqlite::Result<Arc<Self>> {
        let pool = Arc::new(Pool {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        });
        let first = pool.connect()?;
        pool.idle.lock().expect("pool lock").push(first);
        Ok(pool)
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
             PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -16384;
             PRAGMA temp_store = FILE;"
        ))?;
        Ok(conn)
    }

    pub(crate) fn get(self: &Arc<Self>) -> rusqlite::Result<Pooled> {
        let reused = self.idle.lock().expect("pool lock").pop();
        let conn = match reused {
            Some(conn) => conn,
            None => self.connect()?,
        };
        Ok(Pooled {
            conn: Some(conn),
            pool: self.clone(),
        })
    }
}

/// A connection borrowed from a [`Pool`]; it goes back when dropped.
pub(crate) struct Pooled {
    conn: Option<Connection>,
    pool: Arc<Pool>,
}

impl Deref for Pooled {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("connection present until drop")
    }
}

impl DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("connection present until drop")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // A connection left inside a transaction (a panic mid-job) must not be reused.
            if conn.is_autocommit() {
                let mut idle = self.pool.idle.lock().expect("pool lock");
                if idle.len() < MAX_IDLE {
                    idle.push(conn);
                }
            }
        }
    }
}

/// Both databases of one emulator.
#[derive(Clone)]
pub(crate) struct Db {
    catalog: Arc<Pool>,
    records: Arc<Pool>,
}

impl Db {
    /// Opens (creating if needed) the catalog at `path` and the records file beside it.
    pub(crate) fn open(path: &Path) -> rusqlite::Result<Self> {
        let catalog = Pool::open(path)?;
        let records = Pool::open(&records_path(path))?;
        crate::store::create_schema(&*catalog.get()?)?;
        crate::records::create_schema(&*records.get()?)?;
        Ok(Db { catalog, records })
    }

    /// Runs `f` on a catalog connection on the blocking pool.
    pub(crate) async fn catalog<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut Connection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.catalog.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(ApiError::from)?;
            f(&mut conn)
        })
        .await?
    }

    /// Runs `f` inside one IMMEDIATE catalog transaction, so a state check and the transition it guards are one
    /// step: no other writer (a request, a job) can change the state in between. Commits when `f` returns `Ok`;
    /// an `Err` rolls everything back.
    pub(crate) async fn catalog_tx<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&Connection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.catalog(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let out = f(&tx)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }

    /// Runs `f` on a records connection on the blocking pool.
    pub(crate) async fn records<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut Connection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.records.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(ApiError::from)?;
            f(&mut conn)
        })
        .await?
    }

    /// A catalog connection for synchronous start-up work.
    pub(crate) fn catalog_now(&self) -> rusqlite::Result<Pooled> {
        self.catalog.get()
    }

    /// A records connection for synchronous start-up work.
    pub(crate) fn records_now(&self) -> rusqlite::Result<Pooled> {
        self.records.get()
    }
}

/// Where the records file of the catalog at `catalog` lives.
pub(crate) fn records_path(catalog: &Path) -> PathBuf {
    let mut name = catalog.as_os_str().to_owned();
    name.push(".records");
    PathBuf::from(name)
}

/// Where uploaded and exported files of the catalog at `catalog` live.
pub(crate) fn blobs_dir(catalog: &Path) -> PathBuf {
    let mut name = catalog.as_os_str().to_owned();
    name.push(".blobs");
    PathBuf::from(name)
}

/// Quotes an SQL identifier.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
