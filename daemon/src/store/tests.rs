//! The store on real SQLite files in temp dirs.

use super::*;

mod crash;

pub(super) fn song(path: &str) -> SongPath {
    SongPath::new(path).expect("valid test song path")
}

fn state(pairs: &[(&str, Value)]) -> RackState {
    RackState {
        values: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn gain(db: f64) -> RackState {
    state(&[
        ("/chain/trim/gain", Value::Float(db)),
        ("/chain/trim/bypass", Value::Int(0)),
        ("/outboard/eq/mode", Value::Text("ms".into())),
    ])
}

fn fresh() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("state/rackd.db")).expect("open store");
    (dir, store)
}

#[test]
fn snapshot_safes_are_stored_with_their_revision_only() {
    let (_dir, mut store) = fresh();
    let s = song("a/b");
    let safes = vec!["eq".to_string(), "fx/input".to_string()];
    store.save(&s, "", "t", &gain(-1.0)).unwrap();
    store
        .save_with_safes(&s, "", "t", &gain(-2.0), &safes)
        .unwrap();
    // A revision without safes is stored exactly as before safes existed.
    let plain: String = store
        .conn
        .query_row("SELECT state_json FROM revisions WHERE rev = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(plain, state_to_json(&gain(-1.0)).unwrap());
    assert!(store.load(&s, Some(1)).unwrap().safes.is_empty());
    let second = store.load(&s, None).unwrap();
    assert_eq!(second.safes, safes);
    assert_eq!(second.state, gain(-2.0));
    let export = store.export(&s).unwrap();
    assert_eq!(export.revisions[1].safes, safes);
    let (_dir2, mut other) = fresh();
    other.import(&export).unwrap();
    assert_eq!(other.load(&s, Some(2)).unwrap().safes, safes);
}

/// A second, raw connection to the same file, as a stray `sqlite3` session would have.
fn raw(store: &Store) -> Connection {
    Connection::open(store.path()).expect("raw connection")
}

#[test]
fn store_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
}

