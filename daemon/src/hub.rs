//! The hub: the one owner and writer of rack state.
//!
//! Surfaces, `rackd ctl`, recall and restore all send [`Command`]s through a
//! [`HubHandle`]; every accepted change becomes one [`Event`] that every
//! observer (engine, surfaces, autosave) receives from the broadcast channel.
//! Snapshot storage runs on its own thread ([`StoreWorker`]) so SQLite's
//! fsyncs never stall the async threads.

pub use crate::rack::{ParamEntry, ParamTree, Target, play_order};
use crate::store::{
    ImportReport, RevisionInfo, SongExport, SongSummary, Store, StoreError, StoreHealth,
};
use rackd_protocol::api::address::{is_recall_safe, recall_safe};
pub use rackd_protocol::api::{DeviceReport, RecallReport};
use rackd_protocol::osc::pattern;
use rackd_protocol::param::Value;
use rackd_protocol::song::{SongError, SongPath, SongRef};
use rackd_protocol::state::{Change, RackState};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Who asked for a change; carried in events for logs and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An OSC client at this address.
    Surface(SocketAddr),
    /// Recall of a snapshot revision.
    Recall(String),
    /// Restore of the autosaved state at start-up.
    Restore,
    /// An outboard device reported the value (readback or a front-panel move).
    Device(String),
    /// A MIDI control surface (`[[midi_surface]]` id).
    Midi(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Surface(a) => write!(f, "osc:{a}"),
            Origin::Recall(s) => write!(f, "recall:{s}"),
            Origin::Restore => f.write_str("restore"),
            Origin::Device(d) => write!(f, "device:{d}"),
            Origin::Midi(s) => write!(f, "midi:{s}"),
        }
    }
}

/// What every observer sees.
#[derive(Debug, Clone)]
pub enum Event {
    /// A parameter took a value (also sent when a set did not change it, so the
    /// sender always learns the value taken).
    Changed {
        address: Arc<str>,
        value: Value,
        origin: Origin,
    },
    /// A revision was stored durably.
    Saved(RevisionInfo),
    /// A snapshot was recalled.
    Recalled(RecallReport),
    /// Outboard recall progress: device, steps done, steps in all.
    RecallProgress {
        device: String,
        done: usize,
        total: usize,
    },
    /// A notice for every front end's subscribers that is not a state
    /// change (a device confirmed by hand, an insert measured, print
    /// progress), whichever front end the request came through.
    Notice(rackd_protocol::api::Reply),
}

/// Why a command failed; the text goes back to the sender in `/rackd/error`.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No parameter at that address (or no match for a pattern).
    #[error("no parameter at {0}")]
    UnknownAddress(String),
    /// The value was refused by the parameter's spec.
    #[error("{0}")]
    Rejected(String),
    /// A bad song path or reference.
    #[error("{0}")]
    Song(#[from] SongError),
    /// The snapshot store failed or found nothing (what kind, it says).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The hub has stopped (daemon shutting down).
    #[error("the daemon is shutting down")]
    Stopped,
}

type Reply<T> = oneshot::Sender<Result<T, HubError>>;

/// A request to the hub task.
enum Command {
    Set {
        address: String,
        value: Value,
        norm: bool,
        origin: Origin,
        reply: Reply<Vec<(String, Value)>>,
    },
    Get {
        address: String,
        reply: Reply<Vec<(String, Value)>>,
    },
    State {
        reply: oneshot::Sender<RackState>,
    },
    Apply {
        state: RackState,
        origin: Origin,
        reply: oneshot::Sender<Applied>,
    },
}

/// Idle time after which the store thread checkpoints the WAL.
const CHECKPOINT_IDLE: Duration = Duration::from_millis(500);
/// Longest wait between tries to open or checkpoint a store that fails.
const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

/// A job for the store thread.
type StoreJob = Box<dyn FnOnce(&mut StoreCell) + Send>;

/// Runs the blocking [`Store`] on its own thread and hands out async calls to it.
#[derive(Clone)]
pub struct StoreWorker {
    jobs: std::sync::mpsc::Sender<StoreJob>,
    health: Arc<std::sync::Mutex<StoreHealth>>,
}

/// The store thread's side: the database, opened again when a fault that
/// can pass (permissions fixed, space freed) made it fail.
pub struct StoreCell {
    path: PathBuf,
    store: Option<Store>,
    health: Arc<std::sync::Mutex<StoreHealth>>,
}

