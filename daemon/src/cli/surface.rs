//! `rackd surface export`: a tablet layout for the rack a config describes
//! (or a running daemon's, from its describe), for Open Stage Control (a
//! session file, JSON) or TouchOSC (a `.tosc`: the document's XML,
//! zlib-compressed).

use super::Failure;
use super::ctl::Ctl;
use rackd_protocol::api::{Describe, Reply, Request, address as addr};
use rackd_protocol::layout::{self, Target};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `rackd surface ...`.
#[derive(clap::Subcommand, Debug)]
pub enum SurfaceCommand {
    /// Write a tablet layout (to stdout, or --out FILE).
    Export(ExportArgs),
}

/// Which tool the layout is for.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// An Open Stage Control session (`rack.json`).
    OpenStageControl,
    /// A TouchOSC document (`rack.tosc`, zlib-compressed XML).
    Touchosc,
    /// The TouchOSC document's XML, uncompressed (to read or diff).
    TouchoscXml,
}

/// `rackd surface export`.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The tool.
    #[arg(long, value_enum)]
    format: Format,
    /// The rack of this config file (default when --connect is not given).
    #[arg(long, conflicts_with = "connect")]
    config: Option<PathBuf>,
    /// The rack of the daemon running at HOST:PORT (its describe).
    #[arg(long)]
    connect: Option<String>,
    /// Where the tablet reaches the daemon, HOST:PORT (default: the
    /// config's `osc.listen`, or the --connect address).
    #[arg(long)]
    target: Option<String>,
    /// The port the tablet receives feedback on (TouchOSC's receive port;
    /// default 9000 for TouchOSC, the sending port for Open Stage Control).
    #[arg(long)]
    reply_port: Option<u16>,
    /// Write here instead of stdout.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Runs `rackd surface ...`.
pub fn main(command: SurfaceCommand) -> ExitCode {
    match command {
        SurfaceCommand::Export(args) => match export(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(f) => f.exit(),
        },
    }
}

fn export(args: &ExportArgs) -> Result<(), Failure> {
    let (describe, default_target) = match &args.connect {
        Some(connect) => (describe_from_daemon(connect)?, connect.clone()),
        None => {
            let path = args
                .config
                .clone()
                .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_PATH));
            let cfg = describe_from_config(&path)?;
            (cfg.0, cfg.1)
        }
    };
    let target_text = args.target.clone().unwrap_or(default_target);
    let (host, port) = target_text
        .rsplit_once(':')
        .and_then(|(h, p)| {
            Some((
                h.trim_matches(['[', ']']).to_string(),
                p.parse::<u16>().ok()?,
            ))
        })
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| Failure::Usage(format!("--target {target_text:?} is not HOST:PORT")))?;
    let reply_port = match (args.reply_port, args.format) {
        (Some(p), _) => Some(p),
        (None, Format::OpenStageControl) => None,
        (None, _) => Some(9000),
    };
    let target = Target {
        host,
        port,
        reply_port,
    };
    let bytes = match args.format {
        Format::OpenStageControl => {
            let session = layout::open_stage_control(&describe, &target);
            let mut text = serde_json::to_string_pretty(&session).unwrap_or_default();
            text.push('\n');
            text.into_bytes()
        }
        Format::TouchoscXml => layout::touchosc_xml(&describe, &target).into_bytes(),
        Format::Touchosc => {
            let xml = layout::touchosc_xml(&describe, &target);
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(xml.as_bytes())
                .and_then(|()| z.finish())
                .map_err(|e| Failure::Runtime(format!("compressing the layout: {e}")))?
        }
    };
    match &args.out {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", path.display()))),
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Failure::Runtime(format!("cannot write the layout: {e}"))),
    }
}

/// The parameter tree of a config's rack, at its defaults, and its OSC address.
fn describe_from_config(path: &std::path::Path) -> Result<(Describe, String), Failure> {
    let (cfg, devices) =
        super::check::load_checked(path).map_err(|e| Failure::Invalid(e.to_string()))?;
    let tree = crate::rack::ParamTree::from_rack(&cfg.chain, &devices);
    let listen = cfg.osc.listen;
    Ok((tree.describe(&tree.defaults()), listen.to_string()))
}

/// A running daemon's describe.
fn describe_from_daemon(connect: &str) -> Result<Describe, Failure> {
    let mut c = Ctl::connect(connect, Duration::from_secs(30))?;
    c.expect(&Request::Describe, addr::DESCRIBE, |r| match r {
        Reply::Describe(d) => Some(*d),
        _ => None,
    })
}
