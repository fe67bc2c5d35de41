//! The hardware-profile library the daemon uses: the shipped profiles
//! embedded in the binary, overridden or extended by TOML files in the
//! system, local and configured profile directories; and the rack's devices
//! resolved against it (`[[device]]` + profile), so `rackd check` reports
//! config and profile problems together.

use crate::config::{Config, ConfigError, ConfigErrors, DeviceConfig, DeviceLink};
use rackd_protocol::device::DeviceCtx;
use rackd_protocol::profile::{Profile, ProfileError, TransportKind, load_profile_file};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// `(file name, text)` of every `hardware-profiles/*.toml`, embedded by build.rs.
pub const SHIPPED: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/shipped_profiles.rs"));

/// Directories searched after the shipped profiles, later ones overriding earlier.
pub const SYSTEM_DIRS: [&str; 2] = [
    "/usr/share/rackd/hardware-profiles",
    "/etc/rackd/hardware-profiles",
];

/// One profile and where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The validated profile.
    pub profile: Arc<Profile>,
    /// `built-in` or the file's path.
    pub origin: String,
}

/// Every profile the daemon knows, by id, plus the files that failed to load.
#[derive(Debug, Clone, Default)]
pub struct Library {
    profiles: BTreeMap<String, Entry>,
    /// Files that did not validate, by the id their file name implies.
    broken: BTreeMap<String, Vec<ProfileError>>,
}

impl Library {
    /// Shipped profiles, then the system directories, then `extra` (config's
    /// `daemon.profile_dirs`). A directory that does not exist is skipped.
    pub fn load(extra: &[PathBuf]) -> Library {
        let mut dirs: Vec<PathBuf> = SYSTEM_DIRS.iter().map(PathBuf::from).collect();
        dirs.extend(extra.iter().cloned());
        Self::load_from(&dirs)
    }