#[test]
fn save_load_history_number_revisions_per_song() {
    let (_dir, mut store) = fresh();
    let a = song("client/album/01 intro");
    let b = song("client/album/02 outro");
    for (i, db) in [-1.0, -2.5, -3.5].into_iter().enumerate() {
        let info = store
            .save(&a, &format!("take {i}"), "ctl", &gain(db))
            .unwrap();
        assert_eq!(info.rev, i as u32 + 1);
        assert!(is_timestamp(&info.saved_at), "{}", info.saved_at);
    }
    assert_eq!(
        store
            .save(&b, "", "osc:127.0.0.1:9000", &gain(0.0))
            .unwrap()
            .rev,
        1
    );

    let latest = store.load(&a, None).unwrap();
    assert_eq!(latest.info.rev, 3);
    assert_eq!(latest.state, gain(-3.5));
    let second = store.load(&a, Some(2)).unwrap();
    assert_eq!(second.state, gain(-2.5));
    assert_eq!(second.info.note, "take 1");

    let history = store.history(&a).unwrap();
    assert_eq!(history.iter().map(|i| i.rev).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(history[0].note, "take 0");
    assert_eq!(history[2], latest.info);
    assert_eq!(store.history(&b).unwrap()[0].origin, "osc:127.0.0.1:9000");
}

#[test]
fn not_found_names_song_and_revision() {
    let (_dir, mut store) = fresh();
    let a = song("client/album/01 intro");
    match store.load(&a, None) {
        Err(e @ StoreError::NotFound { rev: None, .. }) => {
            assert!(e.to_string().contains("client/album/01 intro"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    store.save(&a, "", "ctl", &gain(0.0)).unwrap();
    match store.load(&a, Some(9)) {
        Err(e @ StoreError::NotFound { rev: Some(9), .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("client/album/01 intro") && msg.contains("revision 9"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    let other = song("nobody/else");
    assert!(matches!(
        store.history(&other),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.export(&other),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn list_respects_part_boundaries() {
    let (_dir, mut store) = fresh();
    for path in [
        "client/album/01",
        "client/album/02",
        "client/albumx/01",
        "other/x",
    ] {
        store.save(&song(path), "", "ctl", &gain(0.0)).unwrap();
    }
    store
        .save(&song("client/album/02"), "", "ctl", &gain(1.0))
        .unwrap();
    let names = |prefix: &str| -> Vec<String> {
        store
            .list(prefix)
            .unwrap()
            .into_iter()
            .map(|s| s.song.to_string())
            .collect()
    };
    assert_eq!(
        names("client/album"),
        ["client/album/01", "client/album/02"]
    );
    assert_eq!(
        names("client/album/"),
        ["client/album/01", "client/album/02"]
    );
    assert_eq!(names("client/album/01"), ["client/album/01"]);
    assert!(names("client/alb").is_empty());
    assert!(names("nothing").is_empty());
    assert_eq!(names("").len(), 4);
    let second = &store.list("client/album/02").unwrap()[0];
    assert_eq!((second.revisions, second.latest_rev), (2, 2));
    assert_eq!(
        second.latest_at,
        store
            .load(&song("client/album/02"), None)
            .unwrap()
            .info
            .saved_at
    );
}

#[test]
fn revisions_are_immutable_even_to_raw_sql() {
    let (_dir, mut store) = fresh();
    let a = song("a/b");
    store.save(&a, "keep me", "ctl", &gain(-1.0)).unwrap();
    let conn = raw(&store);
    for sql in [
        "UPDATE revisions SET note = 'changed'",
        "UPDATE revisions SET state_json = '{}'",
        "DELETE FROM revisions",
        "UPDATE songs SET path = 'x/y'",
        "DELETE FROM songs",
    ] {
        let err = conn.execute(sql, []).expect_err(sql);
        assert!(err.to_string().contains("immutable"), "{sql}: {err}");
    }
    let r = store.load(&a, None).unwrap();
    assert_eq!((r.info.note.as_str(), r.state), ("keep me", gain(-1.0)));
}

#[test]
fn bad_note_origin_or_state_is_refused_and_nothing_stored() {
    let (_dir, mut store) = fresh();
    let a = song("a/b");
    let long_note = "n".repeat(MAX_NOTE_CHARS + 1);
    assert!(matches!(
        store.save(&a, &long_note, "ctl", &gain(0.0)),
        Err(StoreError::InvalidNote(_))
    ));
    assert!(matches!(
        store.save(&a, "two\nlines", "ctl", &gain(0.0)),
        Err(StoreError::InvalidNote(_))
    ));
    assert!(matches!(
        store.save(&a, "tab\there", "ctl", &gain(0.0)),
        Err(StoreError::InvalidNote(_))
    ));
    let long_origin = "o".repeat(MAX_ORIGIN_CHARS + 1);
    assert!(matches!(
        store.save(&a, "", &long_origin, &gain(0.0)),
        Err(StoreError::InvalidOrigin(_))
    ));
    assert!(matches!(
        store.save(&a, "", "ctl", &gain(f64::NAN)),
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.save_current(&gain(f64::INFINITY)),
        Err(StoreError::InvalidState(_))
    ));
    assert!(matches!(
        store.history(&a),
        Err(StoreError::NotFound { .. })
    ));
    // The limits themselves are fine, counted in characters, not bytes.
    let max_note = "é".repeat(MAX_NOTE_CHARS);
    assert_eq!(
        store
            .save(&a, &max_note, &"o".repeat(MAX_ORIGIN_CHARS), &gain(0.0))
            .unwrap()
            .rev,
        1
    );
}

#[test]
fn floats_come_back_bit_exact() {
    let (_dir, mut store) = fresh();
    let a = song("floats");
    let values = [
        -3.5,
        0.1 + 0.2,
        -0.0,
        1e-300,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        19_999.99,
    ];
    let s = RackState {
        values: values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("/p{i}"), Value::Float(*v)))
            .collect(),
    };
    store.save(&a, "", "ctl", &s).unwrap();
    let back = store.load(&a, None).unwrap().state;
    for (i, v) in values.iter().enumerate() {
        match back.values.get(&format!("/p{i}")) {
            Some(Value::Float(f)) => assert_eq!(f.to_bits(), v.to_bits(), "{v}"),
            other => panic!("{v}: {other:?}"),
        }
    }
}

#[test]
fn export_import_round_trip_into_fresh_database() {
    let (_dir, mut source) = fresh();
    let a = song("client/album/03 song");
    source.save(&a, "first", "ctl", &gain(-1.0)).unwrap();
    source
        .save(&a, "second — ü", "osc:10.0.0.2:9000", &gain(-2.0))
        .unwrap();
    let doc = source.export(&a).unwrap();
    assert_eq!(
        (doc.format.as_str(), doc.version),
        (EXPORT_FORMAT, EXPORT_VERSION)
    );
    let text = export_json(&doc).unwrap();
    assert!(
        text.contains("\n  \"revisions\": ["),
        "pretty JSON:\n{text}"
    );
    let parsed = parse_export(&text).unwrap();
    assert_eq!(parsed, doc);

    let (_dir2, mut target) = fresh();
    let report = target.import(&parsed).unwrap();
    assert_eq!(
        report,
        ImportReport {
            song: a.clone(),
            added: vec![1, 2],
            skipped: 0
        }
    );
    let again = target.export(&a).unwrap();
    assert_eq!(
        again.revisions, doc.revisions,
        "a new song is copied exactly"
    );
}

#[test]
fn import_twice_adds_nothing_and_appends_only_new_revisions() {
    let (_dir, mut room1) = fresh();
    let a = song("client/album/03 song");
    room1.save(&a, "first", "ctl", &gain(-1.0)).unwrap();
    room1.save(&a, "second", "ctl", &gain(-2.0)).unwrap();
    let doc = room1.export(&a).unwrap();

    // Back into the room it came from: everything is already there.
    let report = room1.import(&doc).unwrap();
    assert_eq!((report.added.len(), report.skipped), (0, 2));

    let (_dir2, mut room2) = fresh();
    room2.import(&doc).unwrap();
    let report = room2.import(&doc).unwrap();
    assert_eq!((report.added.len(), report.skipped), (0, 2));
    assert_eq!(room2.history(&a).unwrap().len(), 2);

    // Both rooms move on; room 1's new work arrives in room 2 as new revisions.
    room2.save(&a, "room 2 tweak", "ctl", &gain(-2.2)).unwrap();
    let room2_before = room2.export(&a).unwrap().revisions;
    let r3 = room1.save(&a, "third", "osc:mixer", &gain(-3.0)).unwrap();
    let report = room2.import(&room1.export(&a).unwrap()).unwrap();
    assert_eq!((report.added, report.skipped), (vec![4], 2));
    let after = room2.export(&a).unwrap().revisions;
    assert_eq!(after[..3], room2_before[..], "existing revisions untouched");
    let imported = &after[3];
    assert_eq!(imported.rev, 4);
    assert_eq!(imported.origin, "import:osc:mixer@3");
    assert_eq!(
        (imported.saved_at.as_str(), imported.note.as_str()),
        (r3.saved_at.as_str(), "third")
    );
    assert_eq!(imported.state, gain(-3.0));
}

#[test]
fn import_origin_stays_within_bound() {
    let long = "x".repeat(MAX_ORIGIN_CHARS);
    let origin = import_origin(&long, u32::MAX);
    assert_eq!(origin.chars().count(), MAX_ORIGIN_CHARS);
    assert!(origin.starts_with("import:xx") && origin.ends_with("@4294967295"));
    assert_eq!(import_origin("ctl", 2), "import:ctl@2");
}

#[test]
fn bad_exports_are_refused_and_nothing_stored_is_touched() {
    let (_dir, mut store) = fresh();
    let a = song("client/album/03 song");
    store.save(&a, "first", "ctl", &gain(-1.0)).unwrap();
    let good = store.export(&a).unwrap();
    let good_json: serde_json::Value = serde_json::from_str(&export_json(&good).unwrap()).unwrap();
    let before = (store.export(&a).unwrap().revisions, store.list("").unwrap());

    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good_json.clone();
        f(&mut v);
        v.to_string()
    };
    let cases: Vec<(&str, String)> = vec![
        ("not JSON", "{ nope".to_string()),
        ("format", edit(&|v| v["format"] = "something-else".into())),
        (
            "format",
            edit(&|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("format")
                    .map(drop)
                    .unwrap_or(())
            }),
        ),
        ("newer", edit(&|v| v["version"] = 2.into())),
        ("version", edit(&|v| v["version"] = 0.into())),
        ("..", edit(&|v| v["song"] = "../etc/passwd".into())),
        (
            "no revisions",
            edit(&|v| v["revisions"] = serde_json::json!([])),
        ),
        (
            "note",
            edit(&|v| v["revisions"][0]["note"] = "n".repeat(MAX_NOTE_CHARS + 1).into()),
        ),
        (
            "control",
            edit(&|v| v["revisions"][0]["note"] = "a\u{7}b".into()),
        ),
        (
            "origin",
            edit(&|v| v["revisions"][0]["origin"] = "o".repeat(MAX_ORIGIN_CHARS + 1).into()),
        ),
        (
            "saved_at",
            edit(&|v| v["revisions"][0]["saved_at"] = "yesterday".into()),
        ),
        ("increasing", edit(&|v| v["revisions"][0]["rev"] = 0.into())),
        (
            "increasing",
            edit(&|v| {
                let first = v["revisions"][0].clone();
                v["revisions"].as_array_mut().unwrap().push(first);
            }),
        ),
        (
            "values",
            edit(&|v| v["revisions"][0]["state"]["values"] = serde_json::json!([1, 2])),
        ),
    ];
    for (what, text) in &cases {
        match parse_export(text) {
            Err(StoreError::InvalidExport(reason)) => {
                let lower = reason.to_lowercase();
                let hint = match *what {
                    "newer" => "newer",
                    "no revisions" => "no revisions",
                    "control" => "control",
                    "values" => "line",
                    other => other,
                };
                assert!(lower.contains(&hint.to_lowercase()), "{what}: {reason}");
            }
            other => panic!("{what}: accepted or wrong error: {other:?}"),
        }
    }

    // A document built in memory is checked by import itself.
    let mut bad = good.clone();
    bad.revisions[0]
        .state
        .values
        .insert("/x".into(), Value::Float(f64::NAN));
    bad.revisions.insert(0, good.revisions[0].clone());
    bad.revisions[0].note = "fresh".into();
    assert!(matches!(
        store.import(&bad),
        Err(StoreError::InvalidExport(_))
    ));
    let mut other_song = bad.clone();
    other_song.song = song("new/song");
    assert!(matches!(
        store.import(&other_song),
        Err(StoreError::InvalidExport(_))
    ));

    assert_eq!(
        (store.export(&a).unwrap().revisions, store.list("").unwrap()),
        before
    );
}

#[test]
fn current_state_round_trips_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rackd.db");
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.load_current().unwrap(), None);
    store.save_current(&gain(-1.0)).unwrap();
    store.save_current(&gain(-4.5)).unwrap();
    assert_eq!(store.load_current().unwrap(), Some(gain(-4.5)));
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.load_current().unwrap(), Some(gain(-4.5)));
}

#[test]
fn reopen_keeps_everything_with_durable_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rackd.db");
    let a = song("x/y");
    let mut store = Store::open(&path).unwrap();
    store.save(&a, "one", "ctl", &gain(1.0)).unwrap();
    store.save(&a, "two", "ctl", &gain(2.0)).unwrap();
    let history = store.history(&a).unwrap();
    drop(store);

    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.history(&a).unwrap(), history);
    assert_eq!(store.save(&a, "three", "ctl", &gain(3.0)).unwrap().rev, 3);
    let pragma = |name: &str| -> String {
        store
            .conn
            .query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, SqlValue>(0))
            .map(|v| format!("{v:?}"))
            .unwrap()
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
    assert_eq!(pragma("foreign_keys"), "Integer(1)");
    assert_eq!(pragma("user_version"), format!("Integer({SCHEMA_VERSION})"));
}

#[test]
fn newer_schema_is_refused_without_touching_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rackd.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    match Store::open(&path) {
        Err(e @ StoreError::NewerSchema { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("upgrade rackd") && msg.contains("rackd.db"),
                "{msg}"
            );
        }
        other => panic!("{other:?}"),
    }
    let version: u32 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION + 1);
}

#[test]
fn a_file_that_is_not_a_database_gives_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    std::fs::write(
        &path,
        "this is not SQLite, just some text that is long enough ".repeat(20),
    )
    .unwrap();
    match Store::open(&path) {
        Err(e @ StoreError::Sqlite { .. }) => {
            assert!(e.to_string().contains("notes.db"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn damaged_rows_are_reported_as_corrupt() {
    let (_dir, mut store) = fresh();
    let a = song("a/b");
    store.save(&a, "good", "ctl", &gain(0.0)).unwrap();
    let conn = raw(&store);
    conn.execute(
        "INSERT INTO revisions (song_id, rev, saved_at, note, origin, state_json)
         SELECT id, 2, '2026-01-01T00:00:00.000Z', '', 'hand', '{not json' FROM songs",
        [],
    )
    .unwrap();
    match store.load(&a, None) {
        Err(e @ StoreError::Corrupt { rev: Some(2), .. }) => {
            assert!(e.to_string().contains("a/b@2"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.load(&a, Some(1)).unwrap().info.note, "good");
    assert_eq!(store.history(&a).unwrap().len(), 2);
    assert!(matches!(store.export(&a), Err(StoreError::Corrupt { .. })));

    store.save_current(&gain(0.0)).unwrap();
    conn.execute("UPDATE current SET state_json = '[1]'", [])
        .unwrap();
    assert!(matches!(
        store.load_current(),
        Err(StoreError::CorruptCurrent { .. })
    ));
}

#[test]
fn timestamps_are_rfc3339_utc_with_millis() {
    let at = |secs: u64, ms: u64| {
        format_timestamp(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms))
    };
    assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
    assert_eq!(at(1_795_467_845, 123), "2026-11-23T21:04:05.123Z");
    assert_eq!(at(1_709_251_199, 999), "2024-02-29T23:59:59.999Z");
    assert_eq!(at(951_868_800, 0), "2000-03-01T00:00:00.000Z");
    assert_eq!(at(951_868_799, 0), "2000-02-29T23:59:59.000Z");
    assert!(is_timestamp(&now_timestamp()));
    for bad in [
        "",
        "2026-11-23T21:04:05Z",
        "2026-13-23T21:04:05.123Z",
        "2026-11-23 21:04:05.123Z",
        "2026-11-23T21:04:05.123+00:00",
    ] {
        assert!(!is_timestamp(bad), "{bad}");
    }
}
