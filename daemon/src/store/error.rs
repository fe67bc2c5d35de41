//! What can go wrong with the store, each error saying what to do.

use super::*;

/// Why a store operation failed; each message tells the engineer what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The song, or the given revision of it, was never saved.
    #[error("{}", not_found_message(.song, .rev))]
    NotFound {
        /// The song asked for.
        song: SongPath,
        /// The revision asked for (`None`: any revision).
        rev: Option<u32>,
    },
    /// A stored row no longer parses (damaged file or edited by hand).
    #[error(
        "stored snapshot {song}{} is corrupt ({reason}); recall another revision or restore the database from a backup",
        rev_suffix(.rev)
    )]
    Corrupt {
        /// The song's path as stored (it may itself be the damaged part).
        song: String,
        /// The damaged revision, when known.
        rev: Option<u32>,
        /// What did not parse.
        reason: String,
    },
    /// The autosaved live state no longer parses.
    #[error(
        "the autosaved current state is corrupt ({reason}); recall a snapshot, the next autosave overwrites it"
    )]
    CorruptCurrent {
        /// What did not parse.
        reason: String,
    },
    /// A note that is too long or not a single line of text.
    #[error("{0}; nothing was saved")]
    InvalidNote(String),
    /// An origin that is too long or not a single line of text.
    #[error("{0}; nothing was saved")]
    InvalidOrigin(String),
    /// A state that cannot be stored faithfully (e.g. a NaN value).
    #[error("state refused, nothing was saved: {0}")]
    InvalidState(String),
    /// An export document that is not a valid rackd song export; nothing was stored.
    #[error("not a valid rackd song export, nothing was imported: {0}")]
    InvalidExport(String),
    /// The song has used every revision number.
    #[error(
        "song {song} has no revision numbers left; export it and import it under another song path"
    )]
    RevisionsExhausted {
        /// The full song.
        song: SongPath,
    },
    /// The database was written by a newer rackd.
    #[error(
        "snapshot database {} has schema version {found}, newer than version {supported} that this rackd understands; upgrade rackd or use another state directory",
        .path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: u32,
        /// The newest version this build knows.
        supported: u32,
    },
    /// The database's directory could not be created.
    #[error(
        "snapshot database {}: {source}; check that the state directory exists and rackd may write to it",
        .path.display()
    )]
    Io {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database file was removed or replaced by another file while rackd
    /// had it open: a save would go into a file nobody reads again.
    #[error(
        "snapshot database {} was {how} while rackd had it open; nothing was saved. Put the original back or restart rackd (`systemctl restart rackd`) to open the file that is there now",
        .path.display()
    )]
    Replaced {
        /// The database file.
        path: PathBuf,
        /// `removed` or `replaced by another file`.
        how: &'static str,
    },
    /// SQLite failed (permissions, full disk, damaged file, lock held too long).
    #[error(
        "snapshot database {}: {source}; check permissions and free disk space, or restore the file from a backup if it is damaged",
        .path.display()
    )]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// The store's health after this fault.
    pub fn health(&self) -> StoreHealth {
        StoreHealth {
            health: if self.is_read_only() {
                Health::ReadOnly
            } else {
                Health::Failing
            },
            error: Some(self.to_string()),
        }
    }

    /// Whether the store itself is in trouble (as opposed to a request it
    /// refused): these set the store's health.
    pub fn is_store_fault(&self) -> bool {
        matches!(
            self,
            StoreError::Io { .. } | StoreError::Sqlite { .. } | StoreError::Replaced { .. }
        )
    }

    /// Whether opening the database again may help: permissions or space
    /// that an admin can fix while rackd runs, a lock held too long.
    pub fn can_pass(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::Io { .. } => true,
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => matches!(
                e.code,
                ReadOnly
                    | CannotOpen
                    | PermissionDenied
                    | SystemIoFailure
                    | DiskFull
                    | DatabaseBusy
                    | DatabaseLocked
            ),
            _ => false,
        }
    }

    /// Whether it says the database cannot be written (permissions; a file
    /// that cannot be created in a directory rackd may not write to).
    pub fn is_read_only(&self) -> bool {
        use rusqlite::ErrorCode::*;
        match self {
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::PermissionDenied,
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                path,
            } => match e.code {
                ReadOnly | PermissionDenied => true,
                CannotOpen => path.parent().is_some_and(|dir| !writable(dir)),
                _ => false,
            },
            _ => false,
        }
    }
}

/// Message for [`StoreError::NotFound`], pointing at the command that shows what exists.
pub(super) fn not_found_message(song: &SongPath, rev: &Option<u32>) -> String {
    match rev {
        None => {
            format!("no snapshot saved for song {song}; `rackd ctl list` shows the saved songs")
        }
        Some(rev) => format!(
            "song {song} has no revision {rev}; `rackd ctl history {song}` lists its revisions"
        ),
    }
}

/// `@REV` when a revision is known, for error messages.
pub(super) fn rev_suffix(rev: &Option<u32>) -> String {
    rev.map(|r| format!("@{r}")).unwrap_or_default()
}
