//! Harness for rackd's end-to-end tests: real `rackd` processes, real `jackd`
//! servers, real OSC clients over UDP and TCP, all on loopback with free
//! ports and temporary directories, started and stopped by PID.
//!
//! Long: every end-to-end test shares it; `jack_clients.rs`,
//! `midi_surface.rs` and `wav.rs` hold what only some tests use.
//!
//! Every background process a test starts is owned by a guard that stops it
//! (by its PID) when the guard is dropped, and a failing test prints the
//! daemon's log so the failure can be read without re-running.

pub mod jack_clients;
pub mod midi_surface;
pub mod wav;
pub use jack_clients::{GearStandIn, JackTap, undisturbed};

use rosc::{OscMessage, OscPacket, OscType};
use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Generous default wait for things that should happen "soon".
pub const WAIT: Duration = Duration::from_secs(10);

/// The `rackd` binary built in the shared target dir (`cargo build -p rackd`).
pub fn rackd_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/<test> → target/debug/rackd
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("rackd");
    assert!(
        bin.exists(),
        "rackd binary not found at {}: run `cargo build -p rackd` first",
        bin.display()
    );
    bin
}

/// The directory of this crate (`tests/`), for fixtures and python scripts.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root (`systemd/`, `daemon/`, ...).
pub fn workspace_dir() -> PathBuf {
    crate_dir().parent().expect("workspace root").to_path_buf()
}

/// Whether a program is on PATH.
pub fn have_program(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether a tool a test needs is there. Without it the test is skipped
/// (returns false, with a line saying so) on a developer's machine, and
/// fails when `CI` is set: `scripts/install-deps --test` installs every
/// tool the tests use, so a skip in CI would hide a gap.
pub fn require_program(name: &str, package: &str) -> bool {
    if have_program(name) {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{name} is not installed and CI is set: scripts/install-deps --test installs {package}"
    );
    eprintln!("skipped: {name} is not installed (apt-get install {package})");
    false
}

/// Whether `python3` can import `module`; like [`require_program`], fails
/// instead of skipping when `CI` is set.
pub fn require_python_module(module: &str, package: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "python module {module} is missing and CI is set: scripts/install-deps --test installs {package}"
    );
    eprintln!("skipped: python module {module} is missing (pip install {package})");
    false
}

/// Removes `RACKD_*` overrides inherited from the shell that runs the tests,
/// so every process a test starts sees only the configuration it was given.
pub fn without_rackd_env(cmd: &mut Command) -> &mut Command {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("RACKD_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A loopback port that is free for both UDP and TCP right now, and not handed
/// out before by this process (so parallel tests do not collide). It is
/// released before use, so another process can take it first: whatever binds
/// it must retry on a bind failure ([`Daemon`], [`Background::oscdump`]) or,
/// better, bind port 0 and say which port it got ([`Simulator::start_osc`]).
pub fn free_port() -> u16 {
    for _ in 0..200 {
        let Ok(tcp) = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        let mut set = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if set.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("no free port found");
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this process and call: for JACK servers and clients.
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `f` until it returns `Some` or the deadline passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(x) = f() {
            return Some(x);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Sends a signal to one process we started.
pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a PID of a child we spawned and own.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Waits for a child to exit, up to `timeout`.
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    wait_for(timeout, || child.try_wait().ok().flatten())
}

/// Stops a child: `sig` first, SIGKILL after `grace`.
pub fn stop_child(child: &mut Child, sig: libc::c_int, grace: Duration) -> ExitStatus {
    if let Ok(Some(st)) = child.try_wait() {
        return st;
    }
    signal(child.id(), sig);
    if let Some(st) = wait_child(child, grace) {
        return st;
    }
    let _ = child.kill();
    child.wait().expect("wait")
}

/// Strips ANSI colour escapes from log text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------- jackd

/// A `jackd --no-realtime -d dummy` server with its own name.
pub struct Jackd {
    child: Option<Child>,
    /// Server name (`-n`), for `JACK_DEFAULT_SERVER`.
    pub name: String,
    log: PathBuf,
    /// Frames per cycle.
    period: usize,
    /// Synchronous mode (`-S`): the server waits for every client each cycle.
    sync: bool,
    _dir: tempfile::TempDir,
}

impl Jackd {
    /// Starts a dummy server named `name` (48 kHz, 256-frame periods) and
    /// waits until a client can connect.
    pub fn start(name: &str) -> Jackd {
        Self::start_with_period(name, 256)
    }

    /// [`Jackd::start`] with `period` frames per cycle. Tests that need clean
    /// takes on a busy machine use long periods: fewer cycles to miss, and
    /// more time for each.
    pub fn start_with_period(name: &str, period: usize) -> Jackd {
        Self::start_with(name, period, false)
    }

    /// [`Jackd::start_with_period`] in synchronous mode (`jackd -S`): a cycle
    /// lasts until every client has run, so on a busy machine a late client
    /// stretches the cycle instead of missing it. Tests that follow single
    /// MIDI messages use it: in asynchronous mode a client that misses a
    /// cycle of the non-realtime dummy driver loses what it had to read.
    pub fn start_sync(name: &str, period: usize) -> Jackd {
        Self::start_with(name, period, true)
    }

    fn start_with(name: &str, period: usize, sync: bool) -> Jackd {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("jackd.log");
        let mut j = Jackd {
            child: None,
            name: name.to_string(),
            log,
            period,
            sync,
            _dir: dir,
        };
        j.spawn();
        j
    }

    fn spawn(&mut self) {
        let out = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("jackd log");
        let mut cmd = Command::new("jackd");
        cmd.args(["--no-realtime", "-n", &self.name]);
        if self.sync {
            cmd.arg("-S");
        }
        let child = cmd
            .args(["-d", "dummy"])
            .args(["-r", "48000", "-p", &self.period.to_string()])
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("cannot start jackd (apt install jackd2)");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let name = self.name.clone();
        let ok = wait_for(WAIT, || {
            if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("jackd exited early ({st}):\n{}", self.log_text());
            }
            let st = Command::new("jack_lsp")
                .env("JACK_DEFAULT_SERVER", &name)
                .env("JACK_NO_START_SERVER", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            match st {
                Ok(s) if s.success() => Some(()),
                Ok(_) => None,
                // No jack_lsp: fall back to the log line jackd prints.
                Err(_) => self.log_text().contains("dummy").then_some(()),
            }
        });
        assert!(
            ok.is_some(),
            "jackd {} did not come up:\n{}",
            self.name,
            self.log_text()
        );
    }

    /// PID of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (SIGKILL, no goodbye to clients) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGKILL, WAIT);
        }
        // Wait until no client can connect any more.
        let name = self.name.clone();
        wait_for(WAIT, || {
            let st = Command::new("jack_lsp")
                .env("JACK_DEFAULT_SERVER", &name)
                .env("JACK_NO_START_SERVER", "1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            (!st.is_ok_and(|s| s.success())).then_some(())
        });
    }

    /// Starts the server again under the same name.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "jackd still running");
        self.spawn();
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Jackd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGTERM, Duration::from_secs(5));
        }
        if std::thread::panicking() {
            eprintln!("----- jackd {} log -----\n{}", self.name, self.log_text());
        }
    }
}

