//! Records keyed by text, split by key hash into partition files on disk, so that work over every key of
//! a table of any size (the upload plan's join, the upload's duplicate-key check) holds one partition in
//! memory at a time.

use std::hash::{DefaultHasher, Hasher};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Records on disk, split by key hash into partitions: per partition its records in the order pushed,
/// each `row: u64, digest: u64, delete: u8, key length: u32, key`.
pub(crate) struct Spill {
    paths: Vec<PathBuf>,
    files: Vec<BufWriter<std::fs::File>>,
}

impl Spill {
    /// `partitions` empty files `{name}-{p}.bin` in `dir`.
    pub(crate) fn create(dir: &Path, name: &str, partitions: usize) -> Result<Spill> {
        let paths: Vec<PathBuf> = (0..partitions)
            .map(|p| dir.join(format!("{name}-{p}.bin")))
            .collect();
        let files = paths
            .iter()
            .map(|path| {
                Ok(BufWriter::with_capacity(
                    16 << 10,
                    std::fs::File::create(path)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Spill { paths, files })
    }

    /// Appends a record to the partition of `key`.
    pub(crate) fn push(&mut self, key: &str, row: u64, digest: u64, delete: bool) -> Result<()> {
        let mut h = DefaultHasher::new();
        h.write_u8(0xa5); // not the upload plan's digest
        h.write(key.as_bytes());
        let partition = (h.finish() % self.files.len() as u64) as usize;
        let file = &mut self.files[partition];
        file.write_all(&row.to_le_bytes())?;
        file.write_all(&digest.to_le_bytes())?;
        file.write_all(&[u8::from(delete)])?;
        file.write_all(&(key.len() as u32).to_le_bytes())?;
        file.write_all(key.as_bytes())?;
        Ok(())
    }

    /// Flushes every partition; their paths, in partition order.
    pub(crate) fn finish(self) -> Result<Vec<PathBuf>> {
        for mut file in self.files {
            file.flush()?;
        }
        Ok(self.paths)
    }
}

/// Calls `each(key, row, digest, delete)` for every record of a partition, in the order pushed.
pub(crate) fn read_partition(
    path: &Path,
    mut each: impl FnMut(String, u64, u64, bool),
) -> Result<()> {
    let mut file = std::io::BufReader::with_capacity(64 << 10, std::fs::File::open(path)?);
    let mut head = [0u8; 21];
    loop {
        match file.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        let word = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
        let len = u32::from_le_bytes(head[17..21].try_into().expect("4 bytes")) as usize;
        let mut key = vec![0u8; len];
        file.read_exact(&mut key)?;
        let key =
            String::from_utf8(key).map_err(|e| Error::Invalid(format!("spilled key: {e}")))?;
        each(key, word(0), word(8), head[16] != 0);
    }
}
