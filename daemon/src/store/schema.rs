//! The schema and the connection: migrations, durability settings, and
//! the refusal of a database written by a newer rackd.

use super::*;

/// How long to wait for a lock held by another connection (e.g. a backup) before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema migrations: entry `v` takes the database from `user_version` `v` to `v + 1`.
///
/// To change the schema, append a step; never edit one that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 0 → 1: songs, immutable revisions, the autosaved live state.
    "CREATE TABLE songs (
         id   INTEGER PRIMARY KEY,
         path TEXT NOT NULL UNIQUE
     ) STRICT;
     CREATE TABLE revisions (
         song_id    INTEGER NOT NULL REFERENCES songs(id),
         rev        INTEGER NOT NULL CHECK (rev >= 1),
         saved_at   TEXT NOT NULL,
         note       TEXT NOT NULL,
         origin     TEXT NOT NULL,
         state_json TEXT NOT NULL,
         UNIQUE (song_id, rev)
     ) STRICT;
     CREATE TABLE current (
         id         INTEGER PRIMARY KEY CHECK (id = 1),
         state_json TEXT NOT NULL,
         saved_at   TEXT NOT NULL
     ) STRICT;
     CREATE TRIGGER revisions_no_update BEFORE UPDATE ON revisions
     BEGIN SELECT RAISE(ABORT, 'snapshot revisions are immutable'); END;
     CREATE TRIGGER revisions_no_delete BEFORE DELETE ON revisions
     BEGIN SELECT RAISE(ABORT, 'snapshot revisions are immutable'); END;
     CREATE TRIGGER songs_no_update BEFORE UPDATE ON songs
     BEGIN SELECT RAISE(ABORT, 'songs are immutable'); END;
     CREATE TRIGGER songs_no_delete BEFORE DELETE ON songs
     BEGIN SELECT RAISE(ABORT, 'songs are immutable'); END;",
];

/// WAL size (pages) at which SQLite checkpoints by itself, if idle checkpoints never ran.
pub(super) const AUTO_CHECKPOINT_PAGES: i64 = 20_000;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Opens the connection: refuses newer schemas, sets durability, runs migrations.
pub(super) fn open_connection(path: &Path) -> Result<Connection, Fail> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Look before changing anything, so a newer rackd's file stays as it was.
    refuse_newer(&conn, path)?;
    // WAL keeps readers off the writer's back; FULL syncs the WAL on every
    // commit, which is what makes an acknowledged save survive power loss.
    conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // Checkpoints run when the store is idle (Store::checkpoint); the automatic
    // one is only a backstop, so a save rarely pays for copying the WAL back.
    conn.pragma_update(None, "wal_autocheckpoint", AUTO_CHECKPOINT_PAGES)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = refuse_newer(&tx, path)?;
    if found < SCHEMA_VERSION {
        for step in &MIGRATIONS[found as usize..] {
            tx.execute_batch(step)?;
        }
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    }
    tx.commit()?;
    Ok(conn)
}

/// The schema version, or `NewerSchema` when this build cannot read it.
pub(super) fn refuse_newer(conn: &Connection, path: &Path) -> Result<u32, Fail> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    match u32::try_from(found) {
        Ok(v) if v <= SCHEMA_VERSION => Ok(v),
        _ => Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            supported: SCHEMA_VERSION,
        }
        .into()),
    }
}