// ---------------------------------------------------------------- daemon

/// What goes into a daemon's config file.
#[derive(Debug, Clone)]
pub struct Setup {
    /// `audio.backend`: "null" or "jack".
    pub backend: String,
    /// JACK server to use (env `JACK_DEFAULT_SERVER`) when backend is jack.
    pub jack_server: Option<String>,
    /// `audio.client_name`.
    pub client_name: String,
    /// `audio.test_tone_db` (null backend).
    pub test_tone_db: Option<f32>,
    /// `audio.ceiling_dbfs`.
    pub ceiling_dbfs: f32,
    /// `audio.ceiling_mode`, when set (`sample_peak`, `true_peak`).
    pub ceiling_mode: Option<String>,
    /// `daemon.autosave_ms`.
    pub autosave_ms: u64,
    /// `osc.allow`.
    pub allow: Vec<String>,
    /// `osc.idle_timeout_s`, when set.
    pub idle_timeout_s: Option<u32>,
    /// `[[surface]]` entries: (address, patterns).
    pub surfaces: Vec<(String, Vec<String>)>,
    /// `[[chain]]` entries: (id, kind).
    pub chain: Vec<(String, String)>,
    /// Extra environment for the daemon process.
    pub env: Vec<(String, String)>,
    /// Raw TOML appended to the config (`[[device]]` tables).
    pub extra: String,
    /// `[http]` keys besides `listen` (tokens…): the page and OSCQuery on
    /// [`Setup::http_host`]:[`Setup::http_port`]. `None`: HTTP on any free
    /// loopback port, which the test does not use.
    pub http: Option<String>,
    /// Address HTTP listens on when [`Setup::http`] is set.
    pub http_host: String,
    /// Port HTTP listens on when [`Setup::http`] is set (the daemon picks a free one).
    pub http_port: u16,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            backend: "null".into(),
            jack_server: None,
            client_name: unique_name("rackd"),
            test_tone_db: None,
            ceiling_dbfs: -0.3,
            ceiling_mode: None,
            autosave_ms: 200,
            allow: vec!["127.0.0.0/8".into(), "::1/128".into()],
            idle_timeout_s: None,
            surfaces: Vec::new(),
            chain: vec![
                ("trim".into(), "trim".into()),
                ("meter".into(), "meter".into()),
            ],
            env: Vec::new(),
            extra: String::new(),
            http: None,
            http_host: "127.0.0.1".into(),
            http_port: 0,
        }
    }
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).expect("json string")
}

fn toml_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl Setup {
    /// The default rack on the JACK backend of `server`.
    pub fn jack(server: &str) -> Setup {
        Setup {
            backend: "jack".into(),
            jack_server: Some(server.to_string()),
            ..Setup::default()
        }
    }

    /// The config file text for a daemon on `port` with state in `state_dir`.
    pub fn toml(&self, port: u16, state_dir: &Path) -> String {
        let mut t = String::new();
        t += "[daemon]\n";
        t += &format!("state_dir = {}\n", toml_str(&state_dir.to_string_lossy()));
        t += "log_level = \"info\"\n";
        t += &format!("autosave_ms = {}\n\n", self.autosave_ms);
        t += "[audio]\n";
        t += &format!("backend = {}\n", toml_str(&self.backend));
        t += &format!("client_name = {}\n", toml_str(&self.client_name));
        if let Some(db) = self.test_tone_db {
            t += &format!("test_tone_db = {db:.1}\n");
        }
        t += &format!("ceiling_dbfs = {:.1}\n", self.ceiling_dbfs);
        if let Some(mode) = &self.ceiling_mode {
            t += &format!("ceiling_mode = {}\n", toml_str(mode));
        }
        t += "\n";
        t += "[osc]\n";
        t += &format!("listen = \"127.0.0.1:{port}\"\n");
        t += &format!("allow = {}\n", toml_list(&self.allow));
        if let Some(s) = self.idle_timeout_s {
            t += &format!("idle_timeout_s = {s}\n");
        }
        t += "\n";
        t += "[http]\n";
        match &self.http {
            Some(extra) => {
                t += &format!(
                    "listen = \"{}:{}\"\n{extra}\n\n",
                    self.http_host, self.http_port
                )
            }
            None => t += "listen = \"127.0.0.1:0\"\n\n",
        }
        for (address, patterns) in &self.surfaces {
            t += "[[surface]]\n";
            t += &format!("address = {}\n", toml_str(address));
            t += &format!("patterns = {}\n\n", toml_list(patterns));
        }
        for (id, kind) in &self.chain {
            t += &format!(
                "[[chain]]\nid = {}\nkind = {}\n\n",
                toml_str(id),
                toml_str(kind)
            );
        }
        t += &self.extra;
        t
    }
}

/// A running `rackd run --config FILE`, stopped by PID when dropped.
pub struct Daemon {
    child: Option<Child>,
    /// OSC port (UDP and TCP).
    pub port: u16,
    /// The setup it was started with.
    pub setup: Setup,
    /// Holds the config file and the log.
    pub dir: tempfile::TempDir,
    /// The state dir (may outlive this daemon for restart tests).
    pub state_dir: PathBuf,
    /// The config file.
    pub config: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    _state: Option<tempfile::TempDir>,
}

