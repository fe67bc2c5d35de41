//! The config reader: every problem at once, with its line.

use super::*;

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_toml(text, "rackd.toml", BTreeMap::new())
}

#[test]
fn demo_config_is_valid() {
    let cfg = parse(DEMO_TOML).unwrap();
    assert_eq!(cfg.chain.len(), 3);
    assert_eq!(cfg.osc.listen.port(), 7770);
}

#[test]
fn reports_every_error_with_line() {
    let text = "[audio]\nbackend = \"alsa\"\nceiling_dbfs = 3.0\n\n[osc]\nlisten = \"nowhere\"\nbogus = 1\n\n[[chain]]\nid = \"trim\"\nkind = \"fuzz\"\n";
    let errs = parse(text).unwrap_err().0;
    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:2: audio.backend")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:3: audio.ceiling_dbfs")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:6: osc.listen")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:7: osc.bogus")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:11: chain[0].kind")),
        "{lines:?}"
    );
    assert_eq!(errs.len(), 5, "{lines:?}");
}

#[test]
fn syntax_error_has_line() {
    let errs = parse("[osc]\nlisten = \n").unwrap_err().0;
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, Some(2), "{errs:?}");
}

#[test]
fn environment_overrides_and_is_named_in_errors() {
    let mut env = BTreeMap::new();
    env.insert(
        "RACKD_OSC__LISTEN".to_string(),
        "127.0.0.1:9999".to_string(),
    );
    let cfg = Config::from_toml(DEMO_TOML, "x.toml", env.clone()).unwrap();
    assert_eq!(cfg.osc.listen.port(), 9999);
    env.insert("RACKD_OSC__LISTEN".to_string(), "bad".to_string());
    let errs = Config::from_toml(DEMO_TOML, "x.toml", env).unwrap_err().0;
    assert!(
        errs[0]
            .to_string()
            .starts_with("environment RACKD_OSC__LISTEN"),
        "{errs:?}"
    );
}

#[test]
fn devices_parse_with_transport_sections() {
    let cfg = parse(
        "[daemon]\nprofile_dirs = [\"/srv/profiles\"]\n\n[[device]]\nid = \"eq1\"\nprofile = \"generic-serial-ascii\"\nserial = { path = \"/dev/ttyUSB0\", baud = 38400 }\n\n[[device]]\nid = \"box\"\nprofile = \"generic-osc-device\"\nosc = { address = \"10.0.0.5:9000\", protocol = \"tcp\" }\nsafe = true\n\n[[device]]\nid = \"pultec\"\nprofile = \"generic-passive-eq-stepped\"\n\n[[device]]\nid = \"cc\"\nprofile = \"generic-midi-cc-eq\"\nmidi = { port = \"a2j:in\", input = \"a2j:out\", channel = 2 }\n",
    )
    .unwrap();
    assert_eq!(
        cfg.daemon.profile_dirs,
        vec![PathBuf::from("/srv/profiles")]
    );
    assert_eq!(cfg.devices.len(), 4);
    assert_eq!(
        cfg.devices[3].link,
        DeviceLink::Midi {
            backend: MidiBackend::Jack,
            port: "a2j:in".into(),
            input: Some("a2j:out".into()),
            channel: 2,
            device_id: None
        }
    );
    assert_eq!(
        cfg.devices[0].link,
        DeviceLink::Serial {
            path: "/dev/ttyUSB0".into(),
            baud: Some(38400),
            address: None
        }
    );
    assert!(cfg.devices[1].safe);
    assert_eq!(
        cfg.devices[1].link,
        DeviceLink::Osc {
            address: "10.0.0.5:9000".into(),
            tcp: Some(true)
        }
    );
    let errs = parse(
        "[[device]]\nid = \"b\"\nprofile = \"y\"\nosc = { address = \"h:1\", protocol = \"sctp\" }\n",
    )
    .unwrap_err()
    .0;
    assert!(
        errs[0].to_string().contains("\"sctp\": OSC devices speak"),
        "{errs:?}"
    );
    assert_eq!(cfg.devices[2].link, DeviceLink::None);
    assert_eq!(cfg.devices[0].line, Some(6));
}

#[test]
fn device_errors_have_lines() {
    let errs = parse(
        "[[device]]\nid = \"EQ\"\nprofile = \"x\"\n[[device]]\nid = \"b\"\nprofile = \"y\"\nosc = { address = \"nowhere\", speed = 3 }\n",
    )
    .unwrap_err()
    .0;
    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:2: device[0].id")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:7: device[1].osc.address")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("rackd.toml:7: device[1].osc.speed")),
        "{lines:?}"
    );
    assert_eq!(errs.len(), 3, "{lines:?}");
}

