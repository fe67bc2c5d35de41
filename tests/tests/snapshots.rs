//! Per-song snapshots through `rackd ctl`: save, history, diff, recall (seen
//! by a subscribed surface), list, export/import into a second room, and bad
//! song paths refused with exit code 2 and nothing stored.

use rackd_tests::*;
use rosc::OscType;

const SONG: &str = "client/album/01 intro";
const GAIN: &str = "/chain/trim/gain";

fn set_gain(d: &Daemon, v: &str) {
    let out = d.ctl_ok(&["set", GAIN, "--", v]);
    assert!(out.contains(GAIN), "ctl set printed {out:?}");
}

#[test]
fn save_history_diff_recall_list_export_import() {
    let d = Daemon::start(Setup::default());
    set_gain(&d, "-3");
    let out = d.ctl_ok(&["save", SONG, "--note", "first pass"]);
    assert!(out.contains("revision 1"), "{out}");

    set_gain(&d, "-8.5");
    let out = d.ctl_ok(&["save", SONG]);
    assert!(out.contains("revision 2"), "{out}");

    let history = d.ctl_ok(&["history", SONG]);
    let revs: Vec<&str> = history
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(revs, ["1", "2"], "history:\n{history}");
    assert!(history.contains("first pass"), "note missing:\n{history}");

    let diff = d.ctl_ok(&["diff", &format!("{SONG}@1"), &format!("{SONG}@2")]);
    assert!(
        diff.lines()
            .any(|l| l.starts_with(GAIN) && l.contains("-3") && l.contains("-8.5")),
        "diff @1 @2:\n{diff}"
    );
    assert_eq!(diff.lines().count(), 1, "only the gain changed:\n{diff}");

    set_gain(&d, "2");
    let diff = d.ctl_ok(&["diff", SONG, "current"]);
    assert!(
        diff.lines()
            .any(|l| l.starts_with(GAIN) && l.contains("-8.5") && l.contains('2')),
        "diff against current:\n{diff}"
    );

    // Recall of revision 1 is seen by a subscribed surface.
    let surface = d.udp();
    surface.subscribe(&[]);
    let out = d.ctl_ok(&["recall", SONG, "--rev", "1"]);
    assert!(out.contains("@1"), "{out}");
    assert!(
        surface
            .recv_until(WAIT, |m| is_value(m, GAIN, -3.0, 1e-4))
            .is_some(),
        "subscriber saw no recall feedback"
    );
    assert_eq!(d.get_f32(GAIN), -3.0);

    d.ctl_ok(&["save", "client/other/02 outro"]);
    d.ctl_ok(&["save", "someone else/x/1"]);
    let list = d.ctl_ok(&["list", "client/album"]);
    assert!(list.contains(SONG), "{list}");
    assert!(!list.contains("02 outro"), "prefix not applied:\n{list}");
    assert!(
        !list.contains("someone else"),
        "prefix not applied:\n{list}"
    );
    let all = d.ctl_ok(&["list"]);
    assert_eq!(all.lines().count(), 3, "{all}");

    // Export, then import into a second room with a fresh state dir.
    let file = d.dir.path().join("song.json");
    d.ctl_ok(&["export", SONG, file.to_str().unwrap()]);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["revisions"].as_array().map(Vec::len), Some(2), "{doc}");

    let d2 = Daemon::start(Setup::default());
    let out = d2.ctl_ok(&["import", file.to_str().unwrap()]);
    assert!(
        out.contains("2 revisions added (as 1, 2)") && out.contains("0 already present"),
        "{out}"
    );
    let history2 = d2.ctl_ok(&["history", SONG]);
    assert_eq!(history2.lines().count(), 2, "{history2}");
    let out = d2.ctl_ok(&["import", file.to_str().unwrap()]);
    assert!(
        out.contains("0 revisions added") && out.contains("2 already present"),
        "second import added something: {out}"
    );
    assert_eq!(d2.ctl_ok(&["history", SONG]).lines().count(), 2);
    let diff = d2.ctl_ok(&["diff", &format!("{SONG}@1"), &format!("{SONG}@2")]);
    assert!(
        diff.contains(GAIN),
        "imported revisions differ from the originals:\n{diff}"
    );
    d2.ctl_ok(&["recall", SONG]);
    assert_eq!(d2.get_f32(GAIN), -8.5);
}