impl Daemon {
    /// Starts a daemon with its own temp state dir and waits until it answers.
    pub fn start(setup: Setup) -> Daemon {
        let state = tempfile::tempdir().expect("tempdir");
        let mut d = Self::spawn_in(setup, state.path(), &[]);
        d._state = Some(state);
        d.wait_ready();
        d
    }

    /// Starts a daemon with its own temp state dir and extra environment, without waiting.
    pub fn spawn_env(setup: Setup, env: &[(&str, &str)]) -> Daemon {
        let state = tempfile::tempdir().expect("tempdir");
        let mut d = Self::spawn_in(setup, state.path(), env);
        d._state = Some(state);
        d
    }

    /// Starts a daemon on a given state dir (restart tests) and waits until it answers.
    pub fn start_in(setup: Setup, state_dir: &Path) -> Daemon {
        let mut d = Self::spawn_in(setup, state_dir, &[]);
        d.wait_ready();
        d
    }

    /// Starts a daemon without waiting, with extra environment.
    pub fn spawn_in(setup: Setup, state_dir: &Path, env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("rackd-test-")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let mut setup = setup;
        if setup.http.is_some() {
            setup.http_port = free_port();
        }
        let config = dir.path().join("rackd.toml");
        std::fs::write(&config, setup.toml(port, state_dir)).expect("write config");
        let log = dir.path().join("rackd.log");
        let mut d = Daemon {
            child: None,
            port,
            setup,
            dir,
            state_dir: state_dir.to_path_buf(),
            config,
            log,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _state: None,
        };
        d.spawn();
        d
    }

    fn spawn(&mut self) {
        let out = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut cmd = Command::new(rackd_bin());
        cmd.arg("run")
            .arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .env("NO_COLOR", "1");
        without_rackd_env(&mut cmd);
        if let Some(server) = &self.setup.jack_server {
            cmd.env("JACK_DEFAULT_SERVER", server)
                .env("JACK_NO_START_SERVER", "1");
        }
        for (k, v) in &self.setup.env {
            cmd.env(k, v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().expect("cannot start rackd"));
    }

    /// Starts the daemon again with the same config and state dir (after stop/kill).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "daemon still running");
        self.spawn();
        self.wait_ready();
    }

    /// Waits until `/rackd/ping` over UDP gets `/rackd/pong`. Should another
    /// process have taken the port in the meantime, starts again on a new one.
    pub fn wait_ready(&mut self) {
        for _ in 0..5 {
            let osc = OscUdp::new(self.port);
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(Ok(Some(st))) = self.child.as_mut().map(|c| c.try_wait()) {
                    let log = self.log_text();
                    assert!(
                        log.contains("cannot bind"),
                        "rackd exited during startup ({st}):\n{log}"
                    );
                    eprintln!("port {} was taken; starting rackd on another", self.port);
                    self.child = None;
                    self.port = free_port();
                    if self.setup.http.is_some() {
                        self.setup.http_port = free_port();
                    }
                    std::fs::write(&self.config, self.setup.toml(self.port, &self.state_dir))
                        .expect("write config");
                    self.spawn();
                    break;
                }
                osc.send("/rackd/ping", vec![OscType::Int(7)]);
                if osc
                    .recv_until(Duration::from_millis(200), |m| m.addr == "/rackd/pong")
                    .is_some()
                {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "rackd did not answer /rackd/ping on port {}:\n{}",
                    self.port,
                    self.log_text()
                );
            }
        }
        panic!("rackd could not bind a free port in 5 tries");
    }

    /// PID of the running daemon.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("daemon not running").id()
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: libc::c_int) {
        signal(self.pid(), sig);
    }

    /// SIGTERM and wait (SIGKILL after 15 s); returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("daemon not running");
        stop_child(&mut c, libc::SIGTERM, Duration::from_secs(15))
    }

    /// SIGKILL: no clean shutdown.
    pub fn kill9(&mut self) {
        let mut c = self.child.take().expect("daemon not running");
        stop_child(&mut c, libc::SIGKILL, WAIT);
    }

    /// The daemon's log (stdout and stderr), colour escapes removed.
    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_for(timeout, || self.log_text().contains(needle).then_some(())).is_some()
    }

    /// `http://127.0.0.1:PORT` of the page and OSCQuery (with [`Setup::http`]).
    pub fn http_url(&self) -> String {
        assert!(
            self.setup.http.is_some(),
            "this daemon was started without Setup::http"
        );
        format!("http://127.0.0.1:{}", self.setup.http_port)
    }

    /// A UDP OSC client aimed at this daemon.
    pub fn udp(&self) -> OscUdp {
        OscUdp::new(self.port)
    }

    /// Runs `rackd ctl --connect 127.0.0.1:PORT ARGS...`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        ctl(&format!("127.0.0.1:{}", self.port), args)
    }

    /// `ctl`, asserting exit 0; returns stdout.
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "rackd ctl {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `/rackd/status` as JSON (over UDP).
    pub fn status(&self) -> serde_json::Value {
        let osc = self.udp();
        osc.send("/rackd/status", vec![]);
        let m = osc
            .recv_until(WAIT, |m| m.addr == "/rackd/status")
            .expect("no /rackd/status reply");
        json_arg(&m)
    }

    /// A counter of `/rackd/status` (`xruns`, `cycle_breaks`, `changes_taken`…).
    pub fn status_count(&self, key: &str) -> u64 {
        let st = self.status();
        st[key]
            .as_u64()
            .unwrap_or_else(|| panic!("status has no counter {key:?}: {st}"))
    }

    /// `rackd ctl set PATH VALUE`, then waits until the audio thread has
    /// taken the change (status `changes_taken`), so what is recorded next
    /// plays it (after the parameter's own glide).
    pub fn set_playing(&self, path: &str, value: &str) {
        let before = self.status_count("changes_taken");
        self.ctl_ok(&["set", path, value]);
        wait_for(WAIT, || {
            (self.status_count("changes_taken") > before).then_some(())
        })
        .unwrap_or_else(|| {
            panic!("the audio thread did not take {path} = {value} within {WAIT:?}")
        });
    }

    /// `rackd ctl layout SLOT...`, then waits until the audio thread has
    /// handed over to it (status `layout_changes`), when it changed. Returns
    /// the layout ctl printed.
    pub fn layout_playing(&self, slots: &[&str]) -> String {
        let st = self.status();
        let before = st["layout_changes"].as_u64().expect("layout_changes");
        let same = st["layout"].as_array().is_some_and(|l| {
            l.iter()
                .map(|s| s.as_str().unwrap_or(""))
                .eq(slots.iter().copied())
        });
        let out = self.ctl_ok(&[&["layout"][..], slots].concat());
        if !same {
            wait_for(WAIT, || {
                (self.status_count("layout_changes") > before).then_some(())
            })
            .unwrap_or_else(|| panic!("layout {slots:?} was not handed over within {WAIT:?}"));
        }
        out.trim().to_string()
    }

    /// Queries one parameter over UDP; returns its value as f32.
    pub fn get_f32(&self, address: &str) -> f32 {
        let osc = self.udp();
        osc.send(address, vec![]);
        let m = osc
            .recv_until(WAIT, |m| m.addr == address)
            .unwrap_or_else(|| panic!("no reply to query {address}"));
        as_f32(&m.args[0])
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGTERM, Duration::from_secs(10));
        }
        if std::thread::panicking() {
            eprintln!(
                "----- rackd log (port {}, {}) -----\n{}",
                self.port,
                self.config.display(),
                self.log_text()
            );
        }
    }
}

