//! Every address of the OSC address space, written once: the server, `rackd
//! ctl`, tests and future front ends build them here.

/// `/rackd/error ,ss address message`: a message failed.
pub const ERROR: &str = "/rackd/error";
/// `/rackd/ping [args]` → `/rackd/pong [args]`.
pub const PING: &str = "/rackd/ping";
/// Answer to [`PING`], with its arguments.
pub const PONG: &str = "/rackd/pong";
/// `/rackd/subscribe [,i reply_port] [,s pattern]...`.
pub const SUBSCRIBE: &str = "/rackd/subscribe";
/// `/rackd/subscribed ,i lease_seconds`.
pub const SUBSCRIBED: &str = "/rackd/subscribed";
/// `/rackd/unsubscribe [,i reply_port]`.
pub const UNSUBSCRIBE: &str = "/rackd/unsubscribe";
/// Answer to [`UNSUBSCRIBE`].
pub const UNSUBSCRIBED: &str = "/rackd/unsubscribed";
/// `/rackd/snapshot/save ,s song [,s note] [,s safe]...`.
pub const SNAPSHOT_SAVE: &str = "/rackd/snapshot/save";
/// `/rackd/snapshot/saved ,si song rev` (to the sender and subscribers).
pub const SNAPSHOT_SAVED: &str = "/rackd/snapshot/saved";
/// `/rackd/snapshot/recall ,s song [,i rev] [,s full|changed]`.
pub const SNAPSHOT_RECALL: &str = "/rackd/snapshot/recall";
/// `/rackd/snapshot/recalled ,si song rev` (to subscribers).
pub const SNAPSHOT_RECALLED: &str = "/rackd/snapshot/recalled";
/// `/rackd/snapshot/list [,s prefix]`.
pub const SNAPSHOT_LIST: &str = "/rackd/snapshot/list";
/// `/rackd/snapshot/history ,s song`.
pub const SNAPSHOT_HISTORY: &str = "/rackd/snapshot/history";
/// `/rackd/snapshot/diff ,ss a b`.
pub const SNAPSHOT_DIFF: &str = "/rackd/snapshot/diff";
/// `/rackd/snapshot/export ,s song`.
pub const SNAPSHOT_EXPORT: &str = "/rackd/snapshot/export";
/// `/rackd/snapshot/import ,s json`.
pub const SNAPSHOT_IMPORT: &str = "/rackd/snapshot/import";
/// Answer to [`SNAPSHOT_IMPORT`].
pub const SNAPSHOT_IMPORTED: &str = "/rackd/snapshot/imported";
/// `/rackd/recall/report ,s json`: the outcome of a recall or undo.
pub const RECALL_REPORT: &str = "/rackd/recall/report";
/// `/rackd/recall/progress ,sii device done total` (to subscribers).
pub const RECALL_PROGRESS: &str = "/rackd/recall/progress";
/// `/rackd/recall/undo`.
pub const RECALL_UNDO: &str = "/rackd/recall/undo";
/// `/rackd/recall/confirm ,s device`.
pub const RECALL_CONFIRM: &str = "/rackd/recall/confirm";
/// `/rackd/recall/confirmed ,s device`.
pub const RECALL_CONFIRMED: &str = "/rackd/recall/confirmed";
/// `/rackd/recall/sheet ,s song`.
pub const RECALL_SHEET: &str = "/rackd/recall/sheet";
/// `/rackd/describe` → the parameter tree (JSON).
pub const DESCRIBE: &str = "/rackd/describe";
/// `/rackd/info` → what this daemon is (JSON).
pub const INFO: &str = "/rackd/info";
/// `/rackd/status` → how this daemon is doing (JSON).
pub const STATUS: &str = "/rackd/status";
/// `/rackd/chain/layout [,s slot...]`.
pub const CHAIN_LAYOUT: &str = "/rackd/chain/layout";
/// `/rackd/print ,sss[i][s] song input output [bits] ["overwrite"]`.
pub const PRINT: &str = "/rackd/print";
/// `/rackd/print/started ,s song`.
pub const PRINT_STARTED: &str = "/rackd/print/started";
/// `/rackd/print/progress ,sf song fraction`.
pub const PRINT_PROGRESS: &str = "/rackd/print/progress";
/// `/rackd/print/done ,s json`.
pub const PRINT_DONE: &str = "/rackd/print/done";
/// `/rackd/print/cancel`.
pub const PRINT_CANCEL: &str = "/rackd/print/cancel";
/// Answer to [`PRINT_CANCEL`].
pub const PRINT_CANCELLED: &str = "/rackd/print/cancelled";