impl StoreCell {
    fn set_health(&self, health: StoreHealth) {
        let mut h = self.health.lock().unwrap_or_else(|e| e.into_inner());
        if *h != health {
            match &health.error {
                None => tracing::info!("snapshot store: ok again"),
                Some(e) => tracing::error!("snapshot store: {}: {e}", health.health),
            }
            *h = health;
        }
    }

    /// The open store, opening it first when needed.
    fn open(&mut self) -> Result<&mut Store, StoreError> {
        if self.store.is_none() {
            match Store::open(&self.path) {
                Ok(store) => self.store = Some(store),
                Err(e) => {
                    self.set_health(e.health());
                    return Err(e);
                }
            }
        }
        Ok(self.store.as_mut().expect("opened above"))
    }

    /// Runs `f` on the store; when it fails for a reason that can pass, the
    /// database is opened again and `f` tried once more.
    fn run<R>(
        &mut self,
        f: &mut dyn FnMut(&mut Store) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut result = self.open().and_then(&mut *f);
        if let Err(e) = &result
            && e.can_pass()
        {
            self.store = None;
            result = self.open().and_then(&mut *f);
            if result.as_ref().is_err_and(StoreError::can_pass) {
                self.store = None;
            }
        }
        if let Some(store) = &self.store {
            self.set_health(store.health().clone());
        }
        result
    }

    /// Idle work: checkpoint the WAL; while the store fails, open it again.
    fn idle(&mut self) -> Result<(), StoreError> {
        let result = self.open().and_then(Store::checkpoint);
        if result.as_ref().is_err_and(StoreError::can_pass) {
            self.store = None;
        }
        if let Some(store) = &self.store {
            self.set_health(store.health().clone());
        }
        result
    }
}

impl StoreWorker {
    /// Opens the database at `path` and starts its thread.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let store = Store::open(path)?;
        Ok(Self::spawn(path, Some(store)))
    }

    /// Starts the store thread even when the database cannot be opened now
    /// for a reason that can pass (a read-only state directory): saves fail
    /// with the reason, and the thread keeps trying, so the store recovers
    /// once the admin fixes it. Other failures (a newer schema, a file that
    /// is not a database) are returned.
    pub fn start_or_retry(path: &Path) -> Result<Self, StoreError> {
        match Store::open(path) {
            Ok(store) => Ok(Self::spawn(path, Some(store))),
            Err(e) if e.can_pass() => {
                tracing::error!("{e}; rackd runs, but saves fail until this is fixed");
                let worker = Self::spawn(path, None);
                *worker.health.lock().unwrap_or_else(|p| p.into_inner()) = e.health();
                Ok(worker)
            }
            Err(e) => Err(e),
        }
    }

    fn spawn(path: &Path, store: Option<Store>) -> Self {
        let health = Arc::new(std::sync::Mutex::new(StoreHealth::ok()));
        let mut cell = StoreCell {
            path: path.to_path_buf(),
            store,
            health: health.clone(),
        };
        let (jobs, rx) = std::sync::mpsc::channel::<StoreJob>();
        let spawned = std::thread::Builder::new()
            .name("rackd-store".into())
            .spawn(move || {
                // Checkpoint when idle after writes; while failing, try again
                // with a growing pause (one log line per change of health).
                let mut dirty = cell.store.is_none();
                let mut wait = CHECKPOINT_IDLE;
                loop {
                    match rx.recv_timeout(wait) {
                        Ok(job) => {
                            job(&mut cell);
                            dirty = true;
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) if dirty => {
                            match cell.idle() {
                                Ok(()) => {
                                    dirty = false;
                                    wait = CHECKPOINT_IDLE;
                                }
                                Err(_) => wait = (wait * 2).min(STORE_RETRY_MAX),
                            }
                        }
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the store thread: {e}");
        }
        StoreWorker { jobs, health }
    }

    /// How the store is doing now.
    pub fn health(&self) -> StoreHealth {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `f` on the store thread and waits for its result. `f` may run
    /// twice: again on a freshly opened database when the first try failed
    /// for a reason that can pass.
    pub async fn call<R: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut Store) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, HubError> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move |cell: &mut StoreCell| {
                let _ = tx.send(cell.run(&mut f));
            }))
            .map_err(|_| HubError::Stopped)?;
        Ok(rx.await.map_err(|_| HubError::Stopped)??)
    }
}