/// Runs `rackd ctl --connect ADDR ARGS...` with a 60 s limit.
pub fn ctl(connect: &str, args: &[&str]) -> Output {
    run_rackd(&[&["ctl", "--connect", connect], args].concat())
}

/// Runs `rackd ARGS...` to completion (killed after 60 s).
pub fn run_rackd(args: &[&str]) -> Output {
    run_with_timeout(
        without_rackd_env(Command::new(rackd_bin()).args(args).env("NO_COLOR", "1")),
        Duration::from_secs(60),
    )
}

/// Runs a command, capturing output; kills it (by PID) after `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        v
    });
    let status = match wait_child(&mut child, timeout) {
        Some(st) => st,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    };
    Output {
        status,
        stdout: out_thread.join().unwrap_or_default(),
        stderr: err_thread.join().unwrap_or_default(),
    }
}

// ---------------------------------------------------------------- outboard

/// A socat pty pair (`DIR/<name>-a` <-> `DIR/<name>-b`): a serial cable
/// between the daemon and a device simulator. Stopped by PID when dropped.
pub struct PtyPair {
    child: Option<Child>,
    /// The daemon's end.
    pub a: PathBuf,
    /// The device's end.
    pub b: PathBuf,
}

impl PtyPair {
    /// Starts socat and waits until both links exist.
    pub fn start(dir: &Path, name: &str) -> PtyPair {
        let a = dir.join(format!("{name}-a"));
        let b = dir.join(format!("{name}-b"));
        let child = Command::new("socat")
            .arg("-d")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (apt-get install socat)");
        let up = wait_for(Duration::from_secs(5), || {
            (a.exists() && b.exists()).then_some(())
        });
        assert!(
            up.is_some(),
            "socat did not create {} and {}",
            a.display(),
            b.display()
        );
        PtyPair {
            child: Some(child),
            a,
            b,
        }
    }

    /// Pulls the cable: socat stops, both ptys go away.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGTERM, Duration::from_secs(2));
        }
        let _ = std::fs::remove_file(&self.a);
        let _ = std::fs::remove_file(&self.b);
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A running `rackd profile simulate`, stopped by PID when dropped.
pub struct Simulator {
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Simulator {
    /// Starts `rackd profile simulate PROFILE ARGS...` (e.g. `--serial PTY`,
    /// `--silent`) and waits for its first line. For OSC devices use
    /// [`Simulator::start_osc`], which lets the simulator pick its port.
    pub fn start(profile: &str, args: &[&str]) -> Simulator {
        Self::start_env(profile, args, &[])
    }

    /// `start` with extra environment (`JACK_DEFAULT_SERVER` for `--midi`).
    pub fn start_env(profile: &str, args: &[&str], env: &[(&str, &str)]) -> Simulator {
        Self::try_start(profile, args, env)
            .unwrap_or_else(|log| panic!("simulator did not start: {log}"))
    }

    /// An OSC device on a loopback port the simulator binds itself (port 0),
    /// so no other process can take it between choosing and binding; with
    /// `--tcp` among `args` it listens on TCP. Returns it and its port.
    pub fn start_osc(profile: &str, args: &[&str]) -> (Simulator, u16) {
        let sim = Self::start(profile, &[&["--osc", "127.0.0.1:0"], args].concat());
        let port = sim.osc_port();
        (sim, port)
    }

    /// Starts a simulator; `Err` with its output when it stopped before
    /// saying it runs (a port it was told to bind was taken, say).
    pub fn try_start(
        profile: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Simulator, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("sim.log");
        let out = std::fs::File::create(&log).expect("log");
        let child = without_rackd_env(
            Command::new(rackd_bin())
                .args(["profile", "simulate", profile])
                .args(args)
                .envs(env.iter().copied()),
        )
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("rackd profile simulate");
        let mut sim = Simulator {
            child: Some(child),
            log,
            _dir: dir,
        };
        let started = wait_for(Duration::from_secs(10), || {
            if sim.log_text().contains("simulating") {
                return Some(true);
            }
            let exited = sim
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            exited.then_some(false)
        });
        match started {
            Some(true) => Ok(sim),
            _ => {
                sim.stop();
                Err(sim.log_text())
            }
        }
    }

    /// The UDP or TCP port of an OSC simulator, from its first line
    /// (`simulating ID on udp 127.0.0.1:PORT`).
    pub fn osc_port(&self) -> u16 {
        let log = self.log_text();
        log.lines()
            .find_map(|l| {
                let rest = l
                    .split_once(" on udp ")
                    .or_else(|| l.split_once(" on tcp "))?
                    .1;
                let addr = rest.split_whitespace().next()?;
                addr.parse::<SocketAddr>().ok().map(|a| a.port())
            })
            .unwrap_or_else(|| panic!("no OSC address in the simulator's output: {log}"))
    }

    /// Everything it printed (one line per command it acted on).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        wait_for(timeout, || self.log_text().contains(needle).then_some(())).is_some()
    }

