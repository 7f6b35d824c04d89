//! Throwaway warehouse roots, and byte snapshots of a tree: how tests prove that a failed or planned sync
//! changed nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A warehouse root in a temporary directory, removed on drop.
pub struct TempWarehouse {
    /// The directory.
    pub dir: tempfile::TempDir,
}

impl TempWarehouse {
    /// A new, empty root.
    pub fn new() -> TempWarehouse {
        TempWarehouse {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The root as text, for command lines.
    pub fn path(&self) -> &str {
        self.dir.path().to_str().expect("a UTF-8 temporary path")
    }

    /// Every file and directory under the root, with its bytes (see [`snapshot`]).
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        snapshot(self.root())
    }
}

impl Default for TempWarehouse {
    fn default() -> TempWarehouse {
        TempWarehouse::new()
    }
}

/// Every file under `root` with its bytes, and every directory with none, by path relative to `root`.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            let relative = path.strip_prefix(root).expect("under root").to_owned();
            if path.is_dir() {
                out.insert(relative, Vec::new());
                walk(&path, root, out);
            } else {
                out.insert(relative, std::fs::read(&path).expect("a readable file"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Copies a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy's directory");
    for entry in std::fs::read_dir(from).expect("a readable directory") {
        let entry = entry.expect("a directory entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy a file");
        }
    }
}

/// Warehouse locations in the object stores the test command started emulators for, one fresh prefix
/// per call under each: `TRDM_TEST_WAREHOUSES` holds their roots apart by spaces (`s3://…`, `az://…`),
/// and each cloud's usual environment variables point at the emulator (see `scripts/object-stores.sh`).
/// Empty when it is unset, which panics under `TRDM_REQUIRE_OBJECT_STORES` (the test command sets it, so a
/// store that did not start fails the run instead of skipping its tests).
pub fn object_store_warehouses(test: &str) -> Vec<String> {
    let roots = std::env::var("TRDM_TEST_WAREHOUSES").unwrap_or_default();
    assert!(
        !roots.trim().is_empty() || std::env::var_os("TRDM_REQUIRE_OBJECT_STORES").is_none(),
        "TRDM_REQUIRE_OBJECT_STORES is set but TRDM_TEST_WAREHOUSES names no object store"
    );
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    roots
        .split_whitespace()
        .map(|root| {
            format!(
                "{}/{test}-{}-{run}",
                root.trim_end_matches('/'),
                std::process::id()
            )
        })
        .collect()
}
