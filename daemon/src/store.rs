//! The snapshot store: per-song, versioned recall snapshots in SQLite.
//!
//! Invariant 4 lives here: `save` returns only after its transaction is
//! durable (WAL, `synchronous=FULL`), and no API ever changes or removes a
//! revision. Triggers in the schema refuse `UPDATE` and `DELETE` on revisions,
//! so neither a bug elsewhere nor a stray `sqlite3` session can either.
//!
//! The API is blocking; the daemon calls it from one dedicated thread.

pub use rackd_protocol::api::{
    ExportedRevision, Health, ImportReport, RevisionInfo, SongExport, SongSummary, StoreHealth,
};
use rackd_protocol::param::Value;
use rackd_protocol::song::SongPath;
use rackd_protocol::state::RackState;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest note accepted, in characters, so notes stay readable in lists.
pub const MAX_NOTE_CHARS: usize = 1024;
/// Longest origin accepted, in characters (`ctl`, `osc:127.0.0.1:9000`, …).
pub const MAX_ORIGIN_CHARS: usize = 64;
/// The `format` field that marks a file as a rackd song export.
pub const EXPORT_FORMAT: &str = SongExport::FORMAT;
/// The export file version this build writes and reads.
pub const EXPORT_VERSION: u32 = SongExport::VERSION;
mod error;
mod export;
mod rows;
mod schema;
#[cfg(test)]
mod tests;
mod values;

pub use error::StoreError;
use export::validate_export;
pub use export::{export_json, parse_export};
use rows::*;
pub use schema::SCHEMA_VERSION;
use schema::*;
use values::*;

/// A revision with its full state, for recall and diff.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// Number, time, note, origin.
    pub info: RevisionInfo,
    /// Every parameter value as saved.
    pub state: RackState,
    /// This snapshot's recall safes (`DEVICE` or `DEVICE/PARAM`), left
    /// alone on its recall together with the config's.
    #[serde(default)]
    pub safes: Vec<String>,
}

/// The snapshot store: one SQLite file, used from one thread.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Device and inode of the file opened, to notice it being replaced.
    file_id: Option<(u64, u64)>,
    /// What the last write (or checkpoint) did.
    health: StoreHealth,
}

/// Whether this process may create files in `dir`.
fn writable(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt as _;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Device and inode of `path`, `None` when it does not exist.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Internal error: SQLite errors get the database path attached at the public boundary.
enum Fail {
    Db(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Fail::Db(e)
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Fail::Store(e)
    }
}

/// Attaches the database path to SQLite errors.
fn with_path<T>(path: &Path, result: Result<T, Fail>) -> Result<T, StoreError> {
    result.map_err(|fail| match fail {
        Fail::Db(source) => StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        },
        Fail::Store(e) => e,
    })
}

