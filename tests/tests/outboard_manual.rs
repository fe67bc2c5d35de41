//! Gear without remote control: the recall sheet (`rackd ctl sheet`) with
//! printed detent labels and what to turn, the recall report waiting for the
//! engineer, and `rackd ctl confirm` closing it.

use rackd_tests::*;

const SONG: &str = "client/album/03 song";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sheet_recall_and_confirm_of_a_manual_device() {
    let d = Daemon::start(Setup {
        extra: device_toml("pultec", "generic-passive-eq-stepped", ""),
        ..Setup::default()
    });
    d.ctl_ok(&["set", "/outboard/pultec/low_freq", "2"]);
    d.ctl_ok(&["set", "/outboard/pultec/low_boost", "4"]);
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/pultec/low_freq", "0"]);

    let sheet = d.ctl_ok(&["sheet", SONG]);
    assert!(sheet.contains("LOW FREQUENCY"), "{sheet}");
    let low_freq = sheet
        .lines()
        .find(|l| l.contains("Low frequency"))
        .unwrap_or_else(|| panic!("{sheet}"));
    assert!(low_freq.contains("[    60]"), "{sheet}");
    assert!(low_freq.contains("<- set it (now 20)"), "{sheet}");
    let boost = sheet.lines().find(|l| l.contains("Low boost")).unwrap();
    assert!(
        boost.contains("[     4]") && !boost.contains("set it"),
        "{sheet}"
    );
    assert!(sheet.contains("1 control to change"), "{sheet}");

    let out = d.ctl_ok(&["recall", SONG]);
    assert!(
        out.lines()
            .any(|l| l.trim() == "pultec: waiting for manual confirmation"),
        "{out}"
    );
    assert_eq!(d.status()["devices"][0]["state"], "waiting");

    assert_eq!(d.ctl_ok(&["confirm", "pultec"]).trim(), "confirmed pultec");
    assert_eq!(d.status()["devices"][0]["state"], "manual");
    let again = d.ctl(&["confirm", "pultec"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("no recall is waiting"));
    let unknown = d.ctl(&["confirm", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(2));
}

/// Parses a document with Python's XML parser (an independent check that
/// the SVG and HTML are well-formed); returns what it says.
fn xml_check(doc: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sheet.xml");
    std::fs::write(&file, doc).unwrap();
    let out = run_with_timeout(
        std::process::Command::new("python3")
            .arg("-c")
            .arg(
                "import sys, xml.etree.ElementTree as E\n\
             root = E.parse(sys.argv[1]).getroot()\n\
             print(root.tag, sum(1 for _ in root.iter()))",
            )
            .arg(&file),
        std::time::Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}\n{doc}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn sheet_as_svg_and_html() {
    let d = Daemon::start(Setup {
        extra: device_toml("pultec", "generic-passive-eq-stepped", ""),
        ..Setup::default()
    });
    d.ctl_ok(&["set", "/outboard/pultec/high_freq", "5"]);
    d.ctl_ok(&["save", SONG]);
    d.ctl_ok(&["set", "/outboard/pultec/high_freq", "1"]);

    let svg = d.ctl_ok(&["sheet", SONG, "--format", "svg"]);
    assert!(xml_check(&svg).starts_with("{http://www.w3.org/2000/svg}svg"));
    assert!(
        svg.contains(
            r#"class="knob differs" data-param="high_freq" data-label="12k" data-position="0.833""#
        ),
        "{svg}"
    );
    assert!(svg.contains(">12k (now 4k)</text>"), "{svg}");
    assert!(svg.contains(r#"class="knob same" data-param="low_boost" data-label="0""#));

    let html = d.ctl_ok(&["sheet", SONG, "--format", "html"]);
    assert!(xml_check(&html).starts_with("html"));
    assert!(
        html.contains("High frequency (KCS): set <b>12k</b> (now 4k)"),
        "{html}"
    );

    let bad = d.ctl(&["sheet", SONG, "--format", "pdf"]);
    assert_eq!(bad.status.code(), Some(2));
}
