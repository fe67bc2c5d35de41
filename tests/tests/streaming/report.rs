//! report.json's loudness rows and what each service plays, against
//! figures the test works out from ffmpeg's `ebur128` measurements and the
//! services' published rules; report.html as Python's `html.parser` reads
//! it; and `rackd album loudness --json` against the same figures.

use super::services::SERVICES;
use super::*;

/// The services' names as the report shows them, in `SERVICES`' order.
const NAMES: [&str; 8] = [
    "Spotify (normal)",
    "Spotify (loud)",
    "Spotify (quiet)",
    "Apple Music (Sound Check)",
    "YouTube",
    "Tidal",
    "Amazon Music",
    "Deezer",
];

/// The gain a service applies to a programme at `loudness` whose raise is
/// bounded by `true_peak`, by the rules in `SERVICES`.
fn applied(target: f64, raise: Option<f64>, loudness: f64, true_peak: f64) -> f64 {
    let wanted = target - loudness;
    match raise {
        _ if wanted <= 0.0 => wanted,
        None => 0.0,
        Some(ceiling) => wanted.min((ceiling - true_peak).max(0.0)),
    }
}

/// Writes the report's tables and lists as JSON; fails on a tag closed out
/// of order or left open.
const HTML_TABLES: &str = r#"
import json, sys
from html.parser import HTMLParser
VOID = {"meta", "br", "img", "link", "input", "hr", "col", "wbr"}
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.tables, self.items, self.text = [], [], [], None
    def handle_starttag(self, tag, attrs):
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th", "li"):
            self.text = ""
    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            sys.exit(f"</{tag}> out of order at line {self.getpos()[0]}")
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self.text.strip())
            self.text = None
        elif tag == "li":
            self.items.append(self.text.strip())
            self.text = None
    def handle_data(self, data):
        if self.text is not None:
            self.text += data
p = P()
p.feed(sys.stdin.read())
p.close()
if p.stack:
    sys.exit(f"left open: {p.stack}")
print(json.dumps({"tables": p.tables, "items": p.items}))
"#;

