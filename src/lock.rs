//! berth's locks: files in a root-only folder (`/run/berth`, mode 0700), held with
//! `flock` so the kernel drops them when their holder exits, however it exits.
//!
//! - `firewall.lock`: held while the reconciler reads, diffs and writes the rules.
//! - `alloc.lock`: held from reading which host ports are taken until the container
//!   that gets them exists (its label then holds them).
//! - `watch.lock`: held by the one `berth watch` of the host.
//!
//! No engine call happens under the firewall lock, and no code path takes one lock
//! while holding another of these, so berth cannot deadlock on them. Only root can open
//! the files, so no other user can stall berth by holding one; when berth has waited a
//! few seconds it says which process holds the lock.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long berth waits for a lock before it says who holds it.
const PATIENCE: Duration = Duration::from_secs(3);

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// Why a lock could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot take {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not berth's: {why}")]
    Unsafe { path: PathBuf, why: String },
}

/// Make sure `dir` exists, belongs to root (or to this user, when not root) and is
/// open to its owner only.
pub fn ensure_dir(dir: &Path) -> Result<(), LockError> {
    let io_err = |source| LockError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match fs::symlink_metadata(dir) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io_err)?;
        }
        Err(e) => return Err(io_err(e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(io_err)?;
    if !meta.is_dir() {
        return Err(LockError::Unsafe {
            path: dir.to_path_buf(),
            why: "not a directory".into(),
        });
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(LockError::Unsafe {
            path: dir.to_path_buf(),
            why: format!("owned by uid {}, not by uid {me}", meta.uid()),
        });
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err)?;
    }
    Ok(())
}

fn open(path: &Path) -> Result<File, LockError> {
    if let Some(dir) = path.parent() {
        ensure_dir(dir)?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| LockError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    // a lock file left by an older berth may be open to others
    let meta = file.metadata().map_err(|source| LockError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(|source| LockError::Io {
                path: path.to_path_buf(),
                source,
            })?;
    }
    Ok(file)
}

fn flock(file: &File, flags: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a file descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), flags) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

impl Lock {
    /// Take the lock, waiting as long as it takes; after a few seconds, say on stderr
    /// who holds it.
    pub fn acquire(path: &Path) -> Result<Lock, LockError> {
        if let Some(lock) = Lock::try_acquire(path)? {
            return Ok(lock);
        }
        let file = open(path)?;
        let done = Arc::new(AtomicBool::new(false));
        let notice = {
            let done = done.clone();
            let path = path.to_path_buf();
            std::thread::spawn(move || {
                std::thread::park_timeout(PATIENCE);
                if !done.load(Ordering::SeqCst) {
                    eprintln!("berth: waiting for {}", describe_holder(&path));
                }
            })
        };
        let r = flock(&file, libc::LOCK_EX);
        done.store(true, Ordering::SeqCst);
        notice.thread().unpark();
        r.map_err(|source| LockError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Lock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Take the lock if nobody holds it.
    pub fn try_acquire(path: &Path) -> Result<Option<Lock>, LockError> {
        let file = open(path)?;
        match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => Ok(Some(Lock {
                file,
                path: path.to_path_buf(),
            })),
            Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => Ok(None),
            Err(source) => Err(LockError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the holder recorded in the lock file (empty when nothing).
    pub fn read_note(&self) -> String {
        use std::io::{Read, Seek};
        let mut f = &self.file;
        let mut text = String::new();
        if f.seek(io::SeekFrom::Start(0)).is_ok() {
            let _ = f.read_to_string(&mut text);
        }
        text
    }

    /// Record `text` in the lock file, for the next holder.
    pub fn write_note(&self, text: &str) -> io::Result<()> {
        use std::io::{Seek, Write};
        let mut f = &self.file;
        f.set_len(0)?;
        f.seek(io::SeekFrom::Start(0))?;
        f.write_all(text.as_bytes())
    }
}

/// Nanoseconds on a clock that all processes share and that never goes back
/// (CLOCK_BOOTTIME), to order what different berth processes saw.
pub fn boot_nanos() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

/// `LOCK (held by pid N: CMDLINE)`, or `LOCK` when the holder cannot be told.
pub fn describe_holder(path: &Path) -> String {
    match holder(path) {
        Some(pid) => format!("{} (held by pid {pid}: {})", path.display(), cmdline(pid)),
        None => path.display().to_string(),
    }
}

/// The pid holding an flock on `path`, from /proc/locks.
pub fn holder(path: &Path) -> Option<u32> {
    let meta = fs::metadata(path).ok()?;
    let text = fs::read_to_string("/proc/locks").ok()?;
    holder_in(&text, meta.dev(), meta.ino())
}

/// `/proc/locks` lines: `1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF`, the device
/// as `major:minor` in hex and the inode in decimal. Blocked waiters (`->`) are skipped.
fn holder_in(text: &str, dev: u64, ino: u64) -> Option<u32> {
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let _n = words.next()?;
        let kind = words.next()?;
        if kind == "->" || kind != "FLOCK" {
            continue;
        }
        let (_adv, _mode, pid, file) = (words.next(), words.next(), words.next(), words.next());
        let (Some(pid), Some(file)) = (pid, file) else {
            continue;
        };
        let mut parts = file.split(':');
        let (Some(ma), Some(mi), Some(i)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let same = u32::from_str_radix(ma, 16).ok() == Some(major)
            && u32::from_str_radix(mi, 16).ok() == Some(minor)
            && i.parse::<u64>().ok() == Some(ino);
        if same && let Ok(pid) = pid.parse() {
            return Some(pid);
        }
    }
    None
}

/// A process's command line, words joined by spaces.
pub fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_locks_lines() {
        let text = "1: POSIX  ADVISORY  WRITE 99 00:14:77 0 EOF\n\
                    2: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF\n\
                    2: -> FLOCK  ADVISORY  WRITE 4321 fd:01:5678 0 EOF\n";
        let dev = libc::makedev(0xfd, 0x01);
        assert_eq!(holder_in(text, dev, 5678), Some(1234));
        assert_eq!(holder_in(text, dev, 5679), None);
        assert_eq!(holder_in(text, libc::makedev(0, 0x14), 77), None);
    }

    #[test]
    fn a_lock_is_exclusive_and_tells_its_holder() {
        let dir = std::env::temp_dir().join(format!("berth-lock-test-{}", std::process::id()));
        let path = dir.join("x.lock");
        let held = Lock::acquire(&path).unwrap();
        assert!(
            Lock::try_acquire(&path).unwrap().is_none(),
            "a second take must fail"
        );
        assert_eq!(holder(&path), Some(std::process::id()));
        let mode = fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        drop(held);
        assert!(Lock::try_acquire(&path).unwrap().is_some());
        let _ = fs::remove_dir_all(&dir);
    }
}