    /// Shipped profiles overridden by the given directories only (tests, `--dir`).
    pub fn load_from(dirs: &[PathBuf]) -> Library {
        let mut lib = Library::default();
        for (name, text) in SHIPPED {
            lib.add(text, &format!("hardware-profiles/{name}"), "built-in");
        }
        for dir in dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                let shown = f.display().to_string();
                match std::fs::read_to_string(&f) {
                    Ok(text) => lib.add(&text, &shown, &shown),
                    Err(e) => {
                        lib.broken.insert(
                            stem(&f),
                            vec![ProfileError {
                                file: shown,
                                line: 1,
                                message: format!("cannot read the file: {e}"),
                            }],
                        );
                    }
                }
            }
        }
        lib
    }

    fn add(&mut self, text: &str, file: &str, origin: &str) {
        match load_profile_file(text, file) {
            Ok(p) => {
                self.broken.remove(p.id());
                self.profiles.insert(
                    p.id().to_string(),
                    Entry {
                        profile: Arc::new(p),
                        origin: origin.to_string(),
                    },
                );
            }
            Err(errors) => {
                let id = stem(Path::new(file));
                self.broken.insert(id, errors);
            }
        }
    }

    /// A profile by id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.profiles.get(id)
    }

    /// Every profile, sorted by id.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.profiles.values()
    }

    /// The errors of a profile file that failed to load, by its id.
    pub fn errors_of(&self, id: &str) -> Option<&[ProfileError]> {
        self.broken.get(id).map(Vec::as_slice)
    }

    /// Every file that failed to load (logged at start-up; fatal only when used).
    pub fn broken(&self) -> impl Iterator<Item = &ProfileError> {
        self.broken.values().flatten()
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// A configured device with its profile: what the tree, drivers and recall use.
#[derive(Debug, Clone)]
pub struct Device {
    /// Address part: `/outboard/<id>/...`.
    pub id: String,
    /// The device model.
    pub profile: Arc<Profile>,
    /// Where it is connected.
    pub link: DeviceLink,
    /// Recall safe: recalls leave it alone.
    pub safe: bool,
    /// Parameters recalls leave alone.
    pub safe_params: Vec<String>,
    /// Channel, SysEx device id or bus address for the codecs.
    pub ctx: DeviceCtx,
}

impl Device {
    /// Which transport reaches it.
    pub fn transport(&self) -> TransportKind {
        self.profile.transport()
    }
}

/// Loads the library the config names and resolves its devices: what `rackd
/// run` and `rackd check` do before anything else.
pub fn load_rack(config: &Config) -> Result<Vec<Device>, ConfigErrors> {
    let lib = Library::load(&config.daemon.profile_dirs);
    for e in lib.broken() {
        tracing::warn!("hardware profile not loaded: {e}");
    }
    resolve(config, &lib)
}

/// Resolves `[[device]]` against the library; every problem (config and
/// profile) is reported at once with its file and line.
pub fn resolve(config: &Config, lib: &Library) -> Result<Vec<Device>, ConfigErrors> {
    let mut errors = Vec::new();
    let mut devices = Vec::new();
    for (i, d) in config.devices.iter().enumerate() {
        match resolve_one(i, d, lib) {
            Ok(dev) => devices.push(dev),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(devices)
    } else {
        Err(ConfigErrors(errors))
    }
}

fn resolve_one(i: usize, d: &DeviceConfig, lib: &Library) -> Result<Device, Vec<ConfigError>> {
    let err = |key: &str, message: String| ConfigError {
        file: d.file.clone(),
        line: d.line,
        key: format!("device[{i}].{key}"),
        message,
    };
    let Some(entry) = lib.get(&d.profile) else {
        if let Some(pe) = lib.errors_of(&d.profile) {
            let mut out: Vec<ConfigError> = pe
                .iter()
                .map(|e| ConfigError {
                    file: e.file.clone(),
                    line: Some(e.line),
                    key: format!("profile {}", d.profile),
                    message: e.message.clone(),
                })
                .collect();
            out.push(err(
                "profile",
                format!("profile {:?} has errors (listed above)", d.profile),
            ));
            return Err(out);
        }
        let known: Vec<&str> = lib.iter().map(|e| e.profile.id()).collect();
        return Err(vec![err(
            "profile",
            format!(
                "no profile {:?}; known profiles: {}",
                d.profile,
                known.join(", ")
            ),
        )]);
    };
    let profile = entry.profile.clone();
    let want = profile.transport();
    let have = match &d.link {
        DeviceLink::None => TransportKind::Manual,
        DeviceLink::Serial { .. } => TransportKind::Serial,
        DeviceLink::Osc { .. } => TransportKind::Osc,
        DeviceLink::Midi { .. } => TransportKind::Midi,
    };
    if want != have {
        let need = match want {
            TransportKind::Manual => "no transport section (it is set by hand)".to_string(),
            TransportKind::Serial => "serial = { path = \"/dev/ttyUSB0\" }".to_string(),
            TransportKind::Osc => "osc = { address = \"host:port\" }".to_string(),
            TransportKind::Midi => "midi = { port = \"…\", channel = 1 }".to_string(),
        };
        return Err(vec![err(
            "profile",
            format!(
                "profile {:?} uses transport {}; the device needs {need}",
                d.profile,
                format!("{want:?}").to_lowercase()
            ),
        )]);
    }
    if let Some(p) = d.safe_params.iter().find(|p| profile.param(p).is_none()) {
        return Err(vec![err(
            "safe",
            format!("{p:?} is not a parameter of profile {:?}", d.profile),
        )]);
    }
    let mut ctx = DeviceCtx::for_profile(&profile);
    match &d.link {
        DeviceLink::Serial {
            address: Some(a), ..
        } => ctx.device_id = *a,
        DeviceLink::Midi {
            channel, device_id, ..
        } => {
            ctx.channel = channel.saturating_sub(1);
            if let Some(id) = device_id {
                ctx.device_id = *id;
            }
        }
        _ => {}
    }
    Ok(Device {
        id: d.id.clone(),
        profile,
        link: d.link.clone(),
        safe: d.safe,
        safe_params: d.safe_params.clone(),
        ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_file_is_embedded_and_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hardware-profiles");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".toml"))
            .collect();
        on_disk.sort();
        let embedded: Vec<String> = SHIPPED.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(embedded, on_disk);
        let lib = Library::load_from(&[]);
        assert_eq!(lib.broken().count(), 0);
        assert_eq!(lib.iter().count(), SHIPPED.len());
        assert!(lib.get("generic-serial-ascii").is_some());
    }

    #[test]
    fn local_directory_overrides_and_reports_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let (_, text) = SHIPPED
            .iter()
            .find(|(n, _)| *n == "generic-serial-ascii.toml")
            .unwrap();
        let changed = text.replace("baud = 9600", "baud = 38400");
        std::fs::write(dir.path().join("generic-serial-ascii.toml"), changed).unwrap();
        std::fs::write(dir.path().join("mine.toml"), "[device]\nid = \"mine\"\n").unwrap();
        let lib = Library::load_from(&[dir.path().to_path_buf()]);
        let e = lib.get("generic-serial-ascii").unwrap();
        assert_eq!(e.profile.serial.as_ref().unwrap().baud, 38400);
        assert!(e.origin.ends_with("generic-serial-ascii.toml"));
        let errs = lib.errors_of("mine").unwrap();
        assert!(errs[0].to_string().contains("mine.toml:"), "{errs:?}");
    }

    #[test]
    fn resolve_checks_profile_and_transport() {
        let cfg = Config::from_toml(
            "[[device]]\nid = \"a\"\nprofile = \"generic-serial-ascii\"\nosc = { address = \"h:1\" }\n[[device]]\nid = \"b\"\nprofile = \"nope\"\n[[device]]\nid = \"c\"\nprofile = \"generic-rs485-bus\"\nserial = { path = \"/dev/x\", address = 7 }\n",
            "rackd.toml",
            Default::default(),
        )
        .unwrap();
        let lib = Library::load_from(&[]);
        let errs = resolve(&cfg, &lib).unwrap_err().0;
        let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("rackd.toml:3: device[0].profile: profile \"generic-serial-ascii\" uses transport serial"), "{lines:?}");
        assert!(
            lines[1].starts_with("rackd.toml:7: device[1].profile: no profile \"nope\""),
            "{lines:?}"
        );
        let cfg = Config {
            devices: cfg.devices[2..].to_vec(),
            ..cfg
        };
        let devices = resolve(&cfg, &lib).unwrap();
        assert_eq!(devices[0].ctx.device_id, 7);
    }
}
