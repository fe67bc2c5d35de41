//! `rackd ddp info | verify | extract`: a DDP (rackd's or another tool's)
//! as the plant will read it. The formats are in `rackd_delivery::ddp`; this
//! file finds the files, reads and writes them.

use crate::audio_file::wav_header;
use anyhow::Context;
use clap::Subcommand;
use rackd_delivery::album::Severity;
use rackd_delivery::ddp::{self, Ddp, checksum, info};
use rackd_delivery::frames::{BYTES_PER_FRAME, CD_RATE};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `rackd ddp …`.
#[derive(Subcommand, Debug)]
pub enum DdpCommand {
    /// The track/index table, times, ISRC, UPC, flags, CD-Text, streams and sizes.
    Info {
        /// The DDP folder (or a build folder with ddp/ in it).
        dir: PathBuf,
        /// JSON, schema rackd-ddp/1.
        #[arg(long)]
        json: bool,
    },
    /// Structure, sizes against DDPMS, checksum files, PQ consistency and the
    /// Red Book; exit 0, or 2 with each problem on its own line.
    Verify {
        /// The DDP folder.
        dir: PathBuf,
    },
    /// One WAV per track (index 01 to the next index 01, as players play it), or a cue/bin.
    Extract {
        /// The DDP folder.
        dir: PathBuf,
        /// Where to write (created; must not hold files of the same names).
        #[arg(long)]
        out: PathBuf,
        /// Write album.cue + album.bin instead of WAV files.
        #[arg(long)]
        cue: bool,
    },
}

/// Runs a subcommand.
pub fn main(cmd: DdpCommand) -> ExitCode {
    let r = match cmd {
        DdpCommand::Info { dir, json } => open(&dir).map(|d| {
            let size = |n: &str| d.size(n);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&info::json(&d.ddp, &size)).unwrap_or_default()
                );
            } else {
                print!("{}", info::text(&d.ddp, &size));
            }
            ExitCode::SUCCESS
        }),
        DdpCommand::Verify { dir } => Ok(verify(&dir)),
        DdpCommand::Extract { dir, out, cue } => open(&dir).and_then(|d| {
            extract(&d, &out, cue).map_err(|e| Failure::Runtime(format!("{e:#}")))?;
            Ok(ExitCode::SUCCESS)
        }),
    };
    r.unwrap_or_else(|f| match f {
        Failure::Invalid(m) => {
            eprintln!("rackd ddp: {m}");
            ExitCode::from(2)
        }
        Failure::Runtime(m) => {
            eprintln!("rackd ddp: {m}");
            ExitCode::from(1)
        }
    })
}

enum Failure {
    Invalid(String),
    Runtime(String),
}

/// A DDP folder read.
struct Opened {
    dir: PathBuf,
    /// Upper-case name → the name on disk.
    names: HashMap<String, String>,
    ddp: Ddp,
}

impl Opened {
    fn path(&self, name: &str) -> Option<PathBuf> {
        self.names
            .get(&name.to_ascii_uppercase())
            .map(|n| self.dir.join(n))
    }

    fn size(&self, name: &str) -> Option<u64> {
        self.path(name)
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
    }
}

/// The folder with the DDPID in it: `dir`, or `dir/ddp`.
fn ddp_dir(dir: &Path) -> PathBuf {
    let has_id = |d: &Path| {
        std::fs::read_dir(d).is_ok_and(|mut it| {
            it.any(|e| {
                e.is_ok_and(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .eq_ignore_ascii_case(ddp::DDPID)
                })
            })
        })
    };
    if !has_id(dir) && has_id(&dir.join("ddp")) {
        dir.join("ddp")
    } else {
        dir.to_path_buf()
    }
}

fn open(dir: &Path) -> Result<Opened, Failure> {
    let dir = ddp_dir(dir);
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Failure::Invalid(format!("{}: {e}", dir.display())))?;
    let names: HashMap<String, String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            (n.to_ascii_uppercase(), n)
        })
        .collect();
    let mut read = |name: &str| -> Result<Vec<u8>, String> {
        let n = names
            .get(&name.to_ascii_uppercase())
            .ok_or_else(|| "missing (DDPMS names it)".to_string())?;
        let p = dir.join(n);
        let len = std::fs::metadata(&p).map_err(|e| e.to_string())?.len();
        // The metadata files are small; never read an image here.
        if len > 16 << 20 {
            return Err(format!("{len} bytes: too large for a DDP descriptor file"));
        }
        std::fs::read(&p).map_err(|e| e.to_string())
    };
    let ddp =
        Ddp::read(&mut read).map_err(|e| Failure::Invalid(format!("{}: {e}", dir.display())))?;
    Ok(Opened { dir, names, ddp })
}

