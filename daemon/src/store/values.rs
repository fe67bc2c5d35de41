//! What may be stored (one-line notes and origins, finite values) and the
//! timestamps every row carries (RFC 3339 UTC with milliseconds).

use super::*;

/// Refuses text that would not read as one line in a list, or that is too long.
pub(super) fn check_text(what: &str, text: &str, max_chars: usize) -> Result<(), String> {
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "{what} is {chars} characters long; the limit is {max_chars}"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{what} contains a control character (newline, tab, …); use one line of plain text"
        ));
    }
    Ok(())
}

/// Refuses states JSON cannot hold faithfully: NaN and infinities would come back as `null`.
pub(super) fn check_state(state: &RackState) -> Result<(), String> {
    for (address, value) in &state.values {
        if let Value::Float(f) = value {
            if !f.is_finite() {
                return Err(format!("{address} is {f}, not a finite number"));
            }
        }
    }
    Ok(())
}

/// The state as stored: compact JSON, keys in order (so equal states give equal text).
pub(super) fn state_to_json(state: &RackState) -> Result<String, StoreError> {
    serde_json::to_string(state).map_err(|e| StoreError::InvalidState(e.to_string()))
}

/// A revision's stored text: the state, plus `"safes"` when it has any
/// (so a revision without safes is stored exactly as before they existed).
pub(super) fn stored_json(state: &RackState, safes: &[String]) -> Result<String, StoreError> {
    if safes.is_empty() {
        return state_to_json(state);
    }
    let mut raw =
        serde_json::to_value(state).map_err(|e| StoreError::InvalidState(e.to_string()))?;
    if let Some(o) = raw.as_object_mut() {
        o.insert("safes".into(), serde_json::json!(safes));
    }
    serde_json::to_string(&raw).map_err(|e| StoreError::InvalidState(e.to_string()))
}

/// Now as RFC 3339 UTC with milliseconds, the form every stored time has.
pub(super) fn now_timestamp() -> String {
    format_timestamp(SystemTime::now())
}

/// Formats a time as `2026-11-23T21:04:05.123Z` (times before 1970 read as 1970).
pub(super) fn format_timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let in_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub(super) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Whether `text` has the stored time form `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(super) fn is_timestamp(text: &str) -> bool {
    let b = text.as_bytes();
    let shape = b.len() == 24
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            23 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    // Only evaluated once the shape says these are two ASCII digits.
    let num = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    shape
        && (1..=12).contains(&num(5))
        && (1..=31).contains(&num(8))
        && num(11) < 24
        && num(14) < 60
        && num(17) < 61
}
