//! `rackd album` and `rackd ddp` end to end: the README's album built from
//! signals sox makes, checked by tools that are not rackd (cdrdao, cd-info,
//! cuebreakpoints + shnsplit, md5sum) and by readings written here (a CD-Text
//! CRC, the layout worked out by hand, a null test against the source).

use rackd_tests::{crate_dir, rackd_bin};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn need(tool: &str) {
    assert!(
        rackd_tests::have_program(tool),
        "{tool} is missing: run scripts/install-deps --test"
    );
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn rackd(args: &[&str], dir: &Path) -> Output {
    run(Command::new(rackd_bin()).args(args).current_dir(dir))
}

fn sox(dir: &Path, args: &[&str]) {
    ok(Command::new("sox").args(args).current_dir(dir));
}

/// The album.toml of the README's user guide.
fn readme_album() -> String {
    let readme = std::fs::read_to_string(crate_dir().join("../README.md")).expect("README");
    let start = readme
        .find("<!-- album.toml example: begin -->")
        .expect("album example begins");
    let end = readme
        .find("<!-- album.toml example: end -->")
        .expect("ends");
    let block = &readme[start..end];
    let body = block.split("```toml\n").nth(1).expect("toml block");
    body.split("```").next().expect("block end").to_string()
}

/// A signal sox makes: `file` at `rate` Hz, `bits`, `channels`, `synth` (sox's words).
fn signal(dir: &Path, file: &str, rate: u32, bits: u32, channels: u32, synth: &str) {
    let (rate, bits, channels) = (rate.to_string(), bits.to_string(), channels.to_string());
    let mut args = vec![
        "-n", "-r", &rate, "-b", &bits, "-c", &channels, file, "synth",
    ];
    args.extend(synth.split_whitespace());
    sox(dir, &args);
}

/// Writes the README album and the signals it names.
fn readme_sources(dir: &Path) {
    std::fs::write(dir.join("album.toml"), readme_album()).unwrap();
    for (file, rate, bits, ch, synth) in [
        ("hidden.wav", 44_100, 16, 2, "3 sine 330 sine 220 gain -20"),
        (
            "01 intro.wav",
            44_100,
            16,
            2,
            "6 sine 440 sine 660 gain -10",
        ),
        (
            "02 city.flac",
            48_000,
            24,
            2,
            "6 sine 550 pinknoise gain -14",
        ),
        (
            "03 tunnel.wav",
            96_000,
            24,
            2,
            "7 sine 770 sine 990 gain -12",
        ),
        (
            "04 home.aiff",
            44_100,
            16,
            2,
            "6 sine 880 sine 1100 gain -12",
        ),
        ("05 coda.wav", 44_100, 16, 1, "5 sine 1000 gain -12"),
    ] {
        signal(dir, file, rate, bits, ch, synth);
    }
}

/// Index 00 (if any) and index 01, 02.. of a track, in CD frames.
type Marks = (Option<u32>, Vec<u32>);

/// The README album laid out by hand, in CD frames: the marks of every
/// track, and the lead-out.
fn expected_layout() -> (Vec<Marks>, u32) {
    // First pause 150, hidden 3 s = 225 → track 1 at 375 (6 s = 450, index 02 at +225);
    // track 2 after a 2 s gap; track 3 segues 1.5 s = 113 frames (rounded) into
    // track 2's end; track 4 after a 1 s gap; track 5 after the default 2 s.
    let t1 = 375;
    let t2 = t1 + 450 + 150;
    let t3 = t2 + 450 - 113;
    let t4 = t3 + 525 + 75;
    let t5 = t4 + 450 + 150;
    (
        vec![
            (Some(0), vec![t1, t1 + 225]),
            (Some(t1 + 450), vec![t2]),
            (None, vec![t3]),
            (Some(t3 + 525), vec![t4]),
            (Some(t4 + 450), vec![t5]),
        ],
        t5 + 375,
    )
}

/// CRC-16 of CD-Text packs written from the description (x^16 + x^12 + x^5 + 1,
/// initial 0, result inverted), bit by bit, independent of rackd's table.
fn cd_text_crc(data: &[u8]) -> u16 {
    let mut reg: u32 = 0;
    for &byte in data {
        for bit in (0..8).rev() {
            let inbit = ((byte >> bit) & 1) as u32;
            let top = (reg >> 15) & 1;
            reg = (reg << 1) & 0xffff;
            if top ^ inbit == 1 {
                reg ^= 0x1021;
            }
        }
    }
    !(reg as u16)
}

/// The strings of pack type `kind` (0x80 titles …): disc first, then tracks.
fn cd_text_strings(packs: &[u8], kind: u8) -> Vec<String> {
    let mut bytes = Vec::new();
    for p in packs.chunks(18) {
        if p[0] == kind {
            bytes.extend_from_slice(&p[4..16]);
        }
    }
    let mut v: Vec<String> = bytes
        .split(|&b| b == 0)
        .map(|s| s.iter().map(|&b| b as char).collect())
        .collect();
    while v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v
}

fn raw_of(dir: &Path, file: &str) -> Vec<u8> {
    let out = run(Command::new("sox")
        .args([file, "-t", "raw", "-e", "signed", "-b", "16", "-L", "-"])
        .current_dir(dir));
    assert!(out.status.success());
    out.stdout
}

fn data_of_wav(path: &Path) -> Vec<u8> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[36..40], b"data", "{}", path.display());
    b[44..].to_vec()
}