/// Prefix of the daemon's own commands.
pub const RACKD_PREFIX: &str = "/rackd/";
/// Prefix of the DSP and insert slots.
pub const CHAIN_PREFIX: &str = "/chain/";
/// Prefix of the analog gear.
pub const OUTBOARD_PREFIX: &str = "/outboard/";
/// Prefix of the monitor section; a recall leaves it alone.
pub const MONITOR_PREFIX: &str = "/monitor/";
/// Prefix of the meter streams.
pub const METER_PREFIX: &str = "/meter/";
/// Last part of a fader-position address (`A/norm`).
pub const NORM_SUFFIX: &str = "/norm";
/// Last part of an insert's measurement request.
pub const MEASURE_SUFFIX: &str = "/measure";

/// `/chain/<slot>/<param>`.
pub fn chain(slot: &str, param: &str) -> String {
    format!("{CHAIN_PREFIX}{slot}/{param}")
}

/// `/outboard/<device>/<param>`.
pub fn outboard(device: &str, param: &str) -> String {
    format!("{OUTBOARD_PREFIX}{device}/{param}")
}

/// `/outboard/<device>/`: every parameter of a device.
pub fn outboard_device(device: &str) -> String {
    format!("{OUTBOARD_PREFIX}{device}/")
}

/// `/monitor/<param>`.
pub fn monitor(param: &str) -> String {
    format!("{MONITOR_PREFIX}{param}")
}

/// `/meter/<point>/<quantity>`.
pub fn meter(point: &str, quantity: &str) -> String {
    format!("{METER_PREFIX}{point}/{quantity}")
}

/// `A/norm` of a parameter address.
pub fn norm(address: &str) -> String {
    format!("{address}{NORM_SUFFIX}")
}

/// `/chain/<slot>/measure`.
pub fn measure(slot: &str) -> String {
    chain(slot, "measure")
}

/// `/chain/<slot>/measured ,iiff samples inverted gain_db confidence_db`.
pub fn measured(slot: &str) -> String {
    chain(slot, "measured")
}

/// The address (or, for a whole device, the prefix ending in `/`) a recall
/// safe names: `eq` → `/outboard/eq/`, `eq/low_gain` → `/outboard/eq/low_gain`.
pub fn recall_safe(safe: &str) -> String {
    if safe.contains('/') {
        format!("{OUTBOARD_PREFIX}{safe}")
    } else {
        outboard_device(safe)
    }
}

/// Whether `address` is covered by a list of recall safes as
/// [`recall_safe`] makes them (entries ending in `/` cover a subtree).
pub fn is_recall_safe(safes: &[String], address: &str) -> bool {
    safes.iter().any(|p| {
        if p.ends_with('/') {
            address.starts_with(p.as_str())
        } else {
            address == p
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_make_the_documented_addresses() {
        assert_eq!(chain("eq", "b1_gain"), "/chain/eq/b1_gain");
        assert_eq!(
            outboard("pultec", "low_boost"),
            "/outboard/pultec/low_boost"
        );
        assert_eq!(monitor("level"), "/monitor/level");
        assert_eq!(meter("out", "lufs_m"), "/meter/out/lufs_m");
        assert_eq!(norm("/chain/trim/gain"), "/chain/trim/gain/norm");
        assert_eq!(measured("gear"), "/chain/gear/measured");
        assert_eq!(recall_safe("eq"), "/outboard/eq/");
        assert_eq!(recall_safe("eq/low_gain"), "/outboard/eq/low_gain");
        let safes = vec![recall_safe("eq"), recall_safe("comp/ratio")];
        assert!(is_recall_safe(&safes, "/outboard/eq/anything"));
        assert!(is_recall_safe(&safes, "/outboard/comp/ratio"));
        assert!(!is_recall_safe(&safes, "/outboard/comp/attack"));
        assert!(!is_recall_safe(&safes, "/outboard/equalizer/x"));
    }
}