#[test]
fn duplicate_slot_ids_refused() {
    let errs =
        parse("[[chain]]\nid = \"a\"\nkind = \"trim\"\n[[chain]]\nid = \"a\"\nkind = \"meter\"\n")
            .unwrap_err()
            .0;
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, Some(5));
}

#[test]
fn insert_slots_take_ports_and_others_refuse_them() {
    let cfg = parse(
        "[[chain]]
id = \"gear\"
kind = \"insert\"
send = [\"a:1\", \"a:2\"]
\
         return = \"b:1,b:2\"
active = false
",
    )
    .unwrap();
    assert_eq!(cfg.chain[0].send, ["a:1", "a:2"]);
    assert_eq!(cfg.chain[0].returns, ["b:1", "b:2"]);
    assert!(!cfg.chain[0].active);
    let errs = parse(
        "[[chain]]\nid = \"t\"\nkind = \"trim\"\nsend = [\"a:1\"]\n\
         [[chain]]\nid = \"g\"\nkind = \"insert\"\nreturn = [\"a\", \"b\", \"c\"]\nactive = 1\n",
    )
    .unwrap_err()
    .0;
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 3, "{text:?}");
    assert!(
        text[0].contains("only an insert slot has send ports"),
        "{text:?}"
    );
    assert!(
        text.iter().any(|t| t.contains("2 return ports")),
        "{text:?}"
    );
    assert!(text.iter().any(|t| t.contains("true or false")), "{text:?}");

    let cfg = parse(
        "[audio]\nchannels = 6\n[[chain]]\nid = \"g\"\nkind = \"insert\"\n\
         send_channels = [5, 6]\nreturn_channels = [3, 4]\n",
    )
    .unwrap();
    assert_eq!(cfg.audio.channels, 6);
    assert_eq!(cfg.chain[0].send_channels, [5, 6]);
    let errs = parse(
        "[audio]\nchannels = 4\n[[chain]]\nid = \"g\"\nkind = \"insert\"\n\
         send_channels = [2, 5]\nreturn_channels = [3]\n\
         [[chain]]\nid = \"t\"\nkind = \"trim\"\nsend_channels = [3, 4]\n",
    )
    .unwrap_err()
    .0;
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 3, "{text:?}");
    assert!(text[0].contains("channel 2 is not one of 3..4"), "{text:?}");
    assert!(
        text[1].contains("two different channel numbers"),
        "{text:?}"
    );
    assert!(
        text[2].contains("only an insert slot has send_channels"),
        "{text:?}"
    );
}

#[test]
fn environment_of_clients_is_not_config() {
    let mut env = BTreeMap::new();
    env.insert("RACKD_CONNECT".to_string(), "10.0.0.2:7770".to_string());
    let cfg = Config::from_toml(DEMO_TOML, "x.toml", env.clone()).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    env.insert("RACKD_OSC_LISTEN".to_string(), "0.0.0.0:1".to_string());
    let cfg = Config::from_toml(DEMO_TOML, "x.toml", env).unwrap();
    assert_eq!(
        cfg.osc.listen.port(),
        7770,
        "a mistyped override changes nothing"
    );
    assert!(
        cfg.warnings
            .iter()
            .any(|w| w.key == "RACKD_OSC_LISTEN" && w.message.contains("two underscores")),
        "{:?}",
        cfg.warnings
    );
}

#[test]
fn an_empty_config_says_what_it_assumed() {
    let cfg = parse("").unwrap();
    assert!(cfg.chain.is_empty());
    let text: Vec<String> = cfg.warnings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|w| w.contains("assuming backend Jack") && w.contains("127.0.0.1:7770")),
        "{text:?}"
    );
}

#[test]
fn inserts_the_backend_cannot_serve_are_warned_about_by_check() {
    let cfg = parse("[audio]\nbackend = \"null\"\n[[chain]]\nid = \"gear\"\nkind = \"insert\"\n")
        .unwrap();
    assert_eq!(cfg.warnings.len(), 1, "{:?}", cfg.warnings);
    assert!(
        cfg.warnings[0]
            .to_string()
            .starts_with("rackd.toml:3: chain[0]"),
        "{}",
        cfg.warnings[0]
    );
    assert!(
        cfg.warnings[0]
            .message
            .contains("need the JACK or cpal backend")
    );
}

#[test]
fn many_errors_are_found_in_linear_time_and_printing_is_capped() {
    // 40 000 unknown keys: every one reported at its line, the print capped.
    let n = 40_000;
    let mut text = String::from("[osc]\n");
    for i in 0..n {
        text += &format!("bogus_{i} = {i}\n");
    }
    let started = std::time::Instant::now();
    let errs = parse(&text).unwrap_err();
    let took = started.elapsed();
    assert_eq!(errs.0.len(), n);
    assert_eq!(errs.0[n - 1].line, Some(n + 1));
    assert!(errs.0[n - 1].to_string().starts_with(&format!(
        "rackd.toml:{}: osc.bogus_{}",
        n + 1,
        n - 1
    )));
    let shown = errs.to_string();
    assert_eq!(shown.lines().count(), MAX_SHOWN + 1);
    assert!(
        shown.ends_with(&format!("… and {} more", n - MAX_SHOWN)),
        "{}",
        &shown[shown.len() - 60..]
    );
    eprintln!("{n} unknown keys checked in {took:?}");
}

