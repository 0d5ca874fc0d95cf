//! The `acceptedEpoch` and `currentEpoch` files of an ensemble member (`QuorumPeer`): the
//! epoch a member last agreed to follow or lead (discovery, ACKEPOCH) and the epoch whose
//! NEWLEADER it last acknowledged. ZAB's safety rests on them surviving crashes, so they are
//! written as ZooKeeper writes them (`AtomicFileWritingIdiom`): the decimal number, no newline,
//! into `<name>.tmp`, fsync, rename over the file, fsync of the directory. They live in the
//! snapshot directory (`<dataDir>/version-2`), so a data directory moves between Apache
//! ZooKeeper and Paddock with its epochs.

use std::io;
use std::path::{Path, PathBuf};

use crate::fs::Fs;

/// `QuorumPeer.CURRENT_EPOCH_FILENAME`.
pub const CURRENT_EPOCH: &str = "currentEpoch";
/// `QuorumPeer.ACCEPTED_EPOCH_FILENAME`.
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";

/// Both epochs of a member, as loaded at startup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub accepted: i64,
    pub current: i64,
}

/// Errors reading or writing an epoch file. Each stops the member from joining an ensemble:
/// guessing an epoch could let it acknowledge two leaders of the same epoch.
#[derive(Debug, thiserror::Error)]
pub enum EpochError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// ZooKeeper: "Found <line> in <file>".
    #[error("Found {text:?} in {path}")]
    NotANumber { path: PathBuf, text: String },
    #[error("The current epoch, {current:#x}, is older than the last zxid, {last_zxid:#x}")]
    CurrentOlderThanLog { current: i64, last_zxid: i64 },
    #[error("The accepted epoch, {accepted:#x} is less than the current epoch, {current:#x}")]
    AcceptedBelowCurrent { accepted: i64, current: i64 },
}

impl EpochError {
    /// The disk had no room for the file (ENOSPC).
    pub fn is_no_space(&self) -> bool {
        matches!(self, EpochError::Io { source, .. } if crate::fs::is_no_space(source))
    }
}

/// The epoch of a zxid (`ZxidUtils.getEpochFromZxid`).
pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

/// Reads `dir/name`; `None` when the file does not exist.
pub fn read_epoch(fs: &dyn Fs, dir: &Path, name: &str) -> Result<Option<i64>, EpochError> {
    let path = dir.join(name);
    let bytes = match fs.read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EpochError::Io {
                op: "read",
                path,
                source,
            })
        }
    };
    // `readLongFromFile` reads the first line and parses it with `Long.parseLong`.
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap_or("").to_owned();
    match line.parse::<i64>() {
        Ok(value) => Ok(Some(value)),
        Err(_) => Err(EpochError::NotANumber { path, text: line }),
    }
}

/// Writes `value` to `dir/name` atomically and durably.
pub fn write_epoch(fs: &dyn Fs, dir: &Path, name: &str, value: i64) -> Result<(), EpochError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let io = |op, path: &Path| {
        let path = path.to_owned();
        move |source| EpochError::Io { op, path, source }
    };
    let mut file = fs.create(&tmp).map_err(io("create", &tmp))?;
    file.write_at(0, value.to_string().as_bytes())
        .map_err(io("write", &tmp))?;
    file.sync_data().map_err(io("fsync", &tmp))?;
    drop(file);
    fs.rename(&tmp, &path).map_err(io("rename", &tmp))?;
    fs.sync_dir(dir).map_err(io("fsync", dir))
}