/// A cheap, cloneable way to talk to the hub.
#[derive(Clone)]
pub struct HubHandle {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<Event>,
    tree: Arc<ParamTree>,
    store: StoreWorker,
}

impl HubHandle {
    /// The parameter tree (read-only; fixed for the daemon's life).
    pub fn tree(&self) -> &Arc<ParamTree> {
        &self.tree
    }

    /// A new observer of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The snapshot store, for reads and imports that do not touch rack state.
    pub fn store(&self) -> &StoreWorker {
        &self.store
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, HubError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| HubError::Stopped)?;
        rx.await.map_err(|_| HubError::Stopped)
    }

    /// Sets a parameter (or every parameter an OSC pattern matches) and returns
    /// the values actually taken. `norm`: the value is a 0..1 fader position.
    pub async fn set(
        &self,
        address: &str,
        value: Value,
        norm: bool,
        origin: Origin,
    ) -> Result<Vec<(String, Value)>, HubError> {
        let address = address.to_string();
        self.ask(|reply| Command::Set {
            address,
            value,
            norm,
            origin,
            reply,
        })
        .await?
    }

    /// Values of a parameter or of every parameter a pattern matches.
    pub async fn get(&self, address: &str) -> Result<Vec<(String, Value)>, HubError> {
        let address = address.to_string();
        self.ask(|reply| Command::Get { address, reply }).await?
    }

    /// The whole current state.
    pub async fn state(&self) -> Result<RackState, HubError> {
        self.ask(|reply| Command::State { reply }).await
    }

    /// Answers when the hub task is alive and processing commands (watchdog).
    pub async fn ping(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.state())
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Applies a stored state through the hub (recall, restore); returns
    /// (changed, unchanged, skipped addresses).
    pub async fn apply(&self, state: RackState, origin: Origin) -> Result<Applied, HubError> {
        self.ask(|reply| Command::Apply {
            state,
            origin,
            reply,
        })
        .await
    }

    /// Stores the current state as a new revision of `song`; returns once durable.
    pub async fn save(
        &self,
        song: &str,
        note: &str,
        origin: &str,
    ) -> Result<RevisionInfo, HubError> {
        self.save_with_safes(song, note, origin, Vec::new()).await
    }

    /// [`HubHandle::save`] with recall safes for this snapshot: outboard
    /// devices (`eq`) or their parameters (`eq/low_gain`) its recall leaves alone.
    pub async fn save_with_safes(
        &self,
        song: &str,
        note: &str,
        origin: &str,
        safes: Vec<String>,
    ) -> Result<RevisionInfo, HubError> {
        let song = SongPath::new(song)?;
        for safe in &safes {
            let prefix = recall_safe(safe);
            let known = if prefix.ends_with('/') {
                self.tree.addresses().any(|a| a.starts_with(&prefix))
            } else {
                self.tree.get(&prefix).is_some()
            };
            if !known {
                return Err(HubError::Rejected(format!(
                    "recall safe {safe:?}: no outboard device or parameter /outboard/{safe}"
                )));
            }
        }
        let state = self.state().await?;
        let (note, origin) = (note.to_string(), origin.to_string());
        let info = self
            .store
            .call(move |s| s.save_with_safes(&song, &note, &origin, &state, &safes))
            .await?;
        let _ = self.events.send(Event::Saved(info.clone()));
        Ok(info)
    }

    /// Tells every observer about something that is not a state change (recall progress).
    pub fn notify(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Recalls a song's latest or given revision through the hub.
    pub async fn recall(&self, song: &str, rev: Option<u32>) -> Result<RecallReport, HubError> {
        self.recall_except(song, rev, &[]).await
    }

    /// Recalls, leaving alone every address in `safe` (or under it, for an
    /// entry ending in `/`): recall-safe devices and parameters.
    pub async fn recall_except(
        &self,
        song: &str,
        rev: Option<u32>,
        safe: &[String],
    ) -> Result<RecallReport, HubError> {
        let song = SongPath::new(song)?;
        let mut revision = self.store.call(move |s| s.load(&song, rev)).await?;
        let safe: Vec<String> = safe
            .iter()
            .cloned()
            .chain(revision.safes.iter().map(|s| recall_safe(s)))
            .collect();
        revision
            .state
            .values
            .retain(|a, _| !is_recall_safe(&safe, a));
        let label = format!("{}@{}", revision.info.song, revision.info.rev);
        let applied = self.apply(revision.state, Origin::Recall(label)).await?;
        let report = RecallReport {
            song: revision.info.song.to_string(),
            rev: revision.info.rev,
            changed: applied.changed,
            unchanged: applied.unchanged,
            skipped: applied.skipped,
            refused: applied.refused,
            devices: Vec::new(),
            safes: revision.safes,
        };
        let _ = self.events.send(Event::Recalled(report.clone()));
        Ok(report)
    }

    /// A song's revisions, oldest first.
    pub async fn history(&self, song: &str) -> Result<Vec<RevisionInfo>, HubError> {
        let song = SongPath::new(song)?;
        self.store.call(move |s| s.history(&song)).await
    }

    /// Songs under a prefix.
    pub async fn list(&self, prefix: &str) -> Result<Vec<SongSummary>, HubError> {
        let prefix = prefix.to_string();
        self.store.call(move |s| s.list(&prefix)).await
    }

    /// The state a reference names: `current`, `SONG` or `SONG@REV`.
    pub async fn resolve(&self, reference: &str) -> Result<RackState, HubError> {
        match SongRef::parse(reference)? {
            SongRef::Current => self.state().await,
            SongRef::Song { path, rev } => {
                Ok(self.store.call(move |s| s.load(&path, rev)).await?.state)
            }
        }
    }

    /// Differences from `a` to `b` (each `current`, `SONG` or `SONG@REV`).
    pub async fn diff(&self, a: &str, b: &str) -> Result<Vec<Change>, HubError> {
        let a = self.resolve(a).await?;
        let b = self.resolve(b).await?;
        Ok(a.diff(&b))
    }

    /// A song with all its revisions, as an export document.
    pub async fn export(&self, song: &str) -> Result<SongExport, HubError> {
        let song = SongPath::new(song)?;
        self.store.call(move |s| s.export(&song)).await
    }

    /// Adds the revisions of an export document; never changes stored ones.
    pub async fn import(&self, doc: SongExport) -> Result<ImportReport, HubError> {
        self.store.call(move |s| s.import(&doc)).await
    }
}