    /// Stops it (the device is switched off).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGTERM, Duration::from_secs(2));
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `[[device]]` table for `Setup::extra`.
pub fn device_toml(id: &str, profile: &str, transport: &str) -> String {
    let mut t = format!(
        "[[device]]\nid = {}\nprofile = {}\n",
        toml_str(id),
        toml_str(profile)
    );
    if !transport.is_empty() {
        t += transport;
        t += "\n";
    }
    t + "\n"
}

// ---------------------------------------------------------------- OSC helpers

/// A float from an OSC argument (float, double or int).
pub fn as_f32(a: &OscType) -> f32 {
    match a {
        OscType::Float(x) => *x,
        OscType::Double(x) => *x as f32,
        OscType::Int(i) => *i as f32,
        OscType::Long(i) => *i as f32,
        other => panic!("expected a number, got {other:?}"),
    }
}

/// The JSON string argument of a reply, parsed.
pub fn json_arg(m: &OscMessage) -> serde_json::Value {
    match m.args.first() {
        Some(OscType::String(s)) => {
            serde_json::from_str(s).unwrap_or_else(|e| panic!("bad JSON in {}: {e}: {s}", m.addr))
        }
        other => panic!("{} has no JSON string argument: {other:?}", m.addr),
    }
}

/// Whether `m` is `address` with one float within `tol` of `value`.
pub fn is_value(m: &OscMessage, address: &str, value: f32, tol: f32) -> bool {
    m.addr == address
        && m.args.len() == 1
        && matches!(
            m.args[0],
            OscType::Float(_) | OscType::Double(_) | OscType::Int(_)
        )
        && (as_f32(&m.args[0]) - value).abs() <= tol
}

/// Encodes a message to OSC bytes.
pub fn encode(address: &str, args: Vec<OscType>) -> Vec<u8> {
    rosc::encoder::encode(&OscPacket::Message(OscMessage {
        addr: address.to_string(),
        args,
    }))
    .expect("encode")
}

/// Flattens a packet into its messages (bundles included).
fn messages(p: OscPacket, out: &mut Vec<OscMessage>) {
    match p {
        OscPacket::Message(m) => out.push(m),
        OscPacket::Bundle(b) => {
            for p in b.content {
                messages(p, out);
            }
        }
    }
}

/// A UDP OSC client on its own loopback port.
pub struct OscUdp {
    /// The socket (its port is where replies and feedback come).
    pub sock: UdpSocket,
    /// The daemon.
    pub target: SocketAddr,
    pending: std::cell::RefCell<std::collections::VecDeque<OscMessage>>,
}

impl OscUdp {
    /// A client talking to the daemon on `port`.
    pub fn new(port: u16) -> OscUdp {
        let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind udp");
        OscUdp {
            sock,
            target: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            pending: Default::default(),
        }
    }

    /// This client's port.
    pub fn port(&self) -> u16 {
        self.sock.local_addr().expect("addr").port()
    }

    /// Sends one message.
    pub fn send(&self, address: &str, args: Vec<OscType>) {
        self.send_raw(&encode(address, args));
    }

    /// Sends raw bytes as one datagram.
    pub fn send_raw(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.target).expect("send udp");
    }

    /// The next message, or None after `timeout`. Undecodable datagrams panic.
    pub fn recv(&self, timeout: Duration) -> Option<OscMessage> {
        if let Some(m) = self.pending.borrow_mut().pop_front() {
            return Some(m);
        }
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 70_000];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).expect("timeout");
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let (_, p) = rosc::decoder::decode_udp(&buf[..n])
                        .unwrap_or_else(|e| panic!("undecodable datagram from rackd: {e:?}"));
                    let mut v = Vec::new();
                    messages(p, &mut v);
                    let mut q = self.pending.borrow_mut();
                    q.extend(v);
                    if let Some(m) = q.pop_front() {
                        return Some(m);
                    }
                }
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => panic!("udp receive: {e}"),
            }
        }
    }

    /// Receives until a message satisfies `pred` (others are dropped), or None after `timeout`.
    pub fn recv_until(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&OscMessage) -> bool,
    ) -> Option<OscMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.recv(left)?;
            if pred(&m) {
                return Some(m);
            }
        }
    }

    /// Everything that arrives within `window`.
    pub fn collect(&self, window: Duration) -> Vec<OscMessage> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return out;
            }
            match self.recv(left) {
                Some(m) => out.push(m),
                None => return out,
            }
        }
    }

    /// Sends a ping and discards everything up to its pong. Over UDP the daemon
    /// handles datagrams concurrently, so this is no barrier for earlier messages
    /// (use [`OscTcp::sync`] for that).
    pub fn sync(&self) {
        let token = COUNTER.fetch_add(1, Ordering::Relaxed) as i32 + 1000;
        self.send("/rackd/ping", vec![OscType::Int(token)]);
        self.recv_until(WAIT, |m| {
            m.addr == "/rackd/pong" && m.args.first() == Some(&OscType::Int(token))
        })
        .expect("no /rackd/pong");
    }

    /// For absence checks: has `setter` subscribe this client (its port) to
    /// `/chain/meter/*` only and then change `/chain/meter/bypass` to 1 (the rack needs a
    /// `meter` slot, its bypass off: once per test). Feedback already queued
    /// for this client goes out before that marker, so what arrives up to it
    /// (returned) is everything it was sent: no waiting for a quiet window
    /// that a loaded machine would pass.
    pub fn until_marker(&self, setter: &OscUdp) -> Vec<OscMessage> {
        // Both from the setter (this client may have no daemon as its
        // target), so the daemon handles them in this order.
        setter.send(
            "/rackd/subscribe",
            vec![
                OscType::Int(self.port() as i32),
                OscType::String("/chain/meter/*".into()),
            ],
        );
        setter.send("/chain/meter/bypass", vec![OscType::Int(1)]);
        let mut seen = Vec::new();
        self.recv_until(WAIT, |m| {
            seen.push(m.clone());
            is_value(m, "/chain/meter/bypass", 1.0, 0.0)
        })
        .expect("the marker /chain/meter/bypass 1 never arrived");
        seen
    }

    /// Subscribes with this socket as the reply port, waiting for `/rackd/subscribed`.
    pub fn subscribe(&self, patterns: &[&str]) {
        let mut args = vec![OscType::Int(self.port() as i32)];
        args.extend(patterns.iter().map(|p| OscType::String(p.to_string())));
        self.send("/rackd/subscribe", args);
        self.recv_until(WAIT, |m| m.addr == "/rackd/subscribed")
            .expect("no /rackd/subscribed");
    }
}

