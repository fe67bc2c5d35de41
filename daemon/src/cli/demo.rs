//! `rackd demo`, and its outboard: simulated devices played inside the demo
//! process, so that a recall sets and reads back real (if simulated) gear on
//! a real UDP port and a real pty, and the recall sheet has a device to show.

use super::Failure;
use crate::config::{self, Config, DeviceConfig, DeviceLink};
use crate::profiles::Library;
use anyhow::Context;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::ExitCode;

/// The demo's devices; the pty's device end stays open as long as this
/// lives, so the driver can reopen it.
pub struct DemoRack {
    /// `[[device]]` entries for the config.
    pub devices: Vec<DeviceConfig>,
    /// One banner line per device.
    pub banner: Vec<String>,
    _device_end: Option<OwnedFd>,
}

fn device(id: &str, profile: &str, link: DeviceLink) -> DeviceConfig {
    DeviceConfig {
        id: id.to_string(),
        profile: profile.to_string(),
        link,
        safe: false,
        safe_params: Vec::new(),
        file: "<demo>".to_string(),
        line: None,
    }
}

/// Starts the simulators (threads of this process) and returns the devices
/// that talk to them.
pub fn start() -> anyhow::Result<DemoRack> {
    let lib = Library::load(&[]);
    let profile = |id: &str| {
        lib.get(id)
            .map(|e| (*e.profile).clone())
            .with_context(|| format!("the demo's profile {id} is not built in"))
    };

    let sock = std::net::UdpSocket::bind("127.0.0.1:0").context("cannot bind a UDP port")?;
    let osc_addr = sock.local_addr()?.to_string();
    crate::cli::simulate::spawn_osc(profile("generic-osc-device")?, sock);

    let mut devices = vec![device(
        "dyn",
        "generic-osc-device",
        DeviceLink::Osc {
            address: osc_addr.clone(),
            tcp: None,
        },
    )];
    let mut banner = vec![format!(
        "dyn      generic-osc-device, simulated on udp {osc_addr}"
    )];
    // Without ptys (a bare container) the demo still runs, without the serial EQ.
    let device_end = match open_pty() {
        Ok((host_end, device_end, pty)) => {
            crate::cli::simulate::spawn_serial(profile("generic-serial-ascii")?, host_end);
            devices.push(device(
                "eq",
                "generic-serial-ascii",
                DeviceLink::Serial {
                    path: pty.clone().into(),
                    baud: None,
                    address: None,
                },
            ));
            banner.push(format!(
                "eq       generic-serial-ascii, simulated on pty {pty}"
            ));
            Some(device_end)
        }
        Err(e) => {
            banner.push(format!("(no serial EQ: {e:#})"));
            None
        }
    };
    devices.push(device(
        "passive",
        "generic-passive-eq-stepped",
        DeviceLink::None,
    ));
    banner.push("passive  generic-passive-eq-stepped, set by hand (rackd ctl sheet)".to_string());
    Ok(DemoRack {
        devices,
        banner,
        _device_end: device_end,
    })
}

/// A raw pty pair (what `socat pty,raw,echo=0` makes): the simulator's end,
/// the device end kept open, and the device end's path for the driver.
fn open_pty() -> anyhow::Result<(File, OwnedFd, String)> {
    let (mut host, mut dev) = (-1, -1);
    // SAFETY: openpty writes two fds; the null name/termios/winsize are allowed.
    let rc = unsafe {
        libc::openpty(
            &mut host,
            &mut dev,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("openpty");
    }
    // SAFETY: both fds were just opened and are owned by nobody else.
    let (host, dev) = unsafe { (File::from_raw_fd(host), OwnedFd::from_raw_fd(dev)) };
    // SAFETY: a zeroed termios is filled by tcgetattr before use.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(dev.as_raw_fd(), &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(dev.as_raw_fd(), libc::TCSANOW, &t);
        }
    }
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: the buffer's length is passed.
    let rc = unsafe { libc::ttyname_r(dev.as_raw_fd(), name.as_mut_ptr(), name.len()) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc)).context("ttyname of the pty");
    }
    // SAFETY: ttyname_r wrote a NUL-terminated string.
    let path = unsafe { CStr::from_ptr(name.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    Ok((host, dev, path))
}

/// A short mix in the demo's source directory, so that `ctl print` has
/// something to play: 6 s of a chord and a little noise at 48 kHz.
fn demo_source(files: &crate::files::FileRoots) -> std::io::Result<&'static str> {
    const NAME: &str = "demo-mix.wav";
    files.create()?;
    let path = files.input_dirs()[0].join(NAME);
    if !path.exists() {
        let rate = 48_000u32;
        let mut seed = 1u32;
        let (left, right): (Vec<f32>, Vec<f32>) = (0..6 * rate as usize)
            .map(|i| {
                let t = i as f32 / rate as f32;
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let hiss = (seed as f32 / u32::MAX as f32 - 0.5) * 0.01;
                let chord: f32 = [220.0f32, 277.2, 329.6]
                    .iter()
                    .map(|f| (std::f32::consts::TAU * f * t).sin() * 0.12)
                    .sum();
                (chord + hiss, chord - hiss)
            })
            .unzip();
        crate::audio_file::write_wav(
            &path,
            rate,
            crate::audio_file::WavFormat::Float32,
            &left,
            &right,
        )?;
    }
    Ok(NAME)
}

