//! Watches the files of a SQLite database while the service runs, so that a deleted, replaced,
//! truncated or frozen file is refused with a 503 instead of losing writes or crashing.
//!
//! SQLite maps `<db>-shm` (the WAL index) into memory. If that file is truncated under it, the
//! next query touches a page past its end and the kernel kills the process with SIGBUS, which
//! no safe Rust can catch. So the files are checked before each request that may reach the
//! database, and once anything is wrong the database is never touched again by this process.
//! A change that lands in the middle of a query can still crash it: the check narrows that
//! window to the query itself, it cannot close it.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rustix::fs::{AtFlags, CWD, StatVfsMountFlags, StatxAttributes, StatxFlags};
use sea_orm::{DatabaseConnection, DbBackend, DbErr};

/// The storage of the database: a no-op on PostgreSQL and on an in-memory SQLite database.
#[derive(Clone, Default)]
pub struct Storage(Option<Arc<Guard>>);

/// A check that passed this recently is not repeated: its four system calls cost about 15 µs
/// here, a tenth of a cached read, and this bounds them to a thousand a second.
const RECHECK_AFTER: Duration = Duration::from_millis(1);

struct Guard {
    main: Watched,
    wal: Option<Watched>,
    shm: Option<Watched>,
    directory: PathBuf,
    /// What went wrong first; once set, the storage stays broken until a restart.
    broken: OnceLock<String>,
    started: Instant,
    /// When the last check passed, in microseconds since `started`.
    passed_at: AtomicU64,
    /// Leaked once the storage breaks: closing the last connection makes SQLite checkpoint,
    /// which reads the `-shm` mapping and would crash on a truncated file.
    db: DatabaseConnection,
}

struct Watched {
    path: PathBuf,
    /// Device and inode: a file deleted and recreated, or replaced, has another.
    identity: (u32, u32, u64),
    /// The largest size seen: SQLite only ever grows `-shm` while a connection is open.
    size: AtomicU64,
}

/// The storage failed; [`Storage::reason`] says how.
#[derive(Debug, Clone, Copy)]
pub struct Broken;

impl Storage {
    /// Starts watching the files of `db`, which must be open (so that `-wal` and `-shm`
    /// exist). Anything but a SQLite file gives a guard that checks nothing.
    pub async fn watch(db: &DatabaseConnection) -> Result<Self, DbErr> {
        if db.get_database_backend() != DbBackend::Sqlite {
            return Ok(Self(None));
        }
        let Some(main) = super::main_file(db).await? else {
            return Ok(Self(None));
        };
        let watch = |path: PathBuf| {
            let stat = stat(&path).ok()?;
            Some(Watched {
                identity: identity(&stat),
                size: AtomicU64::new(stat.stx_size),
                path,
            })
        };
        let sibling = |suffix: &str| {
            let mut path = main.clone().into_os_string();
            path.push(suffix);
            PathBuf::from(path)
        };
        let (wal, shm) = (watch(sibling("-wal")), watch(sibling("-shm")));
        let directory = main.parent().map(Path::to_path_buf).unwrap_or_default();
        let main = watch(main.clone()).ok_or_else(|| {
            DbErr::Custom(format!(
                "the database file {} cannot be examined",
                main.display()
            ))
        })?;
        Ok(Self(Some(Arc::new(Guard {
            main,
            wal,
            shm,
            directory,
            broken: OnceLock::new(),
            started: Instant::now(),
            passed_at: AtomicU64::new(0),
            db: db.clone(),
        }))))
    }

    /// Whether the database may still be used: the same files are in place, `-shm` is not
    /// shorter, nothing is immutable and the file system is writable (unless that was seen
    /// less than [`RECHECK_AFTER`] ago). The first failure breaks the storage for good.
    pub fn check(&self) -> Result<(), Broken> {
        let Some(guard) = &self.0 else {
            return Ok(());
        };
        if guard.broken.get().is_some() {
            return Err(Broken);
        }
        let micros = |elapsed: Duration| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let now = micros(guard.started.elapsed());
        if now.saturating_sub(guard.passed_at.load(Ordering::Relaxed)) < micros(RECHECK_AFTER) {
            return Ok(());
        }
        match guard.problem() {
            None => {
                guard.passed_at.fetch_max(now, Ordering::Relaxed);
                Ok(())
            }
            Some(problem) => {
                self.trip(&problem);
                Err(Broken)
            }
        }
    }

    /// Declares the storage broken (an I/O error, say), logs why once, and stops every later
    /// use of the database by this process.
    pub fn trip(&self, problem: &str) {
        let Some(guard) = &self.0 else {
            return;
        };
        if guard.broken.set(problem.to_owned()).is_ok() {
            tracing::error!(
                database = %guard.main.path.display(),
                problem,
                "database storage failed: refusing every request that needs the database \
                 until this instance is restarted"
            );
            // Never closed, so never checkpointed through a mapping that may be gone.
            std::mem::forget(guard.db.clone());
        }
    }

    /// Why the storage is broken, if it is.
    pub fn reason(&self) -> Option<&str> {
        self.0.as_ref()?.broken.get().map(String::as_str)
    }
}