/// What applying a stored state did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Parameters whose value changed.
    pub changed: usize,
    /// Parameters already at the stored value.
    pub unchanged: usize,
    /// Stored addresses this rack does not have.
    pub skipped: Vec<String>,
    /// Stored values this rack's parameters refuse (`address: why`).
    pub refused: Vec<String>,
}

/// The hub task's own state.
struct Hub {
    tree: Arc<ParamTree>,
    state: RackState,
    events: broadcast::Sender<Event>,
}

impl Hub {
    fn handle(&mut self, cmd: Command) {
        match cmd {
            Command::Set {
                address,
                value,
                norm,
                origin,
                reply,
            } => {
                let _ = reply.send(self.set(&address, &value, norm, &origin));
            }
            Command::Get { address, reply } => {
                let _ = reply.send(self.matching(&address).map(|addrs| {
                    addrs
                        .into_iter()
                        .map(|a| {
                            let v = self.state.values.get(&a).cloned().unwrap_or(Value::Int(0));
                            (a, v)
                        })
                        .collect()
                }));
            }
            Command::State { reply } => {
                let _ = reply.send(self.state.clone());
            }
            Command::Apply {
                state,
                origin,
                reply,
            } => {
                let _ = reply.send(self.apply(state, &origin));
            }
        }
    }

    /// Exact address, or the addresses an OSC pattern matches.
    fn matching(&self, address: &str) -> Result<Vec<String>, HubError> {
        if self.tree.get(address).is_some() {
            return Ok(vec![address.to_string()]);
        }
        if pattern::is_pattern(address) {
            let found: Vec<String> = pattern::expand(address, self.tree.addresses())
                .into_iter()
                .map(str::to_string)
                .collect();
            if !found.is_empty() {
                return Ok(found);
            }
        }
        Err(HubError::UnknownAddress(address.to_string()))
    }