/// TCP framing: SLIP (OSC 1.1) or int32 length prefix (OSC 1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// OSC 1.1: SLIP, END = 0xC0.
    Slip,
    /// OSC 1.0: big-endian int32 length, then the packet.
    LengthPrefix,
}

const END: u8 = 0xC0;
const ESC: u8 = 0xDB;
const ESC_END: u8 = 0xDC;
const ESC_ESC: u8 = 0xDD;

/// Frames one packet (SLIP frames start and end with END).
pub fn frame(framing: Framing, packet: &[u8]) -> Vec<u8> {
    match framing {
        Framing::LengthPrefix => {
            let mut v = (packet.len() as u32).to_be_bytes().to_vec();
            v.extend_from_slice(packet);
            v
        }
        Framing::Slip => {
            let mut v = vec![END];
            for &b in packet {
                match b {
                    END => v.extend([ESC, ESC_END]),
                    ESC => v.extend([ESC, ESC_ESC]),
                    b => v.push(b),
                }
            }
            v.push(END);
            v
        }
    }
}

/// A TCP OSC client with its own framing decoder (independent of the daemon's code).
pub struct OscTcp {
    /// The connection.
    pub stream: TcpStream,
    /// The framing it sends, and expects back.
    pub framing: Framing,
    buf: Vec<u8>,
    /// Set when the peer closed the connection.
    pub closed: bool,
}

impl OscTcp {
    /// Connects to the daemon on `port`.
    pub fn connect(port: u16, framing: Framing) -> OscTcp {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("tcp connect");
        stream.set_nodelay(true).ok();
        OscTcp {
            stream,
            framing,
            buf: Vec::new(),
            closed: false,
        }
    }

    /// Sends one framed message.
    pub fn send(&mut self, address: &str, args: Vec<OscType>) {
        let bytes = frame(self.framing, &encode(address, args));
        self.stream.write_all(&bytes).expect("tcp send");
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// One complete frame from the buffer, checking that it uses our framing.
    fn take_frame(&mut self) -> Option<Vec<u8>> {
        match self.framing {
            Framing::LengthPrefix => {
                if self.buf.len() < 4 {
                    return None;
                }
                let len = u32::from_be_bytes(self.buf[..4].try_into().expect("4 bytes")) as usize;
                assert!(
                    len < 1 << 20,
                    "reply is not length-prefixed (prefix {len}, bytes {:02x?})",
                    &self.buf[..self.buf.len().min(16)]
                );
                if self.buf.len() < 4 + len {
                    return None;
                }
                let frame = self.buf[4..4 + len].to_vec();
                self.buf.drain(..4 + len);
                Some(frame)
            }
            Framing::Slip => loop {
                assert!(
                    self.buf.is_empty() || self.buf[0] == END,
                    "reply is not SLIP-framed (bytes {:02x?})",
                    &self.buf[..self.buf.len().min(16)]
                );
                // Skip leading ENDs (empty frames).
                let start = self.buf.iter().position(|b| *b != END)?;
                let end = start + self.buf[start..].iter().position(|b| *b == END)?;
                let raw: Vec<u8> = self.buf[start..end].to_vec();
                self.buf.drain(..end);
                let mut out = Vec::with_capacity(raw.len());
                let mut it = raw.into_iter();
                while let Some(b) = it.next() {
                    if b == ESC {
                        match it.next() {
                            Some(ESC_END) => out.push(END),
                            Some(ESC_ESC) => out.push(ESC),
                            other => panic!("bad SLIP escape {other:?}"),
                        }
                    } else {
                        out.push(b);
                    }
                }
                if !out.is_empty() {
                    return Some(out);
                }
            },
        }
    }

    /// The next message, or None after `timeout` or when the connection closed.
    pub fn recv(&mut self, timeout: Duration) -> Option<OscMessage> {
        let deadline = Instant::now() + timeout;
        let mut chunk = [0u8; 16_384];
        loop {
            if let Some(f) = self.take_frame() {
                let (_, p) = rosc::decoder::decode_udp(&f)
                    .unwrap_or_else(|e| panic!("undecodable frame {e:?}: {f:02x?}"));
                let mut v = Vec::new();
                messages(p, &mut v);
                if let Some(m) = v.into_iter().next() {
                    return Some(m);
                }
                continue;
            }
            if self.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => self.closed = true,
            }
        }
    }

    /// Receives until a message satisfies `pred`, or None.
    pub fn recv_until(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&OscMessage) -> bool,
    ) -> Option<OscMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.recv(left)?;
            if pred(&m) {
                return Some(m);
            }
        }
    }

    /// Sends one packet's raw bytes in this connection's framing.
    pub fn send_packet(&mut self, packet: &[u8]) {
        let bytes = frame(self.framing, packet);
        self.stream.write_all(&bytes).expect("tcp send");
    }

    /// Ping and wait for the pong, dropping what comes before it: on one TCP
    /// connection the daemon handles messages in order, so everything sent
    /// earlier has been handled.
    pub fn sync(&mut self) -> Vec<OscMessage> {
        let token = COUNTER.fetch_add(1, Ordering::Relaxed) as i32 + 1000;
        self.send("/rackd/ping", vec![OscType::Int(token)]);
        let mut before = Vec::new();
        self.recv_until(WAIT, |m| {
            let done = m.addr == "/rackd/pong" && m.args.first() == Some(&OscType::Int(token));
            if !done {
                before.push(m.clone());
            }
            done
        })
        .expect("no /rackd/pong over TCP");
        before
    }

    /// Queries one parameter; returns its value as f32.
    pub fn get_f32(&mut self, address: &str) -> f32 {
        self.send(address, vec![]);
        let m = self
            .recv_until(WAIT, |m| m.addr == address)
            .unwrap_or_else(|| panic!("no reply to query {address}"));
        as_f32(&m.args[0])
    }

    /// Waits until the daemon closes the connection (reading and dropping data).
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.buf.clear();
            let _ = self.recv(left.min(Duration::from_millis(200)));
            self.buf.clear();
        }
        true
    }
}

