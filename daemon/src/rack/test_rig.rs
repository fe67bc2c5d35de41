//! A whole rack for unit tests, without sockets or audio: the config from
//! TOML text, profiles from the shipped library, the hub over a SQLite file
//! in a temp dir, the outboard drivers, the recall service, the engine's
//! control side (no backend runs it) and the service facade.

use crate::config::Config;
use crate::engine::EngineControl;
use crate::hub::StoreWorker;
use crate::hub::{self, HubHandle, ParamTree};
use crate::outboard::Outboard;
use crate::outboard::recall::RecallService;
use crate::print::Printer;
use crate::profiles::{Library, resolve};
use crate::surface::RackService;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The default chain of the rig: a trim, a meter and a hardware insert.
pub const CHAIN: &str = "[audio]\nbackend = \"null\"\n\n\
    [[chain]]\nid = \"trim\"\nkind = \"trim\"\n\n\
    [[chain]]\nid = \"meter\"\nkind = \"meter\"\n\n\
    [[chain]]\nid = \"gear\"\nkind = \"insert\"\n\n";

/// A manual Pultec-style EQ (recall sheet, confirmation).
pub const MANUAL_EQ: &str =
    "[[device]]\nid = \"pultec\"\nprofile = \"generic-passive-eq-stepped\"\n\n";

/// A rack built from `toml` (after `[daemon]`, which the rig writes).
pub struct Rig {
    /// Holds the database and the file roots.
    pub dir: tempfile::TempDir,
    /// The hub.
    pub hub: HubHandle,
    /// The recall service.
    pub recall: Arc<RecallService>,
    /// The facade over all of it.
    pub service: Arc<RackService>,
}

impl Rig {
    /// Builds the rack; panics on a config error (a test's mistake).
    pub fn new(toml: &str) -> Rig {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = format!(
            "[daemon]\nstate_dir = {:?}\n\n{toml}",
            dir.path().display().to_string()
        );
        let config = Config::from_toml(&text, "rig.toml", BTreeMap::new())
            .unwrap_or_else(|e| panic!("rig config: {e}"));
        let devices = resolve(&config, &Library::load_from(&[]))
            .unwrap_or_else(|e| panic!("rig devices: {e}"));
        let tree = ParamTree::from_rack(&config.chain, &devices);
        let store = StoreWorker::start(&dir.path().join("rackd.db")).expect("store");
        let hub = hub::start(tree, store);
        let recall = RecallService::new(hub.clone(), Outboard::start(hub.clone()));
        let engine = EngineControl::new(&config.chain, &config.audio);
        let files = config.files.roots(dir.path());
        files.create().expect("file dirs");
        let service = RackService::new(
            hub.clone(),
            engine,
            recall.clone(),
            Printer::new(files),
            "null",
        );
        Rig {
            dir,
            hub,
            recall,
            service,
        }
    }
}