#[test]
fn readme_album_round_trip_checked_by_other_tools() {
    for t in [
        "sox",
        "cdrdao",
        "cd-info",
        "cuebreakpoints",
        "shnsplit",
        "md5sum",
    ] {
        need(t);
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    readme_sources(dir);

    let check = rackd(&["album", "check", "album.toml"], dir);
    let said = String::from_utf8_lossy(&check.stderr).into_owned();
    assert!(check.status.success(), "{said}");
    assert!(said.contains("taken as USS1Z2600001"), "{said}");
    assert!(said.contains("05 coda.wav is mono"), "{said}");

    let build = rackd(
        &["album", "build", "album.toml", "--out", "deliver", "--json"],
        dir,
    );
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let summary: Value = serde_json::from_slice(&build.stdout).expect("summary JSON");
    assert_eq!(summary["schema"], "rackd-album-build/1");
    let out = dir.join("deliver");
    assert!(!dir.join("deliver.partial").exists());
    let ddp = out.join("ddp");

    // The table as rackd-ddp/1 tells it, against the layout worked out by hand.
    let info: Value = serde_json::from_str(&ok(Command::new(rackd_bin())
        .args(["ddp", "info", "--json"])
        .arg(&ddp)))
    .expect("info JSON");
    let (layout, lead_out) = expected_layout();
    assert_eq!(info["schema"], "rackd-ddp/1");
    assert_eq!(info["upc"], "4006381333931");
    assert_eq!(info["lead_out"], lead_out);
    let tracks = info["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 5);
    let titles = ["Intro", "City Lights", "Tunnel", "Home", "Coda"];
    for (i, t) in tracks.iter().enumerate() {
        assert_eq!(t["number"], i + 1);
        assert_eq!(t["isrc"], format!("USS1Z260000{}", i + 1), "ISRCs count up");
        let (pregap, idx) = &layout[i];
        let mut want = Vec::new();
        if let Some(p) = pregap {
            want.push((0, *p));
        }
        want.extend(idx.iter().enumerate().map(|(k, f)| (k as u64 + 1, *f)));
        let got: Vec<(u64, u32)> = t["indexes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["number"].as_u64().unwrap(),
                    x["frame"].as_u64().unwrap() as u32,
                )
            })
            .collect();
        assert_eq!(got, want, "track {}", i + 1);
        assert_eq!(t["cd_text"]["title"], titles[i]);
        assert_eq!(t["flags"]["copy_permitted"], i == 4);
    }
    assert_eq!(info["cd_text"]["disc"]["title"], "Night Drive");
    assert_eq!(info["cd_text"]["disc"]["performer"], "The Examples");

    // IMAGE.DAT: the size of the table; album.bin the same bytes.
    let image = std::fs::read(ddp.join("IMAGE.DAT")).unwrap();
    assert_eq!(image.len(), lead_out as usize * 2352);
    assert!(std::fs::read(out.join("cd/album.bin")).unwrap() == image);
    // The first pause is digital silence; the untouched 44.1/16 sources are
    // on the disc bit for bit (a null test against sox's reading of them).
    assert!(image[..150 * 2352].iter().all(|&b| b == 0));
    let hidden = raw_of(dir, "hidden.wav");
    assert!(image[150 * 2352..150 * 2352 + hidden.len()] == hidden[..]);
    let intro = raw_of(dir, "01 intro.wav");
    let t1 = 375 * 2352;
    assert!(
        image[t1..t1 + intro.len()] == intro[..],
        "track 1 is not bit-exact"
    );
    // Track 5 (mono, untouched) is dual mono of its source.
    let coda = raw_of(dir, "05 coda.wav");
    let t5 = layout[4].1[0] as usize * 2352;
    for (k, s) in coda.chunks(2).enumerate().step_by(101) {
        assert_eq!(&image[t5 + k * 4..t5 + k * 4 + 2], s);
        assert_eq!(&image[t5 + k * 4 + 2..t5 + k * 4 + 4], s);
    }
    // Resampled and faded tracks carry their signal (not silence, not clipped).
    let t3 = layout[2].1[0] as usize * 2352;
    let peak3 = image[t3 + 2352 * 150..t3 + 2352 * 300]
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]).unsigned_abs())
        .max()
        .unwrap();
    assert!((5000..16000).contains(&peak3), "track 3 peak {peak3}");

    // ddp extract: one WAV per track, bit for bit from the image.
    ok(Command::new(rackd_bin())
        .args(["ddp", "extract"])
        .arg(&ddp)
        .arg("--out")
        .arg(dir.join("x")));
    let hidden_wav = data_of_wav(&dir.join("x/00 hidden.wav"));
    assert!(hidden_wav[..] == image[..375 * 2352]);
    let mut starts: Vec<u32> = layout.iter().map(|t| t.1[0]).collect();
    starts.push(lead_out);
    for i in 0..5 {
        let w = data_of_wav(&dir.join(format!("x/{:02}.wav", i + 1)));
        let (a, b) = (starts[i] as usize * 2352, starts[i + 1] as usize * 2352);
        assert!(w[..] == image[a..b], "extract of track {}", i + 1);
    }

    // ddp extract --cue: the image as a cue/bin that reads like the build's.
    ok(Command::new(rackd_bin())
        .args(["ddp", "extract", "--cue"])
        .arg(&ddp)
        .arg("--out")
        .arg(dir.join("xc")));
    assert!(std::fs::read(dir.join("xc/album.bin")).unwrap() == image);
    let points = |cue: &Path| ok(Command::new("cuebreakpoints").arg(cue));
    assert_eq!(
        points(&dir.join("xc/album.cue")),
        points(&out.join("cd/album.cue"))
    );

    // md5sum -c, run in the ddp folder, on rackd's checksum file.
    ok(Command::new("md5sum")
        .args(["-c", "CHECKSUM.MD5"])
        .current_dir(&ddp));

    // CD-Text: every pack's CRC by the description, and the strings back.
    let packs = std::fs::read(ddp.join("CDTEXT.BIN")).unwrap();
    assert_eq!(packs.len() % 18, 0);
    for (k, p) in packs.chunks(18).enumerate() {
        assert_eq!(
            cd_text_crc(&p[..16]),
            u16::from_be_bytes([p[16], p[17]]),
            "pack {k}"
        );
        assert_eq!(p[2] as usize, k, "sequence numbers");
    }
    let t = cd_text_strings(&packs, 0x80);
    assert_eq!(
        t,
        [
            "Night Drive",
            "Intro",
            "City Lights",
            "Tunnel",
            "Home",
            "Coda"
        ]
    );
    assert_eq!(cd_text_strings(&packs, 0x81), ["The Examples"]);
    // Composer only on track 5: written empty for the others.
    assert_eq!(
        cd_text_strings(&packs, 0x83),
        ["", "", "", "", "", "A. Example"]
    );

    // cdrdao reads the TOC: the same ISRCs, starts and ends.
    let toc = ok(Command::new("cdrdao")
        .args(["show-toc", "album.toc"])
        .current_dir(out.join("cd")));
    let starts_toc: Vec<u32> = toc
        .lines()
        .filter(|l| l.trim_start().starts_with("START"))
        .map(|l| {
            l.split('(')
                .nth(1)
                .unwrap()
                .trim()
                .trim_end_matches(')')
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(starts_toc, starts[..5]);
    let isrcs: Vec<String> = toc
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ISRC "))
        .map(|s| s.replace(' ', ""))
        .collect();
    assert_eq!(isrcs.len(), 5);
    assert_eq!(isrcs[4], "USS1Z2600005");
    assert!(toc.contains("CATALOG NUMBER: 4006381333931"), "{toc}");
    assert!(toc.contains("COPY PERMITTED"), "{toc}");
    let info_toc = ok(Command::new("cdrdao")
        .args(["toc-info", "album.toc"])
        .current_dir(out.join("cd")));
    assert!(
        info_toc.contains(&format!(
            "5 tracks, length {}, {lead_out} blocks",
            msf(lead_out)
        )),
        "{info_toc}"
    );

    // cd-info reads the cue sheet: the same track starts (LSN) and catalog.
    let cd = ok(Command::new("cd-info")
        .args(["--no-device-info", "--no-cddb", "--cue-file"])
        .arg(out.join("cd/album.cue")));
    let lsns: Vec<u32> = cd
        .lines()
        .filter(|l| l.contains(" audio "))
        .map(|l| l.split_whitespace().nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lsns, starts[..5], "{cd}");
    assert!(cd.contains("4006381333931"), "{cd}");

    // cuebreakpoints + shnsplit cut the bin where ddp extract did.
    let wav = dir.join("bin.wav");
    ok(Command::new("sox")
        .args([
            "-t", "raw", "-r", "44100", "-b", "16", "-e", "signed", "-c", "2", "-L",
        ])
        .arg(out.join("cd/album.bin"))
        .arg(&wav));
    let points = ok(Command::new("cuebreakpoints").arg(out.join("cd/album.cue")));
    std::fs::create_dir(dir.join("split")).unwrap();
    let mut split = Command::new("shnsplit")
        .args(["-q", "-O", "always", "-d"])
        .arg(dir.join("split"))
        .arg(&wav)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    split
        .stdin
        .take()
        .unwrap()
        .write_all(points.as_bytes())
        .unwrap();
    assert!(split.wait().unwrap().success());
    let first = data_of_wav(&dir.join("split/split-track01.wav"));
    assert!(
        first[..] == image[..starts[1] as usize * 2352],
        "hidden + track 1"
    );
    for i in 2..=5 {
        let piece = data_of_wav(&dir.join(format!("split/split-track{i:02}.wav")));
        let ours = data_of_wav(&dir.join(format!("x/{i:02}.wav")));
        assert!(piece == ours, "shnsplit track {i}");
    }

    // verify passes; a corrupted IMAGE.DAT fails, naming the file.
    let v = rackd(&["ddp", "verify", "deliver/ddp"], dir);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    let mut bad = image.clone();
    bad[400_000] ^= 0x40;
    std::fs::write(ddp.join("IMAGE.DAT"), &bad).unwrap();
    let v = rackd(&["ddp", "verify", "deliver/ddp"], dir);
    let text = String::from_utf8_lossy(&v.stdout);
    assert_eq!(v.status.code(), Some(2), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL IMAGE.DAT: MD5") && l.contains("CHECKSUM.MD5")),
        "{text}"
    );

    // The PQ sheet has the table and the checksums.
    let sheet = std::fs::read_to_string(out.join("pq-sheet.txt")).unwrap();
    assert!(sheet.contains("US-S1Z-26-00003") && sheet.contains("4006381333931"));
    assert!(sheet.contains(&format!(
        "{}  {:>11}",
        msf(starts[1]),
        starts[1] as u64 * 588
    )));
    let html = std::fs::read_to_string(out.join("pq-sheet.html")).unwrap();
    assert!(html.contains("<table>") && html.contains("IMAGE.DAT"));
}

fn msf(f: u32) -> String {
    format!("{:02}:{:02}:{:02}", f / 75 / 60, f / 75 % 60, f % 75)
}

/// The same three tracks as one WAVE file, as one file per track in other
/// containers (raw little- and big-endian, float, 24-bit extensible,
/// chunks out of order), with a gap split across two files: the same disc,
/// byte for byte.
#[test]
fn cue_sheets_as_daws_write_them_give_the_same_disc() {
    need("sox");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 4 s + 5 s + 6 s, whole frames; track 2's pregap is the last second of file a.
    signal(
        dir,
        "all.wav",
        44_100,
        16,
        2,
        "15 sine 300-3000 sine 500 gain -9",
    );
    let trim = |name: &str, from: f64, len: f64, fmt: &[&str]| {
        let mut args = vec!["all.wav"];
        args.extend_from_slice(fmt);
        args.push(name);
        let (f, l) = (
            format!("{}s", (from * 44100.0) as u64),
            format!("{}s", (len * 44100.0) as u64),
        );
        args.extend_from_slice(&["trim", &f, &l]);
        sox(dir, &args);
    };
    trim("a.wav", 0.0, 4.0, &[]);
    trim(
        "b.bin",
        4.0,
        5.0,
        &["-t", "raw", "-e", "signed", "-b", "16", "-L"],
    );
    trim(
        "c.raw",
        9.0,
        6.0,
        &["-t", "raw", "-e", "signed", "-b", "16", "-B"],
    );
    trim("af.wav", 0.0, 4.0, &["-e", "floating-point", "-b", "32"]);
    trim("b24.wav", 4.0, 5.0, &["-b", "24"]);
    // c with its data chunk before fmt and a LIST chunk in front.
    trim("c16.wav", 9.0, 6.0, &[]);
    let c16 = std::fs::read(dir.join("c16.wav")).unwrap();
    let data = &c16[44..];
    let chunk = |id: &[u8], b: &[u8]| {
        let mut v = id.to_vec();
        v.extend_from_slice(&(b.len() as u32).to_le_bytes());
        v.extend_from_slice(b);
        if b.len() % 2 == 1 {
            v.push(0);
        }
        v
    };
    let mut body = b"WAVE".to_vec();
    body.extend(chunk(b"LIST", b"INFOISFT\x06\x00\x00\x00rackd\x00"));
    body.extend(chunk(b"data", data));
    body.extend(chunk(b"fmt ", &c16[20..36]));
    let mut riff = b"RIFF".to_vec();
    riff.extend_from_slice(&(body.len() as u32).to_le_bytes());
    riff.extend(body);
    std::fs::write(dir.join("c_order.wav"), riff).unwrap();

    let one = "REM GENRE Rock\nPERFORMER \"Band\"\nTITLE \"Disc\"\nFILE \"all.wav\" WAVE\n  TRACK 01 AUDIO\n    TITLE \"One\"\n    INDEX 01 00:00:00\n  TRACK 02 AUDIO\n    TITLE \"Two\"\n    INDEX 00 00:03:00\n    INDEX 01 00:04:00\n  TRACK 03 AUDIO\n    TITLE \"Three\"\n    INDEX 01 00:09:00\n";
    let split = |a: &str, b: (&str, &str), c: (&str, &str)| {
        format!(
            "rem genre Rock\nperformer \"Band\"\ntitle \"Disc\"\nfile \"{a}\" wave\n  track 01 audio\n    title \"One\"\n    index 01 00:00:00\n  track 02 audio\n    title \"Two\"\n    index 00 00:03:00\nfile \"{}\" {}\n    index 01 00:00:00\nfile \"{}\" {}\n  track 03 audio\n    title \"Three\"\n    index 01 00:00:00\n",
            b.0, b.1, c.0, c.1
        )
    };
    let cues = [
        ("one.cue", one.to_string()),
        (
            "raw.cue",
            split("a.wav", ("b.bin", "BINARY"), ("c.raw", "MOTOROLA")),
        ),
        (
            "mixed.cue",
            split("af.wav", ("b24.wav", "WAVE"), ("c_order.wav", "WAVE")),
        ),
    ];
    let mut images = Vec::new();
    for (name, text) in &cues {
        std::fs::write(dir.join(name), text).unwrap();
        let out = format!("out-{name}");
        let b = rackd(&["album", "build", name, "--out", &out], dir);
        assert!(
            b.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&b.stderr)
        );
        images.push(std::fs::read(dir.join(&out).join("ddp/IMAGE.DAT")).unwrap());
        let info = rackd(&["ddp", "info", "--json", &format!("{out}/ddp")], dir);
        let info: Value = serde_json::from_slice(&info.stdout).unwrap();
        let idx: Vec<u64> = info["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["start"].as_u64().unwrap())
            .collect();
        assert_eq!(idx, [150, 150 + 300, 150 + 675], "{name}");
        assert_eq!(info["tracks"][1]["indexes"][0]["frame"], 150 + 225);
        assert_eq!(info["cd_text"]["genre"]["code"], 23, "Rock");
    }
    assert!(images[0] == images[1], "one file vs raw files");
    assert!(
        images[0] == images[2],
        "one file vs float, 24-bit, reordered"
    );
    // …and the source itself is on the disc, after the 2-second first pause.
    let src = raw_of(dir, "all.wav");
    assert!(images[0][150 * 2352..] == src[..]);
}

/// Writes an album of `tracks` (each a `[[track]]` body) with a 5-second
/// tone, runs `album check`, returns (exit code, stderr).
fn check_album(disc: &str, tracks: &[&str]) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    signal(dir, "tone.wav", 44_100, 16, 2, "5 sine 1000 gain -6");
    signal(dir, "short.wav", 44_100, 16, 2, "3 sine 1000 gain -6");
    std::fs::write(dir.join("text.wav"), "this is not audio").unwrap();
    let mut s = format!("[disc]\n{disc}\n");
    for t in tracks {
        s.push_str("\n[[track]]\n");
        s.push_str(t);
        s.push('\n');
    }
    std::fs::write(dir.join("album.toml"), s).unwrap();
    let out = rackd(&["album", "check", "album.toml"], dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_red_book_rule_broken_once() {
    need("sox");
    let tone = "source = \"tone.wav\"";
    let refused = |disc: &str, tracks: &[&str], what: &str| {
        let (code, err) = check_album(disc, tracks);
        assert_eq!(code, 2, "{what}: {err}");
        assert!(err.contains(what), "wanted {what:?} in:\n{err}");
    };
    let warned = |disc: &str, tracks: &[&str], what: &str| {
        let (code, err) = check_album(disc, tracks);
        assert_eq!(code, 0, "{what}: {err}");
        assert!(
            err.contains("warning") && err.contains(what),
            "wanted {what:?} in:\n{err}"
        );
    };
    refused("", &[], "a disc needs 1 to 99 tracks");
    let hundred: Vec<&str> = std::iter::repeat_n(tone, 100).collect();
    refused(
        "",
        &hundred,
        "the disc has 100 tracks; the Red Book allows 1 to 99",
    );
    let many = format!(
        "{tone}\nindexes = [{}]",
        (1..100)
            .map(|i| format!("\"{}\"", msf(i * 3)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    refused("", &[&many], "track 1 has 100 indexes");
    refused(
        "",
        &["source = \"short.wav\""],
        "track 1 is 3.00 s from index 01 to the lead-out; the Red Book minimum is 4 s",
    );
    refused(
        "first_pause = 1.5",
        &[tone],
        "the first pause must be at least 2 s",
    );
    refused(
        "",
        &[&format!("{tone}\nindexes = [3.0, 2.0]")],
        "index 03 at 00:04:00 is not after index 02 at 00:05:00",
    );
    refused(
        "",
        &[tone, &format!("{tone}\ngap = \"79:55:00\"")],
        "over the 79:57:00 a CD holds",
    );
    warned(
        "",
        &[tone, &format!("{tone}\ngap = \"74:00:00\"")],
        "past 74:00:00",
    );
    warned(
        "",
        &[tone, &format!("{tone}\ngap = \"79:40:00\"")],
        "past 79:38:00",
    );
    refused(
        "",
        &[&format!("{tone}\nisrc = \"US-S1Z-2-00001\"")],
        "is not 12 characters CCXXXYYNNNNN",
    );
    refused(
        "upc = \"4006381333932\"",
        &[tone],
        "has check digit 2, the digits before it give 1",
    );
    refused(
        "",
        &[&format!("{tone}\ncopy = true\nscms = true")],
        "copy permitted (DCP) and SCMS are both set",
    );
    refused(
        "",
        &[&format!("{tone}\ntitle = \"Ωmega\"")],
        "has no ISO-8859-1 form",
    );
    refused(
        &format!("message = \"{}\"", "x".repeat(3100)),
        &[tone],
        "more than the 253 a block holds",
    );
    refused(
        "",
        &[tone, &format!("{tone}\ncrossfade = 6.0")],
        "crossfade of 6.00 s is longer than track 1",
    );
    refused("", &["source = \"text.wav\""], "text.wav: cannot be read");
    refused(
        "",
        &["source = \"missing.wav\""],
        "missing.wav: cannot be read",
    );
    warned(
        "",
        &[tone, tone, &format!("{tone}\ngap = 3.0")],
        "uneven gaps",
    );
    warned(
        "",
        &[&format!("{tone}\ngain = 12.0")],
        "it will clip on the disc",
    );
    warned(
        "",
        &[&format!("{tone}\ntitle = \"A\""), tone],
        "CD-Text title is given for some tracks but not for track(s) 2",
    );
    // A normalized ISRC is a note, with its line.
    let (code, err) = check_album("", &[&format!("{tone}\nisrc = \"us-s1z-26-00001\"")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("album.toml:6: note:") && err.contains("US-S1Z-26-00001"),
        "{err}"
    );
}

#[test]
fn build_refuses_an_existing_folder_unless_forced() {
    need("sox");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    signal(dir, "t.wav", 44_100, 16, 2, "5 sine 1000 gain -6");
    std::fs::write(dir.join("a.toml"), "[[track]]\nsource = \"t.wav\"\n").unwrap();
    std::fs::create_dir(dir.join("out")).unwrap();
    std::fs::write(dir.join("out/keep"), "x").unwrap();
    let b = rackd(&["album", "build", "a.toml", "--out", "out"], dir);
    assert_eq!(b.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&b.stderr).contains("--force"));
    assert!(dir.join("out/keep").exists(), "nothing touched");
    let b = rackd(
        &["album", "build", "a.toml", "--out", "out", "--force"],
        dir,
    );
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    assert!(!dir.join("out/keep").exists() && dir.join("out/ddp/IMAGE.DAT").exists());
    assert!(!dir.join("out.partial").exists());
    // A source that disappears between check and build leaves no output.
    std::fs::remove_file(dir.join("t.wav")).unwrap();
    let b = rackd(&["album", "build", "a.toml", "--out", "out2"], dir);
    assert_eq!(b.status.code(), Some(2));
    assert!(!dir.join("out2").exists() && !dir.join("out2.partial").exists());
}

/// A DDP as another tool writes it, by hand: numbers padded with `pad`,
/// the user text after the DVD fields, the lead-out twice, other file names,
/// no CD-Text, and a CRLF checksum file.
fn foreign_ddp(dir: &Path, pad: char) -> PathBuf {
    let num = |v: u64, len: usize| {
        let s = v.to_string();
        format!("{}{s}", pad.to_string().repeat(len - s.len()))
    };
    std::fs::create_dir_all(dir).unwrap();
    let mut id = vec![b' '; 128];
    id[..8].copy_from_slice(b"DDP 2.00");
    id[8..21].copy_from_slice(b"0036000291452");
    id[87..89].copy_from_slice(b"CD");
    id[97..99].copy_from_slice(b"05");
    id[99..104].copy_from_slice(b"other");
    let frames = 150 + 300 + 150 + 300;
    let image: Vec<u8> = (0..frames * 2352).map(|i| (i % 251) as u8).collect();
    let mut pq = Vec::new();
    let mut entry = |track: &str, index: u64, frame: u64, isrc: &str| {
        let mut b = vec![b' '; 64];
        b[..4].copy_from_slice(b"VVVS");
        b[4..6].copy_from_slice(track.as_bytes());
        b[6..8].copy_from_slice(num(index, 2).as_bytes());
        let t = format!(
            "{}{}{}{}",
            num(0, 2),
            num(frame / 75 / 60, 2),
            num(frame / 75 % 60, 2),
            num(frame % 75, 2)
        );
        b[8..16].copy_from_slice(t.as_bytes());
        b[16..18].copy_from_slice(b"21");
        b[20..20 + isrc.len()].copy_from_slice(isrc.as_bytes());
        pq.extend(b);
    };
    entry("00", 0, 0, "");
    entry("01", 0, 0, "GBAAA2600001");
    entry("01", 1, 150, "GBAAA2600001");
    entry("02", 0, 450, "GBAAA2600002");
    entry("02", 1, 600, "GBAAA2600002");
    entry("AA", 1, frames, "");
    entry("AA", 1, frames, "");
    let map = |kind: &str, len: u64, sub: &str, name: &str| {
        let mut b = vec![b' '; 128];
        b[..4].copy_from_slice(b"VVVM");
        b[4..6].copy_from_slice(kind.as_bytes());
        b[6..14].copy_from_slice(num(0, 8).as_bytes());
        b[14..22].copy_from_slice(num(len, 8).as_bytes());
        b[22..30].copy_from_slice(num(0, 8).as_bytes());
        b[30..30 + sub.len()].copy_from_slice(sub.as_bytes());
        if kind == "D0" {
            b[38..40].copy_from_slice(b"DA");
            b[46..50].copy_from_slice(num(150, 4).as_bytes());
        }
        b[71..74].copy_from_slice(num(17, 3).as_bytes());
        b[74..74 + name.len()].copy_from_slice(name.as_bytes());
        b
    };
    let mut ms = map("D0", frames, "", "MAIN.DAT");
    ms.extend(map("S0", pq.len() as u64, "PQ DESCR", "SUBCODE.PQ"));
    let files: [(&str, &[u8]); 4] = [
        ("DDPID", &id),
        ("DDPMS", &ms),
        ("SUBCODE.PQ", &pq),
        ("MAIN.DAT", &image),
    ];
    let mut sums = String::new();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
        let md5 =
            String::from_utf8(run(Command::new("md5sum").arg(dir.join(name))).stdout).unwrap();
        sums.push_str(&format!("{}  {name}\r\n", &md5[..32].to_ascii_uppercase()));
    }
    std::fs::write(dir.join("MD5_CHECKSUM.MD5"), sums).unwrap();
    dir.join("MAIN.DAT")
}

#[test]
fn ddps_of_other_tools_read_and_verify() {
    need("md5sum");
    let tmp = tempfile::tempdir().unwrap();
    for pad in ['0', ' '] {
        let dir = tmp.path().join(format!("ddp{}", pad as u32));
        let image = foreign_ddp(&dir, pad);
        let info = run(Command::new(rackd_bin())
            .args(["ddp", "info", "--json"])
            .arg(&dir));
        assert!(
            info.status.success(),
            "{}",
            String::from_utf8_lossy(&info.stderr)
        );
        let info: Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["upc"], "0036000291452");
        assert_eq!(info["user_text"], "other");
        assert_eq!(info["lead_out"], 900);
        assert_eq!(info["cd_text"], Value::Null);
        assert_eq!(info["tracks"][1]["indexes"][1]["frame"], 600);
        assert_eq!(info["tracks"][1]["isrc"], "GBAAA2600002");
        assert_eq!(info["tracks"][0]["flags"]["copy_permitted"], true);
        assert_eq!(info["streams"][0]["file"], "MAIN.DAT");
        let v = run(Command::new(rackd_bin()).args(["ddp", "verify"]).arg(&dir));
        let text = String::from_utf8_lossy(&v.stdout);
        assert!(v.status.success(), "pad {pad:?}: {text}");
        assert!(text.contains("4 checksums match"), "{text}");
        // A truncated image: sizes no longer agree with DDPMS and the PQ.
        let b = std::fs::read(&image).unwrap();
        std::fs::write(&image, &b[..b.len() - 2352]).unwrap();
        let v = run(Command::new(rackd_bin()).args(["ddp", "verify"]).arg(&dir));
        let text = String::from_utf8_lossy(&v.stdout);
        assert_eq!(v.status.code(), Some(2), "{text}");
        assert!(
            text.contains("FAIL MAIN.DAT: 899 sectors, but DDPMS says 900"),
            "{text}"
        );
        assert!(text.contains("FAIL MAIN.DAT: MD5"), "{text}");
    }
}