/// `QuorumPeer.loadDataBase`'s epoch rules, given the last zxid the member's data holds: a
/// missing file is created from that zxid's epoch (an upgrade from a standalone data dir); a
/// current epoch behind the log is taken from `currentEpoch.tmp` if a crash left one between
/// write and rename, else refused; an accepted epoch below the current one is refused.
pub fn load_epochs(fs: &dyn Fs, dir: &Path, last_zxid: i64) -> Result<Epochs, EpochError> {
    let log_epoch = epoch_of(last_zxid);
    let mut current = match read_epoch(fs, dir, CURRENT_EPOCH)? {
        Some(value) => value,
        None => {
            write_epoch(fs, dir, CURRENT_EPOCH, log_epoch)?;
            log_epoch
        }
    };
    if log_epoch > current {
        let tmp_name = format!("{CURRENT_EPOCH}.tmp");
        match read_epoch(fs, dir, &tmp_name)? {
            Some(from_tmp) => {
                write_epoch(fs, dir, CURRENT_EPOCH, from_tmp)?;
                current = from_tmp;
            }
            None => {
                return Err(EpochError::CurrentOlderThanLog { current, last_zxid });
            }
        }
    }
    let accepted = match read_epoch(fs, dir, ACCEPTED_EPOCH)? {
        Some(value) => value,
        None => {
            write_epoch(fs, dir, ACCEPTED_EPOCH, log_epoch)?;
            log_epoch
        }
    };
    if accepted < current {
        return Err(EpochError::AcceptedBelowCurrent { accepted, current });
    }
    Ok(Epochs { accepted, current })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::{FaultFs, RealFs};

    fn dir() -> PathBuf {
        PathBuf::from("/data/version-2")
    }

    fn fault_fs() -> FaultFs {
        let fs = FaultFs::new(7);
        fs.create_dir_all(&dir()).unwrap();
        fs
    }

    // QuorumPeer.writeLongToFile writes Long.toString(value): no newline.
    #[test]
    fn an_epoch_is_written_as_bare_decimal_text_and_read_back() {
        let fs = fault_fs();
        write_epoch(&fs, &dir(), CURRENT_EPOCH, 42).unwrap();
        assert_eq!(fs.read(&dir().join(CURRENT_EPOCH)).unwrap(), b"42");
        assert_eq!(read_epoch(&fs, &dir(), CURRENT_EPOCH).unwrap(), Some(42));
        assert_eq!(read_epoch(&fs, &dir(), ACCEPTED_EPOCH).unwrap(), None);
        assert!(fs
            .list(&dir())
            .unwrap()
            .iter()
            .all(|n| !n.ends_with(".tmp")));
    }

    #[test]
    fn a_written_epoch_survives_a_crash() {
        let fs = fault_fs();
        write_epoch(&fs, &dir(), ACCEPTED_EPOCH, 5).unwrap();
        fs.crash(true);
        assert_eq!(read_epoch(&fs, &dir(), ACCEPTED_EPOCH).unwrap(), Some(5));
    }

    #[test]
    fn a_failed_fsync_is_an_error_and_leaves_the_old_value() {
        let fs = fault_fs();
        write_epoch(&fs, &dir(), CURRENT_EPOCH, 1).unwrap();
        fs.fail_next_fsyncs(1);
        assert!(matches!(
            write_epoch(&fs, &dir(), CURRENT_EPOCH, 2),
            Err(EpochError::Io { op: "fsync", .. })
        ));
        assert_eq!(read_epoch(&fs, &dir(), CURRENT_EPOCH).unwrap(), Some(1));
    }

    // QuorumPeer.loadDataBase: "Creating with a reasonable default".
    #[test]
    fn missing_files_start_from_the_epoch_of_the_last_zxid() {
        let fs = fault_fs();
        let epochs = load_epochs(&fs, &dir(), (3 << 32) | 17).unwrap();
        assert_eq!(
            epochs,
            Epochs {
                accepted: 3,
                current: 3
            }
        );
        assert_eq!(read_epoch(&fs, &dir(), CURRENT_EPOCH).unwrap(), Some(3));
        assert_eq!(read_epoch(&fs, &dir(), ACCEPTED_EPOCH).unwrap(), Some(3));
    }

    #[test]
    fn a_current_epoch_behind_the_log_is_taken_from_its_tmp_file_or_refused() {
        let fs = fault_fs();
        write_epoch(&fs, &dir(), CURRENT_EPOCH, 1).unwrap();
        write_epoch(&fs, &dir(), ACCEPTED_EPOCH, 2).unwrap();
        let last_zxid = 2 << 32;
        assert!(matches!(
            load_epochs(&fs, &dir(), last_zxid),
            Err(EpochError::CurrentOlderThanLog { current: 1, .. })
        ));
        // A crash between writing currentEpoch.tmp and the rename.
        let mut tmp = fs.create(&dir().join("currentEpoch.tmp")).unwrap();
        tmp.write_at(0, b"2").unwrap();
        tmp.sync_data().unwrap();
        drop(tmp);
        let epochs = load_epochs(&fs, &dir(), last_zxid).unwrap();
        assert_eq!(
            epochs,
            Epochs {
                accepted: 2,
                current: 2
            }
        );
    }

    #[test]
    fn an_accepted_epoch_below_the_current_one_is_refused() {
        let fs = fault_fs();
        write_epoch(&fs, &dir(), CURRENT_EPOCH, 4).unwrap();
        write_epoch(&fs, &dir(), ACCEPTED_EPOCH, 3).unwrap();
        assert!(matches!(
            load_epochs(&fs, &dir(), 0),
            Err(EpochError::AcceptedBelowCurrent {
                accepted: 3,
                current: 4
            })
        ));
    }

    #[test]
    fn garbage_in_an_epoch_file_is_refused_with_its_text() {
        let fs = fault_fs();
        let mut f = fs.create(&dir().join(CURRENT_EPOCH)).unwrap();
        f.write_at(0, b"twelve\n").unwrap();
        drop(f);
        let err = read_epoch(&fs, &dir(), CURRENT_EPOCH).unwrap_err();
        assert!(err.to_string().starts_with("Found \"twelve\" in "), "{err}");
    }

    // ZooKeeper's readLongFromFile reads a line; a file with a newline (written by hand or an
    // older tool) must read the same.
    #[test]
    fn a_trailing_newline_is_accepted_on_the_real_filesystem() {
        let tmp = std::env::temp_dir().join(format!("paddock-epoch-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join(ACCEPTED_EPOCH), "9\n").unwrap();
        assert_eq!(read_epoch(&RealFs, &tmp, ACCEPTED_EPOCH).unwrap(), Some(9));
        write_epoch(&RealFs, &tmp, CURRENT_EPOCH, 9).unwrap();
        assert_eq!(
            std::fs::read_to_string(tmp.join(CURRENT_EPOCH)).unwrap(),
            "9"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
