//! Song export files: reading (with every check before anything is
//! stored) and writing.

use super::*;

/// Reads and validates an export file's text; errors say what is wrong with it.
pub fn parse_export(text: &str) -> Result<SongExport, StoreError> {
    let raw: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| StoreError::InvalidExport(format!("not JSON: {e}")))?;
    // Check format and version first so a foreign or newer file gets a clear answer.
    let format = raw.get("format").and_then(|f| f.as_str());
    if format != Some(EXPORT_FORMAT) {
        return Err(StoreError::InvalidExport(format!(
            "the \"format\" field is {}, expected \"{EXPORT_FORMAT}\"",
            format.map_or("missing".to_string(), |f| format!("{f:?}"))
        )));
    }
    match raw.get("version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(EXPORT_VERSION) => {}
        Some(v) if v > u64::from(EXPORT_VERSION) => {
            return Err(StoreError::InvalidExport(format!(
                "export version {v} is newer than version {EXPORT_VERSION} that this rackd reads; upgrade rackd"
            )));
        }
        _ => {
            return Err(StoreError::InvalidExport(format!(
                "the \"version\" field must be {EXPORT_VERSION}"
            )));
        }
    }
    // Parse the text again (not the Value) so errors carry line and column.
    let doc: SongExport =
        serde_json::from_str(text).map_err(|e| StoreError::InvalidExport(e.to_string()))?;
    validate_export(&doc)?;
    Ok(doc)
}

/// The export as pretty JSON, for a file an engineer can read and diff.
pub fn export_json(doc: &SongExport) -> Result<String, StoreError> {
    serde_json::to_string_pretty(doc).map_err(|e| StoreError::InvalidState(e.to_string()))
}

/// Checks everything `import` relies on, before anything is written.
pub(super) fn validate_export(doc: &SongExport) -> Result<(), StoreError> {
    let bad = |reason: String| StoreError::InvalidExport(reason);
    if doc.format != EXPORT_FORMAT {
        return Err(bad(format!(
            "format is {:?}, expected \"{EXPORT_FORMAT}\"",
            doc.format
        )));
    }
    if doc.version != EXPORT_VERSION {
        return Err(bad(format!(
            "version is {}, this rackd reads version {EXPORT_VERSION}",
            doc.version
        )));
    }
    if doc.revisions.is_empty() {
        return Err(bad("it has no revisions".to_string()));
    }
    let mut previous = 0;
    for r in &doc.revisions {
        let at = format!("revision {}", r.rev);
        if r.rev <= previous {
            return Err(bad(format!(
                "{at}: revision numbers must be positive and increasing"
            )));
        }
        previous = r.rev;
        if !is_timestamp(&r.saved_at) {
            return Err(bad(format!(
                "{at}: saved_at {:?} is not like 2026-11-23T21:04:05.123Z",
                r.saved_at
            )));
        }
        check_text("note", &r.note, MAX_NOTE_CHARS).map_err(|e| bad(format!("{at}: {e}")))?;
        check_text("origin", &r.origin, MAX_ORIGIN_CHARS).map_err(|e| bad(format!("{at}: {e}")))?;
        check_state(&r.state).map_err(|e| bad(format!("{at}: {e}")))?;
    }
    Ok(())
}
