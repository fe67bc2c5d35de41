//! The store thread: the blocking SQLite [`Store`] on a thread of its own,
//! so fsyncs never stall the async threads; reopened with backoff when it fails.

use super::*;

/// Idle time after which the store thread checkpoints the WAL.
const CHECKPOINT_IDLE: Duration = Duration::from_millis(500);
/// Longest wait between tries to open or checkpoint a store that fails.
pub(super) const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

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