#[test]
fn a_huge_file_is_refused_at_once() {
    let text = "# padding\n".repeat(MAX_CONFIG_BYTES / 10 + 1);
    let errs = parse(&text).unwrap_err();
    assert_eq!(errs.0.len(), 1);
    assert!(
        errs.0[0].message.contains("is this the right file"),
        "{}",
        errs.0[0]
    );
}

#[test]
fn type_errors_do_not_hide_other_problems_in_the_same_table() {
    let errs =
        parse("[audio]\nbackend = 3\nsample_rate = \"fast\"\nceiling_dbfs = 9.0\nbogus = 1\n")
            .unwrap_err()
            .0;
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    for (line, key) in [
        (2, "audio.backend"),
        (3, "audio.sample_rate"),
        (4, "audio.ceiling_dbfs"),
        (5, "audio.bogus"),
    ] {
        assert!(
            text.iter()
                .any(|t| t.starts_with(&format!("rackd.toml:{line}: {key}"))),
            "no {line}: {key} in {text:?}"
        );
    }
    assert_eq!(errs.len(), 4, "{text:?}");
}

#[test]
fn http_defaults_to_loopback_without_tokens() {
    let cfg = parse("").unwrap();
    assert!(cfg.http.enabled);
    assert_eq!(cfg.http.listen, "127.0.0.1:7771".parse().unwrap());
    assert_eq!(cfg.http.token, None);
    assert!(!cfg.http.mdns);
    let demo = parse(DEMO_TOML).unwrap();
    assert_eq!(demo.http.listen.port(), 7771);
}

#[test]
fn http_beyond_loopback_needs_a_token() {
    let errs = parse("[http]\nlisten = \"0.0.0.0:7771\"\n").unwrap_err().0;
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .starts_with("rackd.toml:2: http.listen: 0.0.0.0:7771 is reachable"),
        "{}",
        errs[0]
    );
    let cfg = parse(
        "[http]\nlisten = \"0.0.0.0:7771\"\ntoken = \"0123456789abcdef0123\"\nread_only_token = \"fedcba98765432100123\"\n",
    )
    .unwrap();
    assert_eq!(cfg.http.token.as_deref(), Some("0123456789abcdef0123"));
    assert_eq!(
        cfg.http.read_only_token.as_deref(),
        Some("fedcba98765432100123")
    );
    // A disabled front end listens nowhere, so it needs no token.
    parse("[http]\nenabled = false\nlisten = \"0.0.0.0:7771\"\n").unwrap();
    // Tokens never show in debug output.
    assert!(!format!("{:?}", cfg.http).contains("0123456789"));
}

#[test]
fn http_token_problems_have_lines() {
    let text = "[http]\ntoken = \"short\"\nread_only_token = \"has a space in it!!\"\nname = \"\"\nmdns = 3\n";
    let lines: Vec<String> = parse(text)
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.to_string())
        .collect();
    for want in [
        "rackd.toml:2: http.token: a token needs at least 16",
        "rackd.toml:3: http.read_only_token: a token is printable",
        "rackd.toml:4: http.name",
        "rackd.toml:5: http.mdns",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "{want} in {lines:?}"
        );
    }
    let same = "[http]\ntoken = \"0123456789abcdef\"\nread_only_token = \"0123456789abcdef\"\n";
    let lines: Vec<String> = parse(same)
        .unwrap_err()
        .0
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert!(
        lines[0].starts_with("rackd.toml:3: http.read_only_token: is the same"),
        "{lines:?}"
    );
}

#[test]
fn http_token_file_is_read_next_to_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "0123456789abcdef0123\n").unwrap();
    let file = dir.path().join("rackd.toml");
    let text = "[http]\nlisten = \"0.0.0.0:7771\"\ntoken_file = \"token\"\n";
    let cfg = Config::from_toml(text, &file.display().to_string(), BTreeMap::new()).unwrap();
    assert_eq!(cfg.http.token.as_deref(), Some("0123456789abcdef0123"));
    let missing = "[http]\ntoken_file = \"nope\"\n";
    let errs = Config::from_toml(missing, &file.display().to_string(), BTreeMap::new())
        .unwrap_err()
        .0;
    assert!(
        errs[0]
            .to_string()
            .contains(":2: http.token_file: cannot read"),
        "{}",
        errs[0]
    );
    let both = "[http]\ntoken = \"0123456789abcdef0123\"\ntoken_file = \"token\"\n";
    assert!(
        parse(both).unwrap_err().0[0]
            .to_string()
            .contains("not both")
    );
}