    fn set(
        &mut self,
        address: &str,
        value: &Value,
        norm: bool,
        origin: &Origin,
    ) -> Result<Vec<(String, Value)>, HubError> {
        let targets = self.matching(address)?;
        let mut taken = Vec::with_capacity(targets.len());
        let mut first_error = None;
        for addr in targets {
            let Some(entry) = self.tree.get(&addr) else {
                continue;
            };
            let accepted = if norm {
                match value.as_f64() {
                    Some(n) => entry.spec.from_norm(n),
                    None => {
                        first_error.get_or_insert(HubError::Rejected(format!(
                            "{addr}/norm: expected a number 0..1, got {value}"
                        )));
                        continue;
                    }
                }
            } else {
                entry.spec.accept(value)
            };
            match accepted {
                Ok(v) => {
                    self.commit(&addr, v.clone(), origin);
                    taken.push((addr, v));
                }
                Err(e) => {
                    first_error.get_or_insert(HubError::Rejected(format!("{addr}: {e}")));
                }
            }
        }
        match (taken.is_empty(), first_error) {
            (true, Some(e)) => Err(e),
            _ => Ok(taken),
        }
    }

    /// Stores a value and tells every observer.
    fn commit(&mut self, address: &str, value: Value, origin: &Origin) {
        self.state.values.insert(address.to_string(), value.clone());
        let _ = self.events.send(Event::Changed {
            address: Arc::from(address),
            value,
            origin: origin.clone(),
        });
    }

    /// Applies stored values. A recall (and its undo) leaves alone what
    /// [`ParamTree::recalled`] says is not the song's: calling up a song must
    /// not change how loud the room listens; a restore at start-up brings it
    /// back like everything else.
    fn apply(&mut self, state: RackState, origin: &Origin) -> Applied {
        let mut applied = Applied::default();
        let recall = matches!(origin, Origin::Recall(_));
        for (address, value) in state.values {
            if recall && !self.tree.recalled(&address) {
                continue;
            }
            let Some(entry) = self.tree.get(&address) else {
                applied.skipped.push(address);
                continue;
            };
            // Stored values pass the spec again: a snapshot from an older rack
            // with a wider range still lands inside this rack's range; a value
            // it cannot take at all (an enum label it does not have) is refused.
            let value = match entry.spec.accept(&value) {
                Ok(v) => v,
                Err(e) => {
                    applied.refused.push(format!("{address}: {e}"));
                    continue;
                }
            };
            if self.state.values.get(&address) == Some(&value) {
                applied.unchanged += 1;
            } else {
                self.commit(&address, value, origin);
                applied.changed += 1;
            }
        }
        applied
    }
}

/// Starts the hub task with every parameter at its default; returns its handle.
pub fn start(tree: ParamTree, store: StoreWorker) -> HubHandle {
    let tree = Arc::new(tree);
    let (commands, mut rx) = mpsc::channel::<Command>(1024);
    let (events, _) = broadcast::channel(8192);
    let mut hub = Hub {
        state: tree.defaults(),
        tree: tree.clone(),
        events: events.clone(),
    };
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            hub.handle(cmd);
        }
    });
    HubHandle {
        commands,
        events,
        tree,
        store,
    }
}

/// Autosaves the live state after changes settle, so a restart or crash brings
/// the room back as it was. Runs until the hub stops.
pub async fn autosave(hub: HubHandle, debounce: Duration) {
    let mut events = hub.subscribe();
    loop {
        // Wait for a change.
        match events.recv().await {
            Ok(Event::Changed { .. }) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Closed) => return,
        }
        // Let a burst of changes settle.
        loop {
            match tokio::time::timeout(debounce, events.recv()).await {
                Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                Ok(Err(broadcast::error::RecvError::Closed)) => break,
                Err(_) => break,
            }
        }
        // Until it is on disk: a store that fails now may recover (the
        // admin fixes permissions); the state saved is the newest each time.
        let mut retry = AUTOSAVE_RETRY;
        loop {
            let Ok(state) = hub.state().await else { return };
            match hub.store().call(move |s| s.save_current(&state)).await {
                Ok(()) => break,
                Err(HubError::Stopped) => return,
                Err(e) => tracing::debug!("autosave failed (trying again in {retry:?}): {e}"),
            }
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(STORE_RETRY_MAX);
        }
    }
}

