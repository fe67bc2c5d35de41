//! Reading and writing rows: song ids, revision numbers, and stored rows
//! decoded with a clear error when one is damaged.

use super::*;

/// The song's row id, creating the row on its first save.
pub(super) fn song_id_or_insert(tx: &Transaction, song: &SongPath) -> Result<i64, Fail> {
    tx.prepare_cached("INSERT INTO songs (path) VALUES (?1) ON CONFLICT (path) DO NOTHING")?
        .execute(params![song.as_str()])?;
    let id = tx
        .prepare_cached("SELECT id FROM songs WHERE path = ?1")?
        .query_row(params![song.as_str()], |row| row.get(0))?;
    Ok(id)
}

/// The next revision number for a song: highest so far plus one.
pub(super) fn next_rev(tx: &Transaction, song_id: i64, song: &SongPath) -> Result<u32, Fail> {
    let max: SqlValue = tx
        .prepare_cached("SELECT MAX(rev) FROM revisions WHERE song_id = ?1")?
        .query_row(params![song_id], |row| row.get(0))?;
    let max = match max {
        SqlValue::Null => 0,
        other => as_rev(&other).ok_or_else(|| StoreError::Corrupt {
            song: song.to_string(),
            rev: None,
            reason: format!("highest revision number is {other:?}"),
        })?,
    };
    max.checked_add(1)
        .ok_or_else(|| StoreError::RevisionsExhausted { song: song.clone() }.into())
}

/// Inserts one revision row (the only write revisions ever get).
pub(super) fn insert_revision(
    tx: &Transaction,
    song_id: i64,
    rev: u32,
    saved_at: &str,
    note: &str,
    origin: &str,
    state_json: &str,
) -> Result<(), Fail> {
    tx.prepare_cached(
        "INSERT INTO revisions (song_id, rev, saved_at, note, origin, state_json)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![song_id, rev, saved_at, note, origin, state_json])?;
    Ok(())
}

/// Origin of an imported revision appended to an existing song: where it came from, within the bound.
pub(super) fn import_origin(origin: &str, rev: u32) -> String {
    const PREFIX: &str = "import:";
    let suffix = format!("@{rev}");
    let room = MAX_ORIGIN_CHARS - PREFIX.len() - suffix.len();
    let kept: String = origin.chars().take(room).collect();
    format!("{PREFIX}{kept}{suffix}")
}

/// Reads `N` columns as raw SQLite values, so damaged rows are judged by `decode_*`, not by a panic.
pub(super) fn raw_row<const N: usize>(row: &rusqlite::Row) -> rusqlite::Result<[SqlValue; N]> {
    let mut values = [const { SqlValue::Null }; N];
    for (i, value) in values.iter_mut().enumerate() {
        *value = row.get(i)?;
    }
    Ok(values)
}

/// A text column's value, `None` if it holds anything else.
pub(super) fn as_text(value: SqlValue) -> Option<String> {
    match value {
        SqlValue::Text(text) => Some(text),
        _ => None,
    }
}

/// A revision number column's value, `None` unless a positive 32-bit number.
pub(super) fn as_rev(value: &SqlValue) -> Option<u32> {
    match value {
        SqlValue::Integer(i) => u32::try_from(*i).ok().filter(|r| *r > 0),
        _ => None,
    }
}

/// Builds a [`RevisionInfo`] from raw columns, reporting damage as [`StoreError::Corrupt`].
pub(super) fn decode_info(
    song: &SongPath,
    rev: SqlValue,
    saved_at: SqlValue,
    note: SqlValue,
    origin: SqlValue,
) -> Result<RevisionInfo, StoreError> {
    let rev_n = as_rev(&rev).ok_or_else(|| StoreError::Corrupt {
        song: song.to_string(),
        rev: None,
        reason: format!("revision number is {rev:?}"),
    })?;
    let text = |value: SqlValue, what: &str| {
        as_text(value).ok_or_else(|| StoreError::Corrupt {
            song: song.to_string(),
            rev: Some(rev_n),
            reason: format!("{what} is not text"),
        })
    };
    Ok(RevisionInfo {
        song: song.clone(),
        rev: rev_n,
        saved_at: text(saved_at, "saved_at")?,
        note: text(note, "note")?,
        origin: text(origin, "origin")?,
    })
}

/// Parses a stored state and its recall safes (none in older revisions),
/// reporting damage as [`StoreError::Corrupt`] naming song and revision.
pub(super) fn decode_stored(
    song: &str,
    rev: u32,
    state_json: SqlValue,
) -> Result<(RackState, Vec<String>), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        song: song.to_string(),
        rev: Some(rev),
        reason,
    };
    let text = as_text(state_json).ok_or_else(|| corrupt("state is not text".to_string()))?;
    let mut raw: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| corrupt(format!("state does not parse: {e}")))?;
    let safes = match raw.as_object_mut().and_then(|o| o.remove("safes")) {
        Some(v) => serde_json::from_value(v)
            .map_err(|e| corrupt(format!("recall safes do not parse: {e}")))?,
        None => Vec::new(),
    };
    let state =
        serde_json::from_value(raw).map_err(|e| corrupt(format!("state does not parse: {e}")))?;
    Ok((state, safes))
}

/// Builds a [`SongSummary`] from raw columns, reporting damage as [`StoreError::Corrupt`].
pub(super) fn decode_summary(
    path: SqlValue,
    count: SqlValue,
    latest_rev: SqlValue,
    latest_at: SqlValue,
) -> Result<SongSummary, StoreError> {
    let raw_path = match &path {
        SqlValue::Text(text) => text.clone(),
        other => format!("{other:?}"),
    };
    let corrupt = |reason: String| StoreError::Corrupt {
        song: raw_path.clone(),
        rev: None,
        reason,
    };
    let song = SongPath::new(&raw_path).map_err(|e| corrupt(format!("bad song path: {e}")))?;
    let revisions =
        as_rev(&count).ok_or_else(|| corrupt(format!("revision count is {count:?}")))?;
    let latest_rev =
        as_rev(&latest_rev).ok_or_else(|| corrupt(format!("latest revision is {latest_rev:?}")))?;
    let latest_at =
        as_text(latest_at).ok_or_else(|| corrupt("latest saved_at is not text".to_string()))?;
    Ok(SongSummary {
        song,
        revisions,
        latest_rev,
        latest_at,
    })
}