impl Store {
    /// Opens (or creates) the database, sets durability pragmas and brings the schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let conn = with_path(path, open_connection(path))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            file_id: file_id(path),
            health: StoreHealth::ok(),
        })
    }

    /// What the last write did: `ok`, or the fault that stopped it.
    pub fn health(&self) -> &StoreHealth {
        &self.health
    }

    /// The file at our path must still be the one we opened.
    fn check_file(&self) -> Result<(), StoreError> {
        match file_id(&self.path) {
            Some(id) if Some(id) == self.file_id => Ok(()),
            found => Err(StoreError::Replaced {
                path: self.path.clone(),
                how: if found.is_none() {
                    "removed"
                } else {
                    "replaced by another file"
                },
            }),
        }
    }

    /// Runs a write: the file must be ours before and after it, and the
    /// outcome sets the store's health.
    fn write<T>(
        &mut self,
        op: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let result = self
            .check_file()
            .and_then(|()| op(self))
            .and_then(|value| self.check_file().map(|()| value));
        match &result {
            Ok(_) => self.health = StoreHealth::ok(),
            Err(e) if e.is_store_fault() => self.health = e.health(),
            Err(_) => {}
        }
        result
    }

    /// Copies the WAL back into the database file; call when idle so that
    /// saves do not pay for it.
    pub fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.write(|store| {
            store
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|source| StoreError::Sqlite {
                    path: store.path.clone(),
                    source,
                })
        })
    }

    /// The database file, for log lines.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves `state` as the song's next revision; when this returns, the revision is durable.
    pub fn save(
        &mut self,
        song: &SongPath,
        note: &str,
        origin: &str,
        state: &RackState,
    ) -> Result<RevisionInfo, StoreError> {
        self.save_with_safes(song, note, origin, state, &[])
    }

    /// [`Store::save`] with the snapshot's own recall safes, stored with the
    /// state in the same column (revisions without safes are stored as before).
    pub fn save_with_safes(
        &mut self,
        song: &SongPath,
        note: &str,
        origin: &str,
        state: &RackState,
        safes: &[String],
    ) -> Result<RevisionInfo, StoreError> {
        check_text("note", note, MAX_NOTE_CHARS).map_err(StoreError::InvalidNote)?;
        check_text("origin", origin, MAX_ORIGIN_CHARS).map_err(StoreError::InvalidOrigin)?;
        check_state(state).map_err(StoreError::InvalidState)?;
        let state_json = stored_json(state, safes)?;
        let saved_at = now_timestamp();
        let rev = self.write(|store| {
            let result = (|| -> Result<u32, Fail> {
                let tx = store
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let song_id = song_id_or_insert(&tx, song)?;
                let rev = next_rev(&tx, song_id, song)?;
                insert_revision(&tx, song_id, rev, &saved_at, note, origin, &state_json)?;
                tx.commit()?;
                Ok(rev)
            })();
            with_path(&store.path, result)
        })?;
        Ok(RevisionInfo {
            song: song.clone(),
            rev,
            saved_at,
            note: note.to_string(),
            origin: origin.to_string(),
        })
    }

    /// Loads a revision of a song, the latest when `rev` is `None`.
    pub fn load(&self, song: &SongPath, rev: Option<u32>) -> Result<Revision, StoreError> {
        const SELECT: &str = "SELECT r.rev, r.saved_at, r.note, r.origin, r.state_json
             FROM revisions r JOIN songs s ON s.id = r.song_id WHERE s.path = ?1";
        let result = (|| -> Result<Revision, Fail> {
            let row = match rev {
                None => self
                    .conn
                    .prepare_cached(&format!("{SELECT} ORDER BY r.rev DESC LIMIT 1"))?
                    .query_row(params![song.as_str()], raw_row::<5>)
                    .optional()?,
                Some(rev) => self
                    .conn
                    .prepare_cached(&format!("{SELECT} AND r.rev = ?2"))?
                    .query_row(params![song.as_str(), rev], raw_row::<5>)
                    .optional()?,
            };
            let [rev_v, saved_at, note, origin, state_json] = row.ok_or(StoreError::NotFound {
                song: song.clone(),
                rev,
            })?;
            let info = decode_info(song, rev_v, saved_at, note, origin)?;
            let (state, safes) = decode_stored(song.as_str(), info.rev, state_json)?;
            Ok(Revision { info, state, safes })
        })();
        with_path(&self.path, result)
    }

    /// Every revision of a song, oldest first (without states, which can be large).
    pub fn history(&self, song: &SongPath) -> Result<Vec<RevisionInfo>, StoreError> {
        let result = (|| -> Result<Vec<RevisionInfo>, Fail> {
            let rows = self
                .conn
                .prepare_cached(
                    "SELECT r.rev, r.saved_at, r.note, r.origin
                     FROM revisions r JOIN songs s ON s.id = r.song_id
                     WHERE s.path = ?1 ORDER BY r.rev",
                )?
                .query_map(params![song.as_str()], raw_row::<4>)?
                .collect::<Result<Vec<_>, _>>()?;
            if rows.is_empty() {
                return Err(StoreError::NotFound {
                    song: song.clone(),
                    rev: None,
                }
                .into());
            }
            let mut infos = Vec::with_capacity(rows.len());
            for [rev, saved_at, note, origin] in rows {
                infos.push(decode_info(song, rev, saved_at, note, origin)?);
            }
            Ok(infos)
        })();
        with_path(&self.path, result)
    }

    /// The songs under `prefix` (whole path parts: `client/album` does not match `client/albums`).
    pub fn list(&self, prefix: &str) -> Result<Vec<SongSummary>, StoreError> {
        let prefix = prefix.trim_end_matches('/');
        let result = (|| -> Result<Vec<SongSummary>, Fail> {
            // SQL narrows by text; `has_prefix` below decides, so both agree on part boundaries.
            let rows = self
                .conn
                .prepare_cached(
                    "SELECT s.path, COUNT(*), MAX(r.rev),
                        (SELECT saved_at FROM revisions WHERE song_id = s.id ORDER BY rev DESC LIMIT 1)
                     FROM songs s JOIN revisions r ON r.song_id = s.id
                     WHERE ?1 = '' OR s.path = ?1 OR substr(s.path, 1, length(?1) + 1) = ?1 || '/'
                     GROUP BY s.id ORDER BY s.path",
                )?
                .query_map(params![prefix], raw_row::<4>)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut songs = Vec::with_capacity(rows.len());
            for [path, count, latest_rev, latest_at] in rows {
                let summary = decode_summary(path, count, latest_rev, latest_at)?;
                if summary.song.has_prefix(prefix) {
                    songs.push(summary);
                }
            }
            Ok(songs)
        })();
        with_path(&self.path, result)
    }

    /// The song with all its revisions, ready for [`SongExport::to_json_pretty`].
    pub fn export(&self, song: &SongPath) -> Result<SongExport, StoreError> {
        let result = (|| -> Result<SongExport, Fail> {
            let rows = self
                .conn
                .prepare_cached(
                    "SELECT r.rev, r.saved_at, r.note, r.origin, r.state_json
                     FROM revisions r JOIN songs s ON s.id = r.song_id
                     WHERE s.path = ?1 ORDER BY r.rev",
                )?
                .query_map(params![song.as_str()], raw_row::<5>)?
                .collect::<Result<Vec<_>, _>>()?;
            if rows.is_empty() {
                return Err(StoreError::NotFound {
                    song: song.clone(),
                    rev: None,
                }
                .into());
            }
            let mut revisions = Vec::with_capacity(rows.len());
            for [rev, saved_at, note, origin, state_json] in rows {
                let info = decode_info(song, rev, saved_at, note, origin)?;
                let (state, safes) = decode_stored(song.as_str(), info.rev, state_json)?;
                revisions.push(ExportedRevision {
                    rev: info.rev,
                    saved_at: info.saved_at,
                    note: info.note,
                    origin: info.origin,
                    state,
                    safes,
                });
            }
            Ok(SongExport {
                format: EXPORT_FORMAT.to_string(),
                version: EXPORT_VERSION,
                song: song.clone(),
                exported_at: now_timestamp(),
                revisions,
            })
        })();
        with_path(&self.path, result)
    }

    /// Adds an export's revisions; never touches existing ones, and skips revisions already here.
    ///
    /// A song new to this room gets the revisions exactly as exported (numbers,
    /// origins). For a song that exists, new revisions are appended with fresh
    /// numbers and the origin `import:<origin>@<rev>`; revisions with the same
    /// state, time and note as one already stored are skipped, so importing a
    /// file twice adds nothing. All or nothing: one transaction.
    pub fn import(&mut self, doc: &SongExport) -> Result<ImportReport, StoreError> {
        validate_export(doc)?;
        let mut states = Vec::with_capacity(doc.revisions.len());
        for r in &doc.revisions {
            states.push(stored_json(&r.state, &r.safes)?);
        }
        let song = &doc.song;
        self.write(|store| {
            let result = (|| -> Result<ImportReport, Fail> {
                let tx = store
                    .conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                let existing: Option<i64> = tx
                    .prepare_cached("SELECT id FROM songs WHERE path = ?1")?
                    .query_row(params![song.as_str()], |row| row.get(0))
                    .optional()?;
                let mut report = ImportReport {
                    song: song.clone(),
                    added: Vec::new(),
                    skipped: 0,
                };
                match existing {
                    None => {
                        let song_id = song_id_or_insert(&tx, song)?;
                        for (r, state_json) in doc.revisions.iter().zip(&states) {
                            insert_revision(
                                &tx,
                                song_id,
                                r.rev,
                                &r.saved_at,
                                &r.note,
                                &r.origin,
                                state_json,
                            )?;
                            report.added.push(r.rev);
                        }
                    }
                    Some(song_id) => {
                        for (r, state_json) in doc.revisions.iter().zip(&states) {
                            let present = tx
                                .prepare_cached(
                                    "SELECT 1 FROM revisions WHERE song_id = ?1
                                 AND saved_at = ?2 AND note = ?3 AND state_json = ?4",
                                )?
                                .exists(params![song_id, r.saved_at, r.note, state_json])?;
                            if present {
                                report.skipped += 1;
                                continue;
                            }
                            let rev = next_rev(&tx, song_id, song)?;
                            let origin = import_origin(&r.origin, r.rev);
                            insert_revision(
                                &tx,
                                song_id,
                                rev,
                                &r.saved_at,
                                &r.note,
                                &origin,
                                state_json,
                            )?;
                            report.added.push(rev);
                        }
                    }
                }
                tx.commit()?;
                Ok(report)
            })();
            with_path(&store.path, result)
        })
    }

    /// Overwrites the autosaved live state; durable when it returns, so a restart restores the room.
    pub fn save_current(&mut self, state: &RackState) -> Result<(), StoreError> {
        check_state(state).map_err(StoreError::InvalidState)?;
        let state_json = state_to_json(state)?;
        self.write(|store| {
            let result = (|| -> Result<(), Fail> {
                store
                    .conn
                    .prepare_cached(
                        "INSERT INTO current (id, state_json, saved_at) VALUES (1, ?1, ?2)
                         ON CONFLICT (id) DO UPDATE
                         SET state_json = excluded.state_json, saved_at = excluded.saved_at",
                    )?
                    .execute(params![state_json, now_timestamp()])?;
                Ok(())
            })();
            with_path(&store.path, result)
        })
    }

    /// The autosaved live state, `None` on a fresh database.
    pub fn load_current(&self) -> Result<Option<RackState>, StoreError> {
        let result = (|| -> Result<Option<RackState>, Fail> {
            let raw = self
                .conn
                .prepare_cached("SELECT state_json FROM current WHERE id = 1")?
                .query_row([], |row| row.get::<_, SqlValue>(0))
                .optional()?;
            let Some(raw) = raw else {
                return Ok(None);
            };
            let text = as_text(raw).ok_or_else(|| StoreError::CorruptCurrent {
                reason: "state is not text".to_string(),
            })?;
            let state = serde_json::from_str(&text).map_err(|e| StoreError::CorruptCurrent {
                reason: e.to_string(),
            })?;
            Ok(Some(state))
        })();
        with_path(&self.path, result)
    }
}
