//! File-system primitives relative to directory handles, never following a symlink.
//!
//! Every path below the output directory is reached from the output directory's own
//! handle, one component at a time, with `O_NOFOLLOW` (`openat`, `mkdirat`,
//! `renameat`, `unlinkat`). A directory swapped for a symlink after the plan was made
//! therefore makes the operation fail (`ELOOP`/`ENOTDIR`) instead of reaching outside.

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::io::{self, Read, Write};
use std::os::fd::{BorrowedFd, OwnedFd};

/// The largest file homelabgen reads back from the output directory. Rendered files
/// are far smaller; anything larger is not ours and is refused without reading it.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Open the directory `name` inside `parent`, refusing a symlink.
pub fn open_dir(parent: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    Ok(rfs::openat(parent, name, dir_flags(), Mode::empty())?)
}

/// Open a directory by path, following symlinks in its parents (resolved once, here)
/// but not in its last component.
pub fn open_root(path: &str) -> io::Result<OwnedFd> {
    Ok(rfs::openat(rfs::CWD, path, dir_flags(), Mode::empty())?)
}

/// Create the directory `name` inside `parent` (an existing one is fine) and open it.
pub fn make_dir(parent: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    match rfs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(err) => return Err(err.into()),
    }
    open_dir(parent, name)
}

/// What a directory entry is, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other(&'static str),
}

impl Kind {
    fn of(file_type: FileType) -> Kind {
        match file_type {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Other("a FIFO"),
            FileType::Socket => Kind::Other("a socket"),
            FileType::CharacterDevice => Kind::Other("a character device"),
            FileType::BlockDevice => Kind::Other("a block device"),
            FileType::Unknown => Kind::Other("of an unknown type"),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::File => "a file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symlink",
            Kind::Other(what) => what,
        }
    }
}

/// The entries of a directory (name, kind), without `.` and `..`.
pub fn list(dir: BorrowedFd<'_>) -> io::Result<Vec<(String, Kind)>> {
    let mut entries = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let name = String::from_utf8_lossy(name).into_owned();
        let kind = match entry.file_type() {
            FileType::Unknown => Kind::of(FileType::from_raw_mode(
                rfs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?.st_mode,
            )),
            other => Kind::of(other),
        };
        entries.push((name, kind));
    }
    Ok(entries)
}

/// A regular file's bytes and executable bit.
pub struct Contents {
    pub bytes: Vec<u8>,
    pub executable: bool,
}

/// Read the regular file `name` in `dir`: never follows a symlink, never blocks on a
/// FIFO or device (checked after opening non-blocking), reads at most the limit + 1.
pub fn read_file(dir: BorrowedFd<'_>, name: &str, limit: u64) -> io::Result<Contents> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let stat = rfs::fstat(&fd)?;
    let kind = Kind::of(FileType::from_raw_mode(stat.st_mode));
    if kind != Kind::File {
        return Err(io::Error::other(format!(
            "it is {}, not a regular file",
            kind.describe()
        )));
    }
    if stat.st_size as u64 > limit {
        return Err(io::Error::other(format!(
            "it is {} bytes, larger than anything homelabgen writes ({limit} bytes)",
            stat.st_size
        )));
    }
    let mut bytes = Vec::with_capacity(stat.st_size as usize);
    std::fs::File::from(fd)
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::other(
            "it grew past the size limit while being read",
        ));
    }
    Ok(Contents {
        bytes,
        executable: stat.st_mode & 0o111 != 0,
    })
}

/// Create `name` in `dir` exclusively (never through a symlink) with exactly `mode`,
/// and write `bytes`. Not synced: the caller syncs the whole file system once.
pub fn create_file(dir: BorrowedFd<'_>, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    // The umask may have cleared bits; the mode is part of the rendered tree.
    if mode & umask() != 0 {
        rfs::fchmod(&fd, Mode::from_raw_mode(mode))?;
    }
    std::fs::File::from(fd).write_all(bytes)
}

/// The process's umask, read once (setting it to 0 and back, before any file is created).
/// Safe because render creates files from one thread only: no other thread can create a
/// file in the instant the umask is 0.
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        let old = rustix::process::umask(Mode::empty());
        rustix::process::umask(old);
        old.bits()
    })
}

pub fn rename(dir: BorrowedFd<'_>, from: &str, to: &str) -> io::Result<()> {
    Ok(rfs::renameat(dir, from, dir, to)?)
}

/// Remove the file `name` (a symlink is removed, never followed); missing is fine.
pub fn remove_file(dir: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    match rfs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Remove the directory `name` if it is empty; report whether it was removed.
pub fn remove_empty_dir(dir: BorrowedFd<'_>, name: &str) -> bool {
    rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).is_ok()
}

/// Can this process create and remove entries in `dir`?
pub fn writable(dir: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rfs::accessat(
        dir,
        ".",
        rfs::Access::WRITE_OK | rfs::Access::EXEC_OK,
        AtFlags::EACCESS,
    )?)
}

/// Flush everything written to the file system holding `dir`: one call for all files.
pub fn sync_fs(dir: BorrowedFd<'_>) -> io::Result<()> {
    Ok(rfs::syncfs(dir)?)
}

/// Take the exclusive (render) or shared (diff) lock on the output directory, waiting
/// up to `wait` for another homelabgen to finish. Released when `dir` is closed.
pub fn lock(dir: BorrowedFd<'_>, exclusive: bool, wait: std::time::Duration) -> io::Result<bool> {
    let op = if exclusive {
        rfs::FlockOperation::NonBlockingLockExclusive
    } else {
        rfs::FlockOperation::NonBlockingLockShared
    };
    let start = std::time::Instant::now();
    loop {
        match rfs::flock(dir, op) {
            Ok(()) => return Ok(true),
            Err(Errno::WOULDBLOCK) if start.elapsed() < wait => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(Errno::WOULDBLOCK) => return Ok(false),
            Err(err) => return Err(err.into()),
        }
    }
}
