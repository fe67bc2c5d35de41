//! The outboard of `rackd demo`: simulated devices played inside the demo
//! process, so that a recall sets and reads back real (if simulated) gear on
//! a real UDP port and a real pty, and the recall sheet has a device to show.

use crate::config::{DeviceConfig, DeviceLink};
use crate::profiles::Library;
use anyhow::Context;
use std::ffi::CStr;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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
    crate::simulate::spawn_osc(profile("generic-osc-device")?, sock);

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
            crate::simulate::spawn_serial(profile("generic-serial-ascii")?, host_end);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_rack_resolves_against_the_library() {
        let rack = start().unwrap();
        let cfg = crate::config::Config {
            devices: rack.devices.clone(),
            ..crate::config::Config::demo(7770, std::path::Path::new("/tmp")).unwrap()
        };
        let devices = crate::profiles::load_rack(&cfg).unwrap();
        assert_eq!(devices.len(), 3);
        assert_eq!(rack.banner.len(), 3);
    }
}