/// `rackd demo`: the daemon on the built-in rack with simulated gear.
pub fn run(osc_port: u16, http_port: u16, state_dir: Option<PathBuf>, no_jack: bool) -> ExitCode {
    let (dir, _keep) = match state_dir {
        Some(d) => (d, None),
        None => match tempfile::Builder::new().prefix("rackd-demo-").tempdir() {
            Ok(t) => (t.path().to_path_buf(), Some(t)),
            Err(e) => {
                return Failure::Runtime(format!("cannot make a temporary state dir: {e}")).exit();
            }
        },
    };
    let mut cfg = match Config::demo(osc_port, http_port, &dir) {
        Ok(c) => c,
        Err(e) => return Failure::Runtime(format!("{e:#}")).exit(),
    };
    let jack = !no_jack && crate::engine::jack::server_running();
    if !jack {
        cfg.audio.backend = config::BackendKind::Null;
    }
    let outboard = match start() {
        Ok(r) => r,
        Err(e) => {
            return Failure::Runtime(format!("cannot start the demo's devices: {e:#}")).exit();
        }
    };
    cfg.devices = outboard.devices.clone();
    println!("rackd demo");
    println!(
        "  audio:   {}",
        if jack {
            "JACK (client rackd-demo: in_l/in_r -> out_l/out_r)"
        } else {
            "null backend (no JACK server running), 1 kHz test tone at -18 dBFS"
        }
    );
    println!("  state:   {}", dir.display());
    let files = cfg.files.roots(&dir);
    match demo_source(&files) {
        Ok(source) => println!(
            "  files:   sources in {} ({} is ready), prints to {}",
            files.input_dirs()[0].display(),
            source,
            files.output_dir().display()
        ),
        Err(e) => println!(
            "  files:   cannot prepare {} ({e})",
            files.output_dir().display()
        ),
    }
    println!("  outboard (simulated inside this process):");
    for line in &outboard.banner {
        println!("           {line}");
    }
    println!(
        "  page:    http://127.0.0.1:{http_port}/ui/   (OSCQuery: http://127.0.0.1:{http_port}/)"
    );
    println!("  surface: point TouchOSC / Open Stage Control at udp or tcp 127.0.0.1:{osc_port}");
    println!("  try:     oscdump 9999 &  oscsend localhost {osc_port} /rackd/subscribe i 9999");
    println!("           oscsend localhost {osc_port} /chain/trim/gain f -3.5");
    println!("           rackd ctl describe | rackd ctl save \"client/album/01 intro\"");
    println!(
        "           rackd ctl set /outboard/eq/low_gain 3 && rackd ctl recall \"client/album/01 intro\""
    );
    println!("           rackd ctl sheet \"client/album/01 intro\"");
    println!("           rackd ctl layout trim limiter meter");
    println!(
        "           rackd ctl print \"client/album/01 intro\" demo-mix.wav master.wav   (plays it through the chain in real time)"
    );
    super::run::daemon(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_rack_resolves_against_the_library() {
        let rack = start().unwrap();
        let cfg = crate::config::Config {
            devices: rack.devices.clone(),
            ..crate::config::Config::demo(7770, 7771, std::path::Path::new("/tmp")).unwrap()
        };
        let devices = crate::profiles::load_rack(&cfg).unwrap();
        assert_eq!(devices.len(), 3);
        assert_eq!(rack.banner.len(), 3);
    }
}