#[test]
fn bad_song_paths_exit_2_and_store_nothing() {
    let d = Daemon::start(Setup::default());
    let long = "a/".repeat(300) + "b";
    for bad in [
        "../x",
        "a/../b",
        "a\u{1}b",
        "tab\there",
        "/leading",
        "",
        &long,
    ] {
        let out = d.ctl(&["save", bad]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "save {bad:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "save {bad:?}: no message");
    }
    let out = d.ctl(&["recall", "../x"]);
    assert_eq!(out.status.code(), Some(2));
    let list = d.ctl_ok(&["list"]);
    assert_eq!(list.trim(), "", "something was stored:\n{list}");

    // Over OSC the sender gets /rackd/error and nothing is saved.
    let c = d.udp();
    c.send(
        "/rackd/snapshot/save",
        vec![OscType::String("x/../../etc".into())],
    );
    let m = c
        .recv_until(WAIT, |m| {
            m.addr == "/rackd/error" || m.addr == "/rackd/snapshot/saved"
        })
        .expect("no reply");
    assert_eq!(m.addr, "/rackd/error", "{m:?}");
    assert_eq!(d.ctl_ok(&["list"]).trim(), "");
}

/// Invariant 4: a revision, once acknowledged, survives a SIGKILL at any
/// moment of the following saves, and the database stays readable.
#[test]
fn acknowledged_revisions_survive_sigkill_during_a_save_loop() {
    const LOOP_SONG: &str = "client/loop/kill test";
    let mut d = Daemon::start(Setup::default());
    let mut acknowledged: Vec<i32> = Vec::new();
    for round in 0..3u64 {
        let port = d.port;
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = count.clone();
        let saver = std::thread::spawn(move || {
            let mut acks = Vec::new();
            let mut t = OscTcp::connect(port, Framing::Slip);
            // Bounded, so the history stays a modest reply; paced, so the kill
            // lands while saves are still going on.
            for i in 0..80 {
                std::thread::sleep(std::time::Duration::from_millis(3));
                t.send(
                    "/rackd/snapshot/save",
                    vec![
                        OscType::String(LOOP_SONG.into()),
                        OscType::String(format!("round {round} save {i}")),
                    ],
                );
                match t.recv_until(WAIT, |m| {
                    m.addr == "/rackd/snapshot/saved" || m.addr == "/rackd/error"
                }) {
                    Some(m) if m.addr == "/rackd/snapshot/saved" => match m.args[..] {
                        [OscType::String(_), OscType::Int(rev)] => {
                            acks.push(rev);
                            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => panic!("bad /rackd/snapshot/saved {m:?}"),
                    },
                    Some(m) => panic!("save failed: {m:?}"),
                    None => break, // killed
                }
            }
            acks
        });
        // Kill at a moment that differs from round to round (and run to run).
        let jitter = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64
            % 200;
        wait_for(std::time::Duration::from_secs(20), || {
            // At least a few saves acknowledged before the kill.
            (count.load(std::sync::atomic::Ordering::Relaxed) >= 3).then_some(())
        })
        .expect("no save acknowledged");
        std::thread::sleep(std::time::Duration::from_millis(20 + jitter));
        d.kill9();
        let acks = saver.join().expect("saver thread");
        assert!(!acks.is_empty(), "round {round}: nothing was acknowledged");
        eprintln!(
            "round {round}: {} saves acknowledged before SIGKILL",
            acks.len()
        );
        acknowledged.extend(acks);
        d.restart();
        let history = d.ctl_ok(&["history", LOOP_SONG]);
        let stored: Vec<i32> = history
            .lines()
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect();
        for rev in &acknowledged {
            assert!(
                stored.contains(rev),
                "round {round}: acknowledged revision {rev} is lost; stored {stored:?}"
            );
        }
        let expected: Vec<i32> = (1..=stored.len() as i32).collect();
        assert_eq!(stored, expected, "round {round}: revisions not 1..N");
    }
}

/// `history`, `export` and `import` of a song whose documents are far over
/// 64 KiB (1200 revisions) go through `rackd ctl` over TCP.
#[test]
fn history_export_and_import_of_a_song_with_many_revisions() {
    const BIG: &str = "client/big/many revisions";
    let d = Daemon::start(Setup::default());
    let mut t = OscTcp::connect(d.port, Framing::Slip);
    for i in 0..1200 {
        t.send(
            "/rackd/snapshot/save",
            vec![
                OscType::String(BIG.into()),
                OscType::String(format!("save {i}")),
            ],
        );
    }
    let replies = t.sync();
    assert_eq!(
        replies
            .iter()
            .filter(|m| m.addr == "/rackd/snapshot/saved")
            .count(),
        1200
    );
    assert_eq!(d.ctl_ok(&["history", BIG]).lines().count(), 1200);
    let file = d.dir.path().join("big.json");
    d.ctl_ok(&["export", BIG, file.to_str().unwrap()]);
    let d2 = Daemon::start(Setup::default());
    d2.ctl_ok(&["import", file.to_str().unwrap()]);
    assert_eq!(d2.ctl_ok(&["history", BIG]).lines().count(), 1200);
}

#[test]
fn an_imported_value_this_rack_refuses_is_reported_as_refused_not_as_missing() {
    let d = Daemon::start(Setup {
        chain: vec![("eq".into(), "eq".into())],
        ..Setup::default()
    });
    d.ctl_ok(&["save", "album/05 song"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("song.json");
    d.ctl_ok(&["export", "album/05 song", file.to_str().unwrap()]);
    // Another room's file with a band type this EQ does not have.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    doc["song"] = "album/06 song".into();
    assert!(
        doc["revisions"][0]["state"]["values"]["/chain/eq/b1_type"].is_string(),
        "{doc}"
    );
    doc["revisions"][0]["state"]["values"]["/chain/eq/b1_type"] = "wobbly".into();
    std::fs::write(&file, doc.to_string()).unwrap();
    d.ctl_ok(&["import", file.to_str().unwrap()]);
    let out = d.ctl_ok(&["recall", "album/06 song"]);
    assert!(
        out.contains("refused by this rack") && out.contains("/chain/eq/b1_type"),
        "{out}"
    );
    assert!(!out.contains("not on this rack"), "{out}");
    assert_ne!(
        d.ctl_ok(&["get", "/chain/eq/b1_type"]).trim_end(),
        "/chain/eq/b1_type wobbly"
    );
}
