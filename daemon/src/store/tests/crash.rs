//! The crash test: a loop of saves killed with SIGKILL at random moments; no
//! acknowledged revision may be lost.

use super::*;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

/// Names the database the child half of the crash test saves into; unset, the child does nothing.
const CRASH_CHILD_ENV: &str = "RACKD_STORE_CRASH_CHILD";
/// Songs the crash child saves to (one with a space, as real song paths have).
const CRASH_SONGS: [&str; 3] = ["crash/a", "crash/b/01 intro", "crash/c"];

/// Small xorshift generator, so the crash test needs no `rand`.
struct XorShift(u64);

impl XorShift {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        XorShift((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x % n
    }
}

/// A state of 10..2000 parameters, with floats such as knobs hold (two decimals).
fn random_state(rng: &mut XorShift) -> RackState {
    let n = 10 + rng.below(1991);
    let values = (0..n)
        .map(|i| {
            let value = match rng.below(3) {
                0 => Value::Int(rng.below(100) as i64 - 50),
                1 => Value::Float((rng.below(400_001) as f64 - 200_000.0) / 100.0),
                _ => Value::Text(format!("label {}", rng.below(8))),
            };
            (format!("/chain/slot{}/p{i}", i / 16), value)
        })
        .collect();
    RackState { values }
}

/// FNV-1a of a state's stored JSON: what the child acknowledged, compared after each kill.
fn state_hash(state: &RackState) -> u64 {
    fnv1a(&state_to_json(state).expect("state serializes"))
}

/// FNV-1a, 64 bits: enough to tell states apart in the crash test.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One line to the parent, in a single write (atomic on a pipe), so a kill never cuts it.
fn tell_parent(line: &str) {
    let mut err = std::io::stderr().lock();
    err.write_all(format!("{line}\n").as_bytes())
        .expect("write to parent");
    err.flush().expect("flush to parent");
}

/// Child half of `kill9_during_saves_never_loses_an_acknowledged_revision`:
/// the parent runs that same test again in a child process with
/// `CRASH_CHILD_ENV` naming the database (so this is not a test of its
/// own). It saves random states until killed (at most a minute, so an
/// orphan cannot run forever), and after each save returns tells the
/// parent `ack <song> <rev> <hash>` on stderr.
fn crash_child(db: &std::ffi::OsStr) {
    let mut store = Store::open(Path::new(db)).expect("child opens the store");
    let mut rng = XorShift::seeded();
    tell_parent("ready");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let path = CRASH_SONGS[rng.below(CRASH_SONGS.len() as u64) as usize];
        let state = random_state(&mut rng);
        let info = store
            .save(&song(path), "crash test", "crash-child", &state)
            .expect("save");
        tell_parent(&format!(
            "ack {path} {} {:016x}",
            info.rev,
            state_hash(&state)
        ));
    }
}

#[test]
fn kill9_during_saves_never_loses_an_acknowledged_revision() {
    if let Some(db) = std::env::var_os(CRASH_CHILD_ENV) {
        crash_child(&db);
        return;
    }
    const ROUNDS: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    // Test names are module paths without the crate name.
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, rest)| rest);
    let child_test = format!("{module}::kill9_during_saves_never_loses_an_acknowledged_revision");
    let mut rng = XorShift::seeded();
    let mut acked: BTreeMap<(String, u32), u64> = BTreeMap::new();

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args([
                child_test.as_str(),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CRASH_CHILD_ENV, &db)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });

        let mut lines = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let ready = line == "ready";
                    lines.push(line);
                    if ready {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("round {round}: child never got ready: {lines:?}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1 + rng.below(200)));
        // Child::kill sends SIGKILL to exactly this child; it is not reaped
        // until the wait below, so its pid cannot belong to anything else.
        child.kill().unwrap();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "round {round}: the child stopped by itself ({status}): {lines:?}"
        );

        for line in &lines {
            let Some(rest) = line.strip_prefix("ack ") else {
                continue;
            };
            let mut fields = rest.rsplitn(3, ' ');
            let (Some(hash), Some(rev), Some(path)) = (fields.next(), fields.next(), fields.next())
            else {
                panic!("bad ack line {line:?}");
            };
            let key = (path.to_string(), rev.parse::<u32>().unwrap());
            let hash = u64::from_str_radix(hash, 16).unwrap();
            assert!(
                acked.insert(key, hash).is_none(),
                "revision acknowledged twice: {line}"
            );
        }

        let check = Connection::open(&db).unwrap();
        let integrity: String = check
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok", "round {round}");
        // Each round compares the stored bytes (cheap); the end of the test goes through `load`.
        let stored: BTreeMap<(String, u32), u64> = check
            .prepare(
                "SELECT s.path, r.rev, r.state_json
                 FROM revisions r JOIN songs s ON s.id = r.song_id",
            )
            .unwrap()
            .query_map([], |r| {
                Ok(((r.get(0)?, r.get(1)?), fnv1a(&r.get::<_, String>(2)?)))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        drop(check);
        for (key, hash) in &acked {
            assert_eq!(
                stored.get(key),
                Some(hash),
                "round {round}: acknowledged {key:?} lost or changed"
            );
        }
        for path in CRASH_SONGS {
            let revs: Vec<u32> = stored
                .keys()
                .filter(|(p, _)| p == path)
                .map(|(_, r)| *r)
                .collect();
            let expected: Vec<u32> = (1..=revs.len() as u32).collect();
            assert_eq!(revs, expected, "round {round}: {path}");
        }
        // Opening runs recovery and the schema check, as the restarted daemon would.
        drop(Store::open(&db).unwrap());
    }

    let store = Store::open(&db).unwrap();
    for ((path, rev), hash) in &acked {
        let r = store
            .load(&song(path), Some(*rev))
            .unwrap_or_else(|e| panic!("acknowledged {path}@{rev} does not load: {e}"));
        assert_eq!(state_hash(&r.state), *hash, "{path}@{rev} changed");
    }
    assert!(
        acked.len() >= ROUNDS,
        "only {} saves acknowledged; the test did not exercise the store",
        acked.len()
    );
}