/// First pause before an autosave that failed is tried again.
const AUTOSAVE_RETRY: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SlotConfig;
    use rackd_dsp::SlotKind;

    fn test_hub(dir: &Path) -> HubHandle {
        let tree = ParamTree::from_chain(&[
            SlotConfig::new("trim", SlotKind::Trim),
            SlotConfig::new("out", SlotKind::Meter),
        ]);
        start(tree, StoreWorker::start(&dir.join("rackd.db")).unwrap())
    }

    fn origin() -> Origin {
        Origin::Surface("127.0.0.1:1".parse().unwrap())
    }

    #[tokio::test]
    async fn set_clamps_and_every_observer_sees_it() {
        let dir = tempfile::tempdir().unwrap();
        let hub = test_hub(dir.path());
        let mut a = hub.subscribe();
        let mut b = hub.subscribe();
        let taken = hub
            .set("/chain/trim/gain", Value::Float(99.0), false, origin())
            .await
            .unwrap();
        assert_eq!(taken, vec![("/chain/trim/gain".into(), Value::Float(24.0))]);
        for rx in [&mut a, &mut b] {
            match rx.recv().await.unwrap() {
                Event::Changed { address, value, .. } => {
                    assert_eq!(&*address, "/chain/trim/gain");
                    assert_eq!(value, Value::Float(24.0));
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn errors_are_readable_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let hub = test_hub(dir.path());
        let before = hub.state().await.unwrap();
        let e = hub
            .set("/chain/nope/gain", Value::Float(1.0), false, origin())
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "no parameter at /chain/nope/gain");
        let e = hub
            .set(
                "/chain/trim/gain",
                Value::Text("loud".into()),
                false,
                origin(),
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("expected a number"), "{e}");
        assert!(
            hub.set("/chain/trim/gain", Value::Float(2.0), true, origin())
                .await
                .is_err()
        );
        assert_eq!(hub.state().await.unwrap(), before);
    }

    #[tokio::test]
    async fn patterns_and_norm() {
        let dir = tempfile::tempdir().unwrap();
        let hub = test_hub(dir.path());
        let taken = hub
            .set("/chain/*/bypass", Value::Int(1), false, origin())
            .await
            .unwrap();
        assert_eq!(taken.len(), 2);
        let taken = hub
            .set("/chain/trim/gain", Value::Float(0.25), true, origin())
            .await
            .unwrap();
        assert_eq!(taken[0].1, Value::Float(-12.0));
    }

    #[tokio::test]
    async fn save_recall_diff() {
        let dir = tempfile::tempdir().unwrap();
        let hub = test_hub(dir.path());
        hub.set("/chain/trim/gain", Value::Float(-3.5), false, origin())
            .await
            .unwrap();
        let info = hub
            .save("client/album/01 intro", "first", "test")
            .await
            .unwrap();
        assert_eq!(info.rev, 1);
        hub.set("/chain/trim/gain", Value::Float(2.0), false, origin())
            .await
            .unwrap();
        let diff = hub.diff("client/album/01 intro", "current").await.unwrap();
        assert_eq!(diff.len(), 1);
        let mut rx = hub.subscribe();
        let report = hub.recall("client/album/01 intro", None).await.unwrap();
        assert_eq!((report.rev, report.changed), (1, 1));
        match rx.recv().await.unwrap() {
            Event::Changed { value, .. } => assert_eq!(value, Value::Float(-3.5)),
            other => panic!("{other:?}"),
        }
        assert!(hub.recall("client/album/01 intro", Some(7)).await.is_err());
    }

    #[tokio::test]
    async fn recall_leaves_the_monitor_alone_and_restore_brings_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let hub = test_hub(dir.path());
        hub.set("/monitor/level", Value::Float(-10.0), false, origin())
            .await
            .unwrap();
        hub.set("/monitor/mute", Value::Int(1), false, origin())
            .await
            .unwrap();
        hub.save("s", "", "test").await.unwrap();
        let stored = hub.resolve("s").await.unwrap();
        assert_eq!(
            stored.values.get("/monitor/level"),
            Some(&Value::Float(-10.0)),
            "snapshots hold the monitor values"
        );
        hub.set("/monitor/level", Value::Float(-30.0), false, origin())
            .await
            .unwrap();
        hub.set("/monitor/mute", Value::Int(0), false, origin())
            .await
            .unwrap();
        hub.set("/chain/trim/gain", Value::Float(5.0), false, origin())
            .await
            .unwrap();
        let report = hub.recall("s", None).await.unwrap();
        assert_eq!(report.changed, 1, "only the trim gain");
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(
            hub.get("/monitor/level").await.unwrap()[0].1,
            Value::Float(-30.0)
        );
        assert_eq!(hub.get("/monitor/mute").await.unwrap()[0].1, Value::Int(0));
        hub.apply(stored, Origin::Restore).await.unwrap();
        assert_eq!(
            hub.get("/monitor/level").await.unwrap()[0].1,
            Value::Float(-10.0)
        );
    }
}