impl Guard {
    fn problem(&self) -> Option<String> {
        let files = [
            (Some(&self.main), false),
            (self.wal.as_ref(), false),
            (self.shm.as_ref(), true),
        ];
        for (watched, is_shm) in files
            .into_iter()
            .filter_map(|(watched, is_shm)| Some((watched?, is_shm)))
        {
            if let Some(problem) = watched.problem(is_shm) {
                return Some(problem);
            }
        }
        match rustix::fs::statvfs(&self.directory) {
            Ok(fs) if fs.f_flag.contains(StatVfsMountFlags::RDONLY) => Some(format!(
                "the file system holding {} is read-only",
                self.directory.display()
            )),
            Ok(_) => None,
            Err(err) => Some(format!(
                "{} cannot be examined: {err}",
                self.directory.display()
            )),
        }
    }
}

impl Watched {
    /// What is wrong with this file now, if anything.
    fn problem(&self, is_shm: bool) -> Option<String> {
        let path = self.path.display();
        // Read before the file is examined: another thread may record a larger size in
        // between, and a size read before that growth is not a truncation.
        let before = self.size.load(Ordering::Acquire);
        let stat = match stat(&self.path) {
            Ok(stat) => stat,
            Err(rustix::io::Errno::NOENT) => return Some(format!("{path} was deleted")),
            Err(err) => return Some(format!("{path} cannot be examined: {err}")),
        };
        if identity(&stat) != self.identity {
            return Some(format!("{path} was replaced by another file"));
        }
        if stat
            .stx_attributes
            .intersects(StatxAttributes::IMMUTABLE | StatxAttributes::APPEND)
        {
            return Some(format!("{path} was made immutable or append-only"));
        }
        if is_shm && stat.stx_size < before {
            return Some(format!(
                "{path} was truncated from {before} to {} bytes",
                stat.stx_size
            ));
        }
        self.size.fetch_max(stat.stx_size, Ordering::AcqRel);
        None
    }
}

fn stat(path: &Path) -> rustix::io::Result<rustix::fs::Statx> {
    rustix::fs::statx(CWD, path, AtFlags::empty(), StatxFlags::BASIC_STATS)
}

fn identity(stat: &rustix::fs::Statx) -> (u32, u32, u64) {
    (stat.stx_dev_major, stat.stx_dev_minor, stat.stx_ino)
}

/// What is wrong, when `err` is SQLite reporting its files unusable (read-only, an I/O error,
/// cannot open, disk full, corrupt) rather than a bad query.
pub fn failure(err: &DbErr) -> Option<String> {
    use sea_orm::{
        RuntimeErr,
        sqlx::{error::DatabaseError, sqlite::SqliteError},
    };
    // The primary result code is the low byte of the extended one.
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const CORRUPT: i32 = 11;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    const NOTADB: i32 = 26;
    let (DbErr::Exec(RuntimeErr::SqlxError(cause))
    | DbErr::Query(RuntimeErr::SqlxError(cause))
    | DbErr::Conn(RuntimeErr::SqlxError(cause))) = err
    else {
        return None;
    };
    let sqlite = cause
        .as_database_error()?
        .try_downcast_ref::<SqliteError>()?;
    let code: i32 = sqlite.code()?.parse().ok()?;
    matches!(
        code & 0xff,
        READONLY | IOERR | CORRUPT | FULL | CANTOPEN | NOTADB
    )
    .then(|| format!("SQLite failed on its files: {sqlite}"))
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database};

    use super::failure;

    #[tokio::test]
    async fn sqlite_refusing_its_files_is_a_storage_failure_and_a_bad_query_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shop.db");
        let db = Database::connect(format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
        db.execute_unprepared("CREATE TABLE t (x INTEGER)")
            .await
            .unwrap();
        let bad_query = db
            .execute_unprepared("SELECT nothing FROM t")
            .await
            .unwrap_err();
        assert_eq!(failure(&bad_query), None);
        db.close().await.unwrap();

        let read_only = Database::connect(format!("sqlite://{}?mode=ro", path.display()))
            .await
            .unwrap();
        let write = read_only
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap_err();
        assert!(
            failure(&write).is_some_and(|problem| problem.contains("readonly")),
            "{write}"
        );
        assert!(crate::db::is_unavailable(&write));
    }

    #[test]
    fn a_file_growing_under_concurrent_checks_is_never_taken_for_truncated() {
        use std::{io::Write, sync::atomic::AtomicU64};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shop.db-shm");
        let region = vec![0_u8; 32_768];
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(&region).unwrap();
        let stat = super::stat(&path).unwrap();
        let watched = super::Watched {
            identity: super::identity(&stat),
            size: AtomicU64::new(stat.stx_size),
            path: path.clone(),
        };
        std::thread::scope(|scope| {
            let checkers: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        (0..20_000)
                            .find_map(|_| watched.problem(true))
                            .map_or(Ok(()), Err)
                    })
                })
                .collect();
            for _ in 0..400 {
                file.write_all(&region).unwrap();
            }
            for checker in checkers {
                assert_eq!(checker.join().unwrap(), Ok(()));
            }
        });
    }
}