/// Every problem on its own line; exit 0 when there is none.
fn verify(dir: &Path) -> ExitCode {
    let d = match open(dir) {
        Ok(d) => d,
        Err(Failure::Invalid(m) | Failure::Runtime(m)) => {
            println!("FAIL {m}");
            return ExitCode::from(2);
        }
    };
    let mut problems: Vec<String> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let image = d.ddp.image().cloned().expect("read checks D0");
    let image_bytes = d.size(&image.file).unwrap_or(0);
    if d.size(&image.file).is_none() {
        problems.push(format!("{}: missing (DDPMS names it)", image.file));
    }
    for m in &d.ddp.map {
        if m.kind == "D0" {
            continue;
        }
        match d.size(&m.file) {
            None => problems.push(format!("{}: missing (DDPMS names it)", m.file)),
            // Lengths are bytes; some writers count packets (64-byte PQ entries, 18-byte CD-Text packs).
            Some(n)
                if m.length != 0 && n != m.length && n != m.length * 64 && n != m.length * 18 =>
            {
                problems.push(format!(
                    "{}: {n} bytes, but DDPMS says {}",
                    m.file, m.length
                ))
            }
            _ => {}
        }
    }
    for diag in d.ddp.check(image_bytes) {
        match diag.severity {
            Severity::Error => problems.push(diag.message),
            _ => warnings.push(diag.message),
        }
    }
    // Checksums, in whatever files other tools left.
    let mut checked = 0;
    let mut sums: Vec<(String, checksum::Entry)> = Vec::new();
    let mut files: Vec<&String> = d
        .names
        .values()
        .filter(|n| checksum::is_checksum_file(n))
        .collect();
    files.sort();
    for f in files {
        let text = match std::fs::read(d.dir.join(f)) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                problems.push(format!("{f}: cannot read: {e}"));
                continue;
            }
        };
        for e in checksum::parse(&text) {
            sums.push((f.clone(), e));
        }
    }
    if sums.is_empty() {
        warnings.push(
            "no checksum file (CHECKSUM.MD5, *.md5, *.chk): the files could not be checked".into(),
        );
    }
    for (from, e) in &sums {
        let name = Path::new(&e.file)
            .file_name()
            .map_or(e.file.clone(), |n| n.to_string_lossy().into_owned());
        let Some(p) = d.path(&name) else {
            problems.push(format!("{name}: listed in {from} but missing"));
            continue;
        };
        match File::open(&p).and_then(|mut f| checksum::md5_of(&mut f)) {
            Ok(h) if h == e.md5 => checked += 1,
            Ok(h) => problems.push(format!(
                "{name}: MD5 {h} does not match {} in {from}: the file is damaged or changed",
                e.md5
            )),
            Err(err) => problems.push(format!("{name}: cannot read: {err}")),
        }
    }
    for w in &warnings {
        println!("warning: {w}");
    }
    for n in &d.ddp.notes {
        println!("note: {n}");
    }
    if problems.is_empty() {
        println!(
            "ok: {} tracks, lead-out {}, {checked} checksums match",
            d.ddp.tracks.len(),
            d.ddp.lead_out
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            println!("FAIL {p}");
        }
        ExitCode::from(2)
    }
}

/// Copies `frames` sectors of the image from `from` into `w`.
fn copy_frames(image: &mut File, from: u32, frames: u32, w: &mut dyn Write) -> anyhow::Result<()> {
    image.seek(SeekFrom::Start(from as u64 * BYTES_PER_FRAME as u64))?;
    let mut left = frames as u64 * BYTES_PER_FRAME as u64;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = (left as usize).min(buf.len());
        image
            .read_exact(&mut buf[..n])
            .context("the image ends early")?;
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

fn extract(d: &Opened, out: &Path, as_cue: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let image_name = d
        .ddp
        .image()
        .map_or(ddp::IMAGE.to_string(), |m| m.file.clone());
    let image_path = d
        .path(&image_name)
        .with_context(|| format!("{image_name} is missing"))?;
    let mut image =
        File::open(&image_path).with_context(|| format!("cannot open {}", image_path.display()))?;
    let fail_if_exists = |p: &Path| -> anyhow::Result<()> {
        if p.exists() {
            anyhow::bail!("{} exists: extract into an empty folder", p.display());
        }
        Ok(())
    };
    if as_cue {
        let bin = out.join("album.bin");
        let cue_path = out.join("album.cue");
        fail_if_exists(&bin)?;
        fail_if_exists(&cue_path)?;
        let mut w = BufWriter::new(File::create(&bin)?);
        copy_frames(&mut image, 0, d.ddp.lead_out, &mut w)?;
        w.flush()?;
        std::fs::write(
            &cue_path,
            rackd_delivery::cue::write(&d.ddp.to_disc(), "album.bin"),
        )?;
        println!("wrote {} and {}", cue_path.display(), bin.display());
        return Ok(());
    }
    let mut written = Vec::new();
    let tracks = &d.ddp.tracks;
    // Audio before track 1's index 01 beyond the first pause: hidden track.
    if let Some(t1) = tracks.first() {
        if t1.indexes[0] > rackd_delivery::frames::FIRST_PAUSE {
            written.push(("00 hidden.wav".to_string(), 0, t1.indexes[0]));
        }
    }
    for (i, t) in tracks.iter().enumerate() {
        let start = t.indexes[0];
        let end = tracks.get(i + 1).map_or(d.ddp.lead_out, |n| n.indexes[0]);
        written.push((format!("{:02}.wav", t.number), start, end));
    }
    for (name, start, end) in written {
        let p = out.join(&name);
        fail_if_exists(&p)?;
        let frames = end.saturating_sub(start);
        let mut w = BufWriter::new(
            File::create(&p).with_context(|| format!("cannot create {}", p.display()))?,
        );
        w.write_all(&wav_header(CD_RATE, 1, 16, frames * BYTES_PER_FRAME))?;
        copy_frames(&mut image, start, frames, &mut w)?;
        w.flush()?;
        println!("{}: {} frames", p.display(), frames);
    }
    Ok(())
}