#[test]
fn http_token_from_the_environment() {
    let env: BTreeMap<String, String> = [
        ("RACKD_HTTP__LISTEN".to_string(), "0.0.0.0:7771".to_string()),
        (
            "RACKD_HTTP__TOKEN".to_string(),
            "0123456789abcdef0123".to_string(),
        ),
    ]
    .into();
    let cfg = Config::from_toml("", "rackd.toml", env).unwrap();
    assert_eq!(cfg.http.listen.port(), 7771);
    assert_eq!(cfg.http.token.as_deref(), Some("0123456789abcdef0123"));
}

#[test]
fn ceiling_mode_is_samples_unless_true_peak_is_asked_for() {
    assert_eq!(
        parse("").unwrap().audio.ceiling_mode,
        rackd_dsp::CeilingMode::SamplePeak
    );
    let cfg = parse("[audio]\nceiling_mode = \"true_peak\"\n").unwrap();
    assert_eq!(cfg.audio.ceiling_mode, rackd_dsp::CeilingMode::TruePeak);
    let errs = parse("[audio]\nceiling_mode = \"brickwall\"\n")
        .unwrap_err()
        .0;
    let text = errs[0].to_string();
    assert!(
        text.starts_with("rackd.toml:2: audio.ceiling_mode") && text.contains("true_peak"),
        "{text}"
    );
}

#[test]
fn midi_surfaces_read_with_their_problems_on_their_lines() {
    let text = r#"
[[midi_surface]]
id = "desk"
protocol = "mcu"
midi = { port = "mcu:in", input = "mcu:out" }
extenders = [{ port = "xt:in", input = "xt:out" }]
banks = [["/chain/eq/b1_gain", "", "/outboard/eq/low_gain"], ["/monitor/level"]]

[[midi_surface]]
id = "xtouch"
protocol = "mcu"
model = "xt"
midi = { backend = "alsa", port = "X-Touch" }
master = ""
"#;
    let cfg = parse(text).unwrap();
    let [desk, xt] = &cfg.midi_surfaces[..] else {
        panic!("{:?}", cfg.midi_surfaces)
    };
    assert_eq!(desk.units.len(), 2);
    assert_eq!(desk.model, rackd_protocol::mcu::Model::Mcu);
    assert_eq!(desk.master.as_deref(), Some("/monitor/level"));
    assert_eq!(desk.line, Some(7));
    assert_eq!(
        desk.banks,
        SurfaceBanks::Lists(vec![
            vec![
                "/chain/eq/b1_gain".into(),
                String::new(),
                "/outboard/eq/low_gain".into()
            ],
            vec!["/monitor/level".into()]
        ])
    );
    assert_eq!(xt.model, rackd_protocol::mcu::Model::Xt);
    assert_eq!(xt.units[0].backend, MidiBackend::Alsa);
    assert_eq!(xt.master, None);
    assert_eq!(xt.banks, SurfaceBanks::Auto);

    let errs = check_banks(&cfg.midi_surfaces, |a| a != "/outboard/eq/low_gain");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(
        errs[0].to_string(),
        "rackd.toml:7: midi_surface[0].banks[0][2]: the rack has no parameter /outboard/eq/low_gain (see rackd ctl describe)"
    );

    let bad = r#"
[[midi_surface]]
id = "Desk"
protocol = "hui"
model = "c4"
midi = { port = "mcu:in", channel = 2 }
banks = [["gain"]]
colour = "red"
"#;
    let errs = parse(bad).unwrap_err().0;
    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    for want in [
        "rackd.toml:6: midi_surface[0].midi.channel: unknown key",
        "rackd.toml:8: midi_surface[0].colour: unknown key",
        "rackd.toml:3: midi_surface[0].id:",
        "rackd.toml:4: midi_surface[0].protocol: \"hui\"",
        "rackd.toml:5: midi_surface[0].model: \"c4\"",
        "rackd.toml:6: midi_surface[0].midi.input: missing",
        "rackd.toml:7: midi_surface[0].banks[0][0]: \"gain\" is not a parameter address",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "{want} not in {lines:#?}"
        );
    }
    assert_eq!(lines.len(), 7, "{lines:#?}");
    let errs = parse("[[midi_surface]]\nid = \"a\"\nprotocol = \"mcu\"\nmidi = { port = \"p\", input = \"q\" }\nbanks = 3\n")
        .unwrap_err()
        .0;
    assert!(
        errs[0]
            .to_string()
            .contains("expected \"auto\" or a list of banks"),
        "{errs:?}"
    );
}
