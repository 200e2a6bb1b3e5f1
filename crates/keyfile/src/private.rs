//! Files and directories readable by their owner alone: databases (0600) and the data
//! directories that hold them (0700), created so before anything is written to them.
//!
//! SQLite gives a database's `-wal` and `-shm` files the mode of the database file itself, so
//! creating the database file 0600 before SQLite opens it keeps all three private.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// The mode of a private directory.
pub const DIR_MODE: u32 = 0o700;
/// The mode of a private file.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and every missing parent with mode 0700 (an existing directory is left as it
/// is: its owner chose its mode).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Prepares the database file `path` before SQLite opens it: creates it empty with mode 0600
/// if it does not exist, and takes group and other permissions away from an existing one (a
/// database made by an older version) where this process may (it is not refused for a file of
/// another owner or on a read-only file system: someone may verify a log they cannot change).
/// Its directory must exist.
pub fn prepare_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let mode = fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                // Best effort: see above.
                let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o700));
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn directories_and_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/c");
        create_dir_all(&dir).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&tmp.path().join(d)), 0o700, "{d}");
        }
        let db = dir.join("x.db");
        prepare_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        fs::write(&db, b"kept").unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
        prepare_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600, "an existing database is made private");
        assert_eq!(fs::read(&db).unwrap(), b"kept", "and kept");
    }
}