#[test]
fn report_rows_services_and_the_plan_against_ebur128() {
    need(&["sox", "ffmpeg", "python3"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Loud, quiet and in between, band-limited to 12 kHz (where ffmpeg's
    // true-peak meter is accurate), the default 2 s gaps. The quiet one has
    // a 20 ms burst at -3 dBFS: a PLR of 30 dB, so the services that raise
    // within the true-peak headroom are held by it (in album mode too).
    let mut toml = String::from("[disc]\ntitle = \"Rows & Columns\"\n");
    for (i, s) in [
        "6 pinknoise gain -6 sinc -12000",
        "6 pinknoise gain -22 sinc -12000",
        "6 brownnoise gain -12 sinc -12000",
    ]
    .iter()
    .enumerate()
    {
        synth(dir, &format!("r{i}.wav"), 48_000, 24, s);
        toml.push_str(&format!(
            "\n[[track]]\nsource = \"r{i}.wav\"\ntitle = \"Row {}\"\n",
            i + 1
        ));
    }
    synth(dir, "burst.wav", 48_000, 24, "0.02 sine 1000 gain -3 pad 3");
    std::fs::rename(dir.join("r1.wav"), dir.join("noise.wav")).unwrap();
    stdout(
        Command::new("sox")
            .args([
                "-m",
                "-v",
                "1",
                "noise.wav",
                "-v",
                "1",
                "burst.wav",
                "r1.wav",
            ])
            .current_dir(dir),
    );
    std::fs::write(dir.join("album.toml"), toml).unwrap();
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
    let out = dir.join("out");
    let rep = report(&out);
    let files = ["01 Row 1.wav", "02 Row 2.wav", "03 Row 3.wav"];
    let wav = |i: usize| out.join("streaming").join(files[i]);
    let theirs: Vec<Ebur> = (0..3).map(|i| ebur(&wav(i))).collect();
    stdout(
        Command::new("sox")
            .args((0..3).map(wav))
            .arg(dir.join("joined.wav")),
    );
    let album = ebur(&dir.join("joined.wav"));

    // ffmpeg and rackd agree on loudness within 0.05 LU and on true peak
    // within 0.2 dB (two 4x-oversampling meters with different filters), so
    // PLR within 0.25 dB; a gain set by the loudness within 0.05 dB, one
    // set by the true-peak headroom within 0.2, the true peak after it
    // within 0.25.
    let num = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"));
    let row = |m: &Value, e: &Ebur, what: &str| {
        for (k, want, within) in [
            ("integrated_lufs", e.integrated, 0.05),
            ("true_peak_dbtp", e.true_peak, 0.2),
            ("plr_db", e.true_peak - e.integrated, 0.25),
        ] {
            assert!(
                (num(&m[k]) - want).abs() <= within,
                "{what} {k}: {} vs ebur128 {want}",
                m[k]
            );
        }
    };
    for (i, e) in theirs.iter().enumerate() {
        row(&rep["tracks"][i]["measure"], e, &format!("track {}", i + 1));
    }
    row(&rep["album"]["measure"], &album, "album");
    assert_eq!(rep["album"]["title"], "Rows & Columns");
    assert_eq!(rep["album"]["rate"], 48_000);

    let mut held = 0;
    let loudest = theirs.iter().map(|e| e.integrated).fold(f64::MIN, f64::max);
    let peak = theirs.iter().map(|e| e.true_peak).fold(f64::MIN, f64::max);
    for (k, &(id, target, raise, album_mode)) in SERVICES.iter().enumerate() {
        // How close to the ceiling a raise comes decides the tolerance.
        let within = |loudness: f64, tp: f64| match raise {
            Some(c) if c.is_finite() && c - tp < target - loudness + 0.25 => 0.2,
            _ => 0.05,
        };
        for (i, e) in theirs.iter().enumerate() {
            let p = &rep["tracks"][i]["platforms"][k];
            assert_eq!(p["id"], id);
            let track = (
                applied(target, raise, e.integrated, e.true_peak),
                within(e.integrated, e.true_peak),
            );
            let album = if album_mode {
                (applied(target, raise, loudest, peak), within(loudest, peak))
            } else {
                track
            };
            for (mode, (gain, tol)) in [("track_mode", track), ("album_mode", album)] {
                held += usize::from(tol > 0.05);
                let g = &p[mode];
                let what = format!("{id} track {} {mode}", i + 1);
                assert!(
                    (num(&g["gain_db"]) - gain).abs() <= tol,
                    "{what}: {g} vs {gain}"
                );
                assert!(
                    (num(&g["loudness_lufs"]) - (e.integrated + gain)).abs() <= tol + 0.05,
                    "{what}: {g}"
                );
                assert!(
                    (num(&g["true_peak_dbtp"]) - (e.true_peak + gain)).abs() <= tol + 0.2,
                    "{what}: {g} vs {}",
                    e.true_peak + gain
                );
            }
        }
    }

    assert!(held >= 4, "only {held} gains held by the true peak");

    // The loudness plan measures the tracks as delivered: the masters. Its
    // true peak within 0.2 dB of ebur128's, the difference to the loudest
    // track within 0.1 LU (two readings, each within 0.05), and with
    // --keep-relative one gain, the target minus the loudest track.
    let o = rackd(
        dir,
        &[
            "album",
            "loudness",
            "album.toml",
            "--json",
            "--target",
            "-20",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["schema"], "rackd-album-loudness/1");
    for (i, e) in theirs.iter().enumerate() {
        let t = &plan["tracks"][i];
        let what = format!("plan track {}: {t}", i + 1);
        assert!(
            (num(&t["integrated_lufs"]) - e.integrated).abs() <= 0.05,
            "{what}"
        );
        assert!(
            (num(&t["true_peak_dbtp"]) - e.true_peak).abs() <= 0.2,
            "{what}"
        );
        assert!(
            (num(&t["to_loudest_lu"]) - (e.integrated - loudest)).abs() <= 0.1,
            "{what} vs {}",
            e.integrated - loudest
        );
        let gain = -20.0 - loudest;
        assert!((num(&t["gain_db"]) - gain).abs() <= 0.05, "{what}");
        assert!(
            (num(&t["true_peak_after_dbtp"]) - (e.true_peak + gain)).abs() <= 0.25,
            "{what}"
        );
    }
    assert!((num(&plan["album"]["integrated_lufs"]) - album.integrated).abs() <= 0.05);
    assert!((num(&plan["album"]["true_peak_dbtp"]) - album.true_peak).abs() <= 0.2);

    // report.html: well-formed as html.parser reads it; the loudness table
    // has a row per track and the album's, the services' table a row per
    // service with a cell per track, and the sources list every service.
    let html: Value = serde_json::from_str(&python(
        HTML_TABLES,
        &std::fs::read(out.join("report.html")).unwrap(),
    ))
    .unwrap();
    let tables = html["tables"].as_array().unwrap();
    let table_with = |head: &str| -> Vec<Vec<String>> {
        tables
            .iter()
            .find(|t| t[0].as_array().unwrap().iter().any(|c| c == head))
            .unwrap_or_else(|| panic!("no table headed {head:?}: {html}"))
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap().to_string())
                    .collect()
            })
            .collect()
    };
    let loudness = table_with("integrated LUFS");
    let col = |name: &str| loudness[0].iter().position(|c| c == name).unwrap();
    assert_eq!(loudness.len(), 1 + 3 + 1, "{loudness:?}");
    for (i, e) in theirs.iter().chain([&album]).enumerate() {
        let r = &loudness[1 + i];
        if i < 3 {
            assert_eq!(r[col("#")], (i + 1).to_string());
            assert_eq!(r[col("file")], files[i]);
        } else {
            assert_eq!(r[col("#")], "album");
        }
        let shown: f64 = r[col("integrated LUFS")].parse().unwrap();
        assert!(
            (shown - e.integrated).abs() <= 0.05 + 0.05,
            "{r:?} vs {e:?}"
        );
        let tp: f64 = r[col("true peak dBTP")].parse().unwrap();
        assert!((tp - e.true_peak).abs() <= 0.2 + 0.05, "{r:?} vs {e:?}");
    }
    let services = table_with("target");
    assert_eq!(
        services[0][2..],
        ["track 1", "track 2", "track 3"],
        "{services:?}"
    );
    assert_eq!(services.len(), 1 + NAMES.len());
    for (k, name) in NAMES.iter().enumerate() {
        let r = &services[1 + k];
        assert_eq!(r[0], *name);
        assert_eq!(r[1], format!("{:.0}", SERVICES[k].1));
        assert_eq!(r.len(), 2 + 3, "{r:?}");
        let items = html["items"].as_array().unwrap();
        assert!(
            items
                .iter()
                .any(|x| x.as_str().unwrap().starts_with(&format!("{name}:"))),
            "{name} in the sources"
        );
    }
}