/// A background process (oscdump, python) whose output goes to a file.
pub struct Background {
    child: Option<Child>,
    /// Where its stdout goes.
    pub out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Background {
    /// Spawns `cmd` with stdout+stderr to a temp file.
    pub fn spawn(cmd: &mut Command) -> Background {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out.txt");
        let f = File::create(&out).expect("out file");
        let child = without_rackd_env(cmd)
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("dup"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        Background {
            child: Some(child),
            out,
            _dir: dir,
        }
    }

    /// Output so far.
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// PID of the process.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("not running").id()
    }

    /// Waits for the process to end, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        wait_child(child, timeout)
    }

    /// Whether the process has ended.
    pub fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_none_or(|c| c.try_wait().ok().flatten().is_some())
    }

    /// liblo's `oscdump -L PORT`, listening for certain: a probe message sent
    /// to it has shown up in its output. A port taken by another process
    /// before oscdump bound it makes oscdump exit; then it starts again on
    /// another port. Returns it and its port.
    pub fn oscdump() -> (Background, u16) {
        let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind udp");
        for _ in 0..5 {
            let port = free_port();
            let mut dump =
                Background::spawn(Command::new("oscdump").args(["-L", &port.to_string()]));
            let listening = wait_for(WAIT, || {
                if dump.exited() {
                    return Some(false);
                }
                let _ = probe.send_to(
                    &encode("/rackd-test/probe", vec![]),
                    (Ipv4Addr::LOCALHOST, port),
                );
                dump.text().contains("/rackd-test/probe").then_some(true)
            });
            match listening {
                Some(true) => return (dump, port),
                Some(false) => eprintln!("oscdump could not bind {port}: {}", dump.text()),
                None => panic!("oscdump on {port} never printed the probe: {}", dump.text()),
            }
        }
        panic!("oscdump could not bind a free port in 5 tries");
    }

    /// Waits until the output has a line satisfying `pred`.
    pub fn wait_line(&self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        wait_for(timeout, || {
            self.text().lines().find(|l| pred(l)).map(String::from)
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, libc::SIGTERM, Duration::from_secs(5));
        }
        if std::thread::panicking() {
            eprintln!("----- background output -----\n{}", self.text());
        }
    }
}

// ---------------------------------------------------------------- JACK probe

/// What the probe measured on rackd's outputs since the last reset.
#[derive(Debug, Default, Clone, Copy)]
pub struct Measure {
    /// Samples seen per channel.
    pub frames: u64,
    /// Sum of squares, left and right.
    pub sum_sq: [f64; 2],
    /// Largest absolute sample, left and right.
    pub peak: [f32; 2],
}

impl Measure {
    /// RMS in dBFS of channel `ch`.
    pub fn rms_db(&self, ch: usize) -> f64 {
        let ms = self.sum_sq[ch] / self.frames.max(1) as f64;
        10.0 * ms.max(1e-30).log10()
    }

    /// Sample peak in dBFS of channel `ch`.
    pub fn peak_db(&self, ch: usize) -> f64 {
        20.0 * (self.peak[ch] as f64).max(1e-15).log10()
    }
}

struct ProbeProcess {
    out: [jack::Port<jack::AudioOut>; 2],
    inp: [jack::Port<jack::AudioIn>; 2],
    amp: f32,
    phase: f64,
    step: f64,
    measure: std::sync::Arc<Mutex<Measure>>,
}

impl jack::ProcessHandler for ProbeProcess {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let n = ps.n_frames() as usize;
        let start = self.phase;
        for port in &mut self.out {
            let buf = port.as_mut_slice(ps);
            let mut ph = start;
            for x in buf.iter_mut().take(n) {
                *x = (ph.sin() as f32) * self.amp;
                ph = (ph + self.step) % std::f64::consts::TAU;
            }
            self.phase = ph;
        }
        // A test client: a try_lock is fine here (the daemon's audio thread is what must not lock).
        if let Ok(mut m) = self.measure.try_lock() {
            for (ch, port) in self.inp.iter().enumerate() {
                for &x in port.as_slice(ps) {
                    m.sum_sq[ch] += f64::from(x) * f64::from(x);
                    m.peak[ch] = m.peak[ch].max(x.abs());
                }
            }
            m.frames += n as u64;
        }
        jack::Control::Continue
    }
}

/// A JACK client that plays a 1 kHz sine into rackd's inputs and measures its outputs.
pub struct JackProbe {
    client: Option<jack::AsyncClient<(), ProbeProcess>>,
    measure: std::sync::Arc<Mutex<Measure>>,
}

/// Starts a dummy jackd named after `prefix` and points this process's JACK
/// clients at it (see [`use_jack_server`]); keep the `Jackd` alive.
pub fn jack_server(prefix: &str) -> (Jackd, String) {
    jack_server_with_period(prefix, 256)
}

/// [`jack_server`] with `period` frames per cycle (see [`Jackd::start_with_period`]).
pub fn jack_server_with_period(prefix: &str, period: usize) -> (Jackd, String) {
    let server = unique_name(prefix);
    let jackd = Jackd::start_with_period(&server, period);
    use_jack_server(&server);
    (jackd, server)
}

/// [`jack_server`] in synchronous mode (see [`Jackd::start_sync`]).
pub fn jack_server_sync(prefix: &str) -> (Jackd, String) {
    let server = unique_name(prefix);
    let jackd = Jackd::start_sync(&server, 256);
    use_jack_server(&server);
    (jackd, server)
}

/// Points this process's JACK clients at `server`. Only call it in a test
/// binary with a single test (the environment is process-wide).
pub fn use_jack_server(server: &str) {
    // SAFETY: the JACK test binaries hold one test each, so no other thread
    // reads the environment while it is written.
    unsafe {
        std::env::set_var("JACK_DEFAULT_SERVER", server);
        std::env::set_var("JACK_NO_START_SERVER", "1");
    }
}

impl JackProbe {
    /// Starts the probe playing a 1 kHz sine at `level_dbfs` peak and wires it
    /// to `rackd_client`'s in_l/in_r and out_l/out_r (waiting for those ports).
    pub fn start(rackd_client: &str, level_dbfs: f32) -> JackProbe {
        let port = |p: &str| format!("{rackd_client}:{p}");
        Self::start_ports(
            &[port("in_l"), port("in_r")],
            &[port("out_l"), port("out_r")],
            level_dbfs,
        )
    }

