//! The hardware-profile library from the command line (`rackd profile list |
//! show | check`), `rackd check` reporting config and profile errors
//! together, and the outboard parameters in `/rackd/describe`.

use rackd_tests::*;
use rosc::OscType;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn shipped() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(workspace_dir().join("hardware-profiles"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn list_shows_every_shipped_profile_and_show_prints_one() {
    let out = run_rackd(&["profile", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    // Grouped by kind under a heading that counts remote and hand-set gear;
    // each line says how the device is recalled.
    let mut heading = "";
    let mut seen = 0;
    for line in listed.lines() {
        if !line.starts_with(' ') {
            heading = line;
            continue;
        }
        let mut words = line.split_whitespace();
        let id = words.next().unwrap();
        let how: Vec<&str> = words.take(2).collect();
        let file = workspace_dir().join(format!("hardware-profiles/{id}.toml"));
        let profile = std::fs::read_to_string(&file).unwrap();
        let manual = profile.contains("\n[manual]");
        assert_eq!(how[0] == "by", manual, "{line}");
        if !manual {
            assert!(["midi", "osc", "serial"].contains(&how[1]), "{line}");
            assert!(profile.contains(&format!("\n[{}]", how[1])), "{line}");
        }
        let kind = profile
            .lines()
            .find_map(|l| l.strip_prefix("kind = \""))
            .unwrap()
            .trim_end_matches('"');
        let group = match kind {
            "eq" => "Equalizers",
            "compressor" => "Compressors",
            "limiter" => "Limiters",
            "converter" => "Converters",
            "preamp" => "Preamps",
            "switcher" => "Insert and routing switchers",
            _ => "Other processors",
        };
        assert!(
            heading.starts_with(group),
            "{id} ({kind}) under {heading:?}"
        );
        seen += 1;
    }
    assert_eq!(seen, shipped().len(), "{listed}");
    let compressors = listed
        .lines()
        .find(|l| l.starts_with("Compressors"))
        .unwrap();
    assert!(compressors.contains("remote,") && compressors.contains("by hand)"));
    let out = run_rackd(&["profile", "show", "generic-serial-ascii"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("9600 baud"), "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.trim_start().starts_with("low_gain") && l.contains("readback")),
        "{shown}"
    );
    // A named product's source: title, edition, pages and where it is published.
    let out = run_rackd(&["profile", "show", "api-2500-plus"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let named = text(&out.stdout);
    for needle in [
        "source: 2500+ Stereo Bus Compressor Operator's Manual",
        "edition: Rev. ©2019",
        "section: 3.0 Overview (p. 8)",
        "published at: http://",
        "recalled: by hand",
    ] {
        assert!(named.contains(needle), "{needle} not in:\n{named}");
    }
    assert!(
        named
            .lines()
            .any(|l| l.trim_start().starts_with("threshold") && l.ends_with("rotation")),
        "{named}"
    );
    let out = run_rackd(&["profile", "show", "no-such-device"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn profile_check_accepts_shipped_files_and_locates_errors() {
    let files = shipped();
    let args: Vec<&str> = ["profile", "check"]
        .into_iter()
        .chain(files.iter().map(String::as_str))
        .collect();
    let out = run_rackd(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), files.len());

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[device]\nid = \"bad\"\nvendor = \"Generic\"\nmodel = \"x\"\nkind = \"eq\"\ngeneric = true\nsource = { title = \"t\" }\ncolour = \"red\"\n\n[midi]\n\n[[param]]\nid = \"g\"\nname = \"G\"\nmin = 0.0\nmax = 1.0\nmidi = { cc = 7, raw_max = 200 }\n",
    )
    .unwrap();
    let out = run_rackd(&["profile", "check", bad.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let f = bad.display().to_string();
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!("{f}:8:"))),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!("{f}:17:"))),
        "{stderr}"
    );
}

#[test]
fn check_reports_config_and_profile_errors_together() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("local-eq.toml"),
        "[device]\nid = \"local-eq\"\nkind = \"fridge\"\n",
    )
    .unwrap();
    let setup = Setup {
        extra: [
            device_toml("mine", "local-eq", "serial = { path = \"/dev/null\" }"),
            device_toml(
                "other",
                "generic-osc-device",
                "serial = { path = \"/dev/null\" }",
            ),
            device_toml("Bad Id", "generic-passive-eq-stepped", ""),
        ]
        .concat(),
        ..Setup::default()
    };
    let mut toml = setup.toml(free_port(), dir.path());
    toml = toml.replacen(
        "[daemon]\n",
        &format!(
            "[daemon]\nprofile_dirs = [{:?}]\n",
            profiles.display().to_string()
        ),
        1,
    );
    let file = dir.path().join("rackd.toml");
    std::fs::write(&file, toml).unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let f = file.display().to_string();
    let p = profiles.join("local-eq.toml").display().to_string();
    assert!(
        stderr.lines().any(|l| l.starts_with(&format!("{p}:3:"))),
        "{stderr}"
    );
    // Config errors first (a bad id), then the devices' profile problems.
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with(&format!("{f}:")) && l.contains("device[2].id")),
        "{stderr}"
    );
    let out = run_rackd(&["run", "--config", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn resolved_devices_are_reported_and_describe_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup {
        extra: [
            device_toml(
                "other",
                "generic-osc-device",
                "serial = { path = \"/dev/null\" }",
            ),
            device_toml("pultec", "generic-passive-eq-stepped", ""),
        ]
        .concat(),
        ..Setup::default()
    };
    let file = dir.path().join("rackd.toml");
    std::fs::write(&file, setup.toml(free_port(), dir.path())).unwrap();
    let out = run_rackd(&["check", "--config", file.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("device[0].profile: profile \"generic-osc-device\" uses transport osc"),
        "{stderr}"
    );

    setup.extra = device_toml("pultec", "generic-passive-eq-stepped", "");
    let d = Daemon::start(setup);
    let c = d.udp();
    c.send("/rackd/describe", vec![]);
    let m = c
        .recv_until(std::time::Duration::from_secs(5), |m| {
            m.addr == "/rackd/describe"
        })
        .expect("describe");
    let tree = json_arg(&m);
    assert_eq!(tree["devices"][0]["id"], "pultec", "{tree}");
    assert_eq!(tree["devices"][0]["transport"], "manual", "{tree}");
    let addrs: Vec<&str> = tree["params"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["address"].as_str())
        .collect();
    assert!(
        addrs.iter().any(|a| a.starts_with("/outboard/pultec/")),
        "{addrs:?}"
    );
    // Outboard parameters take values like any other: one client sets, the
    // setter gets the value taken, another client subscribed sees the change.
    c.subscribe(&["/outboard/*/*"]);
    let setter = d.udp();
    let low_boost = |m: &rosc::OscMessage| {
        m.addr == "/outboard/pultec/low_boost" && m.args == [OscType::Int(3)]
    };
    setter.send("/outboard/pultec/low_boost", vec![OscType::Int(3)]);
    assert!(
        setter.recv_until(WAIT, low_boost).is_some(),
        "the setter got no reply"
    );
    assert!(
        c.recv_until(WAIT, low_boost).is_some(),
        "the subscriber got no feedback"
    );
    assert_eq!(d.status()["devices"][0]["state"], "manual");
}
