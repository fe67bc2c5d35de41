//! Album and track mode gains per service, and `rackd album loudness`.

use super::*;

/// (id, target, raises: None never / Some(ceiling) within headroom / Some(inf) with limiter, album mode)
/// — the figures the services publish (or third parties measured), written out here.
pub(crate) const SERVICES: [(&str, f64, Option<f64>, bool); 8] = [
    ("spotify", -14.0, Some(-1.0), true),
    ("spotify-loud", -11.0, Some(f64::INFINITY), true),
    ("spotify-quiet", -19.0, Some(-1.0), true),
    ("apple-music", -16.0, Some(-1.0), true),
    ("youtube", -14.0, None, false),
    ("tidal", -14.0, None, true),
    ("amazon-music", -14.0, None, false),
    ("deezer", -15.0, None, false),
];

/// Tracks of 1 kHz sines at -10, -13 and -16 dBFS: -10, -13, -16 LUFS (EBU Tech 3341 case 1).
fn three_levels(dir: &Path) {
    // No gaps: a track's master would carry the next one's pregap of silence.
    let mut toml = String::from("[disc]\ntitle = \"Levels\"   # keep me\ngap = 0\n");
    for (i, db) in [10, 13, 16].iter().enumerate() {
        let f = format!("s{i}.wav");
        synth(dir, &f, 48_000, 24, &format!("5 sine 1000 gain -{db}"));
        toml.push_str(&format!("\n[[track]]\nsource = \"{f}\"   # level {db}\n"));
    }
    std::fs::write(dir.join("album.toml"), toml).unwrap();
}

#[test]
fn album_and_track_mode_gains_per_service_and_the_loudness_plan() {
    need(&["sox"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    three_levels(dir);
    let b = rackd(
        dir,
        &[
            "album",
            "build",
            "album.toml",
            "--out",
            "out",
            "--streaming",
        ],
    );
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let rep = report(&dir.join("out"));
    let levels = [-10.0, -13.0, -16.0];
    for (i, l) in levels.iter().enumerate() {
        let m = rep["tracks"][i]["measure"]["integrated_lufs"]
            .as_f64()
            .unwrap();
        assert!((m - l).abs() < 0.1, "track {} at {m} LUFS", i + 1);
    }
    for (k, (id, target, raise, album_mode)) in SERVICES.iter().enumerate() {
        let wanted = |l: f64| target - l;
        let track_gain = |l: f64, tp: f64| {
            let w = wanted(l);
            match raise {
                _ if w <= 0.0 => w,
                None => 0.0,
                Some(c) => w.min(c - tp),
            }
        };
        let album_gain = track_gain(-10.0, -10.0);
        for (i, l) in levels.iter().enumerate() {
            let p = &rep["tracks"][i]["platforms"][k];
            assert_eq!(p["id"], *id);
            let tg = p["track_mode"]["gain_db"].as_f64().unwrap();
            let ag = p["album_mode"]["gain_db"].as_f64().unwrap();
            let want_t = track_gain(*l, *l);
            let want_a = if *album_mode { album_gain } else { want_t };
            assert!(
                (tg - want_t).abs() < 0.1,
                "{id} track {} track mode {tg} vs {want_t}",
                i + 1
            );
            assert!(
                (ag - want_a).abs() < 0.1,
                "{id} track {} album mode {ag} vs {want_a}",
                i + 1
            );
        }
    }
    let warnings: Vec<String> = rep["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect();
    assert!(
        warnings.iter().any(
            |w| w.starts_with("track 3 is 6.0 LU quieter than the album")
                && w.contains("Tidal plays it at -20.0 LUFS")
        ),
        "{warnings:?}"
    );

    // The plan: keep-relative moves everything by the loudest track's gain.
    let plan = |args: &[&str]| -> (Option<i32>, Value, String) {
        let mut a = vec!["album", "loudness", "album.toml", "--json"];
        a.extend_from_slice(args);
        let o = rackd(dir, &a);
        (
            o.status.code(),
            serde_json::from_slice(&o.stdout).unwrap_or(Value::Null),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let gains = |v: &Value| -> Vec<f64> {
        v["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["gain_db"].as_f64().unwrap())
            .collect()
    };
    let (code, v, _) = plan(&[]);
    assert_eq!(code, Some(0));
    assert!(gains(&v).iter().all(|g| (g + 4.0).abs() < 0.1), "{v}");
    let (_, v, _) = plan(&["--per-track", "--target", "-16"]);
    let g = gains(&v);
    assert!(
        (g[0] + 6.0).abs() < 0.1 && (g[1] + 3.0).abs() < 0.1 && g[2].abs() < 0.1,
        "{g:?}"
    );
    // A gain past --max-tp is refused with the missing headroom; nothing written.
    let before = std::fs::read_to_string(dir.join("album.toml")).unwrap();
    // (-0.5 LUFS for a sine puts its true peak at -0.5 dBTP, over -1.)
    let (code, _, err) = plan(&["--per-track", "--target", "-0.5", "--apply"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("track 3: +15.") && err.contains("dB of headroom missing"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("album.toml")).unwrap(),
        before
    );
    // --apply writes the gains, keeping the comments; measured again, the loudest is at the target.
    let (code, v, err) = plan(&["--apply"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["applied"], true);
    let after = std::fs::read_to_string(dir.join("album.toml")).unwrap();
    assert!(
        after.contains("title = \"Levels\"   # keep me") && after.contains("# level 16"),
        "{after}"
    );
    assert!(after.contains("gain = -"), "{after}");
    let (_, v, _) = plan(&[]);
    let l: Vec<f64> = v["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["integrated_lufs"].as_f64().unwrap())
        .collect();
    assert!(
        (l[0] + 14.0).abs() < 0.05 && (l[2] + 20.0).abs() < 0.1,
        "{l:?}"
    );
    assert!(gains(&v).iter().all(|g| g.abs() < 0.05));
}