    /// Zeroes the measurement.
    pub fn reset(&self) {
        *self.measure.lock().unwrap_or_else(|e| e.into_inner()) = Measure::default();
    }

    /// The measurement since the last reset.
    pub fn snapshot(&self) -> Measure {
        *self.measure.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resets, then waits until `frames` frames were measured; returns the measurement.
    pub fn measure(&self, frames: u64) -> Measure {
        self.reset();
        self.wait_frames(frames)
    }

    /// Waits (without resetting) until `frames` frames were measured.
    pub fn wait_frames(&self, frames: u64) -> Measure {
        wait_for(Duration::from_secs(20), || {
            let m = self.snapshot();
            (m.frames >= frames).then_some(m)
        })
        .unwrap_or_else(|| panic!("the probe measured fewer than {frames} frames in 20 s"))
    }

    /// Closes the client.
    pub fn close(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.deactivate();
        }
    }
}

// ---------------------------------------------------------------- cpal backend on JACK

/// The JACK ports of rackd's cpal backend on cpal's JACK host, whose clients
/// are `<client_name>_in` and `<client_name>_out`: (inputs, outputs), left first.
pub fn cpal_jack_ports(client_name: &str) -> ([String; 2], [String; 2]) {
    (
        [0, 1].map(|i| format!("{client_name}_in:in_{i}")),
        [0, 1].map(|i| format!("{client_name}_out:out_{i}")),
    )
}

/// The ports `port` is connected to, as a short-lived JACK client sees them.
pub fn jack_connections(port: &str) -> Vec<String> {
    let (client, _) = jack::Client::new(&unique_name("lsp"), jack::ClientOptions::NO_START_SERVER)
        .expect("cannot open a JACK client");
    client
        .port_by_name(port)
        .map(|p| p.get_connections())
        .unwrap_or_default()
}

/// Connects `src -> dst` (any two ports on the server) through a
/// short-lived JACK client, once both ports exist, and checks that JACK
/// lists the connection; it stays after the client has gone.
pub fn jack_connect(src: &str, dst: &str) {
    let (client, _) =
        jack::Client::new(&unique_name("patch"), jack::ClientOptions::NO_START_SERVER)
            .expect("cannot open a JACK client");
    wait_for(WAIT, || {
        (client.port_by_name(src).is_some() && client.port_by_name(dst).is_some()).then_some(())
    })
    .unwrap_or_else(|| panic!("ports {src} / {dst} never appeared"));
    client
        .connect_ports_by_name(src, dst)
        .unwrap_or_else(|e| panic!("connect {src} -> {dst}: {e}"));
    drop(client);
    assert!(
        jack_connections(src).iter().any(|p| p == dst),
        "{src} -> {dst} not listed"
    );
}

impl JackProbe {
    /// Like [`JackProbe::start`] for a program whose ports are named otherwise:
    /// plays a 1 kHz sine at `level_dbfs` peak into `inputs` (left, right) and
    /// measures `outputs` (left, right), waiting for those ports to appear.
    pub fn start_ports(inputs: &[String; 2], outputs: &[String; 2], level_dbfs: f32) -> JackProbe {
        let (client, _) =
            jack::Client::new(&unique_name("probe"), jack::ClientOptions::NO_START_SERVER)
                .expect("probe cannot open a JACK client");
        let sr = client.sample_rate() as f64;
        let reg_out = |n: &str| {
            client
                .register_port(n, jack::AudioOut::default())
                .expect("port")
        };
        let reg_in = |n: &str| {
            client
                .register_port(n, jack::AudioIn::default())
                .expect("port")
        };
        let measure = std::sync::Arc::new(Mutex::new(Measure::default()));
        let process = ProbeProcess {
            out: [reg_out("out_l"), reg_out("out_r")],
            inp: [reg_in("in_l"), reg_in("in_r")],
            amp: 10f32.powf(level_dbfs / 20.0),
            phase: 0.0,
            step: std::f64::consts::TAU * 1000.0 / sr,
            measure: measure.clone(),
        };
        let me = client.name().to_string();
        let active = client.activate_async((), process).expect("activate probe");
        let c = active.as_client();
        wait_for(Duration::from_secs(30), || {
            inputs
                .iter()
                .chain(outputs)
                .all(|p| c.port_by_name(p).is_some())
                .then_some(())
        })
        .unwrap_or_else(|| panic!("ports {inputs:?} {outputs:?} never appeared"));
        for (src, dst) in [
            (format!("{me}:out_l"), inputs[0].clone()),
            (format!("{me}:out_r"), inputs[1].clone()),
            (outputs[0].clone(), format!("{me}:in_l")),
            (outputs[1].clone(), format!("{me}:in_r")),
        ] {
            c.connect_ports_by_name(&src, &dst)
                .unwrap_or_else(|e| panic!("connect {src} -> {dst}: {e}"));
        }
        JackProbe {
            client: Some(active),
            measure,
        }
    }

    /// The probe's JACK client name.
    pub fn name(&self) -> String {
        self.client
            .as_ref()
            .map(|c| c.as_client().name().to_string())
            .unwrap_or_default()
    }
}

/// `rackd demo --no-jack` with its state in `state_dir`, on free OSC and HTTP
/// ports, once it answers `rackd ctl status`; returns it and its
/// `127.0.0.1:PORT`. The demo binds the ports it is given; should another
/// process have taken one after `free_port` chose it, the demo exits and
/// starts again on others.
pub fn start_demo(state_dir: &Path) -> (Background, String) {
    for _ in 0..5 {
        let port = free_port();
        let mut demo = Background::spawn(
            Command::new(rackd_bin())
                .args(["demo", "--no-jack", "--osc-port", &port.to_string()])
                .args(["--http-port", &free_port().to_string()])
                .arg("--state-dir")
                .arg(state_dir)
                .env("NO_COLOR", "1"),
        );
        let connect = format!("127.0.0.1:{port}");
        let up = wait_for(Duration::from_secs(20), || {
            if demo.exited() {
                return Some(false);
            }
            ctl(&connect, &["status"]).status.success().then_some(true)
        });
        match up {
            Some(true) => return (demo, connect),
            Some(false) if demo.text().contains("cannot bind") => continue,
            _ => panic!("the demo never answered:\n{}", demo.text()),
        }
    }
    panic!("the demo could not bind a free port in 5 tries");
}
