//! Files the page opens: `rackd analyze` reports from `[http] reports_dir`
//! and each hand-set device's recall sheet.

use super::*;

#[test]
fn analyze_reports_are_listed_and_opened_from_the_page() {
    let d = Daemon::start(web_setup(true));
    let port = d.setup.http_port;
    let reports = d.state_dir.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    let wav = d.dir.path().join("take.wav");
    let tone: Vec<f64> = (0..48_000)
        .map(|i| 0.25 * (i as f64 * 2.0 * std::f64::consts::PI * 997.0 / 48_000.0).sin())
        .collect();
    rackd_tests::wav::write_pcm_wav(&wav, 48_000, 24, &[tone.clone(), tone]);
    let html = reports.join("take 1.html");
    let out = run_rackd(&[
        "analyze",
        &wav.to_string_lossy(),
        "--report",
        &html.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&html).unwrap();
    // What must not be served: a file that is no report, a link out of the dir.
    std::fs::write(reports.join("notes.txt"), "not a report").unwrap();
    std::os::unix::fs::symlink(&d.config, reports.join("config.html")).unwrap();

    assert_eq!(get(port, "/ui/reports", None).0, 401, "no token");
    let (status, body) = get(port, "/ui/reports", Some(LOOK));
    assert_eq!(status, 200, "{body}");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names: Vec<&str> = list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["take 1.html"], "{body}");
    assert_eq!(
        list["reports"][0]["bytes"].as_u64(),
        Some(written.len() as u64)
    );
    let modified = std::fs::metadata(&html)
        .unwrap()
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(list["reports"][0]["modified"].as_u64(), Some(modified));

    let (status, body) = get(port, "/ui/reports/take%201.html", Some(LOOK));
    assert_eq!(status, 200);
    assert_eq!(body, written, "the report is served as written");
    assert_eq!(get(port, "/ui/reports/take%201.html", None).0, 401);

    for (path, want) in [
        ("/ui/reports/../rackd.toml", 400),
        ("/ui/reports/..%2frackd.toml", 400),
        ("/ui/reports/%2e%2e%2f%2e%2e%2fetc%2fpasswd", 400),
        ("/ui/reports/sub/take%201.html", 400),
        ("/ui/reports/.take%201.html", 400),
        ("/ui/reports/notes.txt", 400),
        ("/ui/reports/config.html", 404),
        ("/ui/reports/absent.html", 404),
    ] {
        let (status, body) = get(port, path, Some(FULL));
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            !body.contains("[http]") && !body.contains("root:"),
            "{path}: {body}"
        );
    }
    assert!(
        d.log_text().contains("is not a report name"),
        "{}",
        d.log_text()
    );
    d.ctl_ok(&["status"]);
}

#[test]
fn each_hand_set_device_has_its_own_sheet() {
    let mut setup = web_setup(false);
    setup.extra += &device_toml("second", "generic-passive-eq-stepped", "");
    let d = Daemon::start(setup);
    let port = d.setup.http_port;
    d.ctl_ok(&["set", "/outboard/second/low_freq", "3"]);
    d.ctl_ok(&["save", "client/album/01 sheets"]);
    let panels = |svg: &str| -> Vec<String> {
        svg.split("data-device=\"")
            .skip(1)
            .map(|r| r.split('"').next().unwrap().to_string())
            .collect()
    };
    let (status, whole) = get(port, "/ui/sheet.svg?song=client%2Falbum%2F01+intro", None);
    assert!(status >= 400, "no such song: {status} {whole}");
    let (status, whole) = get(port, "/ui/sheet.svg?song=client%2Falbum%2F01+sheets", None);
    assert_eq!(status, 200, "{whole}");
    assert_eq!(panels(&whole), ["passive", "second"]);
    for device in ["passive", "second"] {
        let (status, one) = get(
            port,
            &format!("/ui/sheet.svg?song=client%2Falbum%2F01+sheets&device={device}"),
            None,
        );
        assert_eq!(status, 200, "{one}");
        assert_eq!(panels(&one), [device], "{one}");
        // The panel drawn alone is the one drawn in the whole sheet.
        let cut = |svg: &str| {
            let start = svg.find(&format!("id=\"device-{device}\"")).unwrap();
            let end = start + svg[start..].find("</svg>").unwrap();
            svg[start..end].to_string()
        };
        assert_eq!(cut(&one), cut(&whole));
    }
    let (status, body) = get(port, "/ui/sheet.svg?song=current&device=nobody", None);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no hand-set device"), "{body}");
}
