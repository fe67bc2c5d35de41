//! What the daemon's threads ask of the kernel's scheduler, so that a move
//! on a control surface is answered first when the rack machine is busy.
//!
//! The control runtime's workers (OSC, MCU and MIDI surfaces, the hub,
//! recall) do a little work per message and then sleep: they ask EEVDF
//! for a short slice. A woken thread whose slice is shorter than the
//! running one's preempts it at once (the kernel's PREEMPT_SHORT); with the
//! default slice it waits out the running thread's slice and the tick
//! after it, several milliseconds behind, say, the page's meter fan-out to
//! a thousand browsers. The share of CPU each thread gets is not changed
//! by its slice, only how soon it runs. The HTTP front end's thread gives
//! way instead: a lower weight (nice 10) and the default slice, so that
//! browsers wait when the machine is busy, not the surfaces.
//!
//! Threads inherit both from the thread that spawns them; the audio
//! threads JACK makes realtime are in another class and untouched.

use std::time::Duration;

/// The slice the control threads ask for: the least the kernel takes.
pub const CONTROL_SLICE: Duration = Duration::from_micros(100);
/// Name of the control runtime's threads.
pub const CONTROL_THREADS: &str = "rackd-control";
/// Nice value of the HTTP front end's thread.
pub const WEB_NICE: libc::c_int = 10;

/// Sets the calling thread's EEVDF slice; `None` gives it the default back.
/// Before Linux 6.12 the field is read for SCHED_DEADLINE only (sched_setattr(2)),
/// so an older kernel takes the call and keeps its own slice.
pub fn set_slice(slice: Option<Duration>) -> std::io::Result<()> {
    /// `struct sched_attr` of sched_setattr(2), its first version.
    #[repr(C)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }
    // SAFETY: getpriority on this thread (who = 0); -1 is also a valid nice
    // value, and keeping this thread's nice is all that is wanted.
    let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: libc::SCHED_OTHER as u32,
        flags: 0,
        nice,
        priority: 0,
        runtime: slice.map_or(0, |s| s.as_nanos() as u64),
        deadline: 0,
        period: 0,
    };
    // SAFETY: sched_setattr on the calling thread (pid 0) with a valid,
    // sized struct; a refusal changes nothing.
    match unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr, 0) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// The runtime the daemon runs on: two workers named [`CONTROL_THREADS`]
/// with the [`CONTROL_SLICE`].
pub fn control_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(CONTROL_THREADS)
        .on_thread_start(|| {
            if let Err(e) = set_slice(Some(CONTROL_SLICE)) {
                static TOLD: std::sync::Once = std::sync::Once::new();
                TOLD.call_once(|| {
                    tracing::info!("the control threads keep the default time slice: {e}")
                });
            }
        })
        .enable_all()
        .build()
}

/// Makes the calling thread give way to the control threads: [`WEB_NICE`]
/// and the default slice. A failure only leaves the thread as it was.
pub fn give_way() {
    // SAFETY: setpriority on this thread's own id.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, WEB_NICE);
    }
    let _ = set_slice(None);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slice and nice value the kernel reports for the calling thread.
    fn scheduled() -> (u64, i32) {
        let sched = std::fs::read_to_string("/proc/thread-self/sched").unwrap();
        let slice = sched
            .lines()
            .find_map(|l| l.strip_prefix("se.slice"))
            .and_then(|l| l.split(':').nth(1))
            .expect("se.slice in /proc/thread-self/sched (Linux 6.6 or later)")
            .trim()
            .parse()
            .unwrap();
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // Field 19 of stat is the nice value; the fields after the name start at 3.
        let rest = stat.rsplit_once(") ").unwrap().1;
        let nice = rest.split_whitespace().nth(16).unwrap().parse().unwrap();
        (slice, nice)
    }

    #[test]
    fn control_workers_run_with_the_short_slice_and_the_page_gives_way() {
        let rt = control_runtime().unwrap();
        let (name, (slice, nice)) = rt.block_on(async {
            tokio::spawn(async {
                let name = std::thread::current().name().map(str::to_string);
                (name, scheduled())
            })
            .await
            .unwrap()
        });
        assert_eq!(name.as_deref(), Some(CONTROL_THREADS));
        assert_eq!(slice, CONTROL_SLICE.as_nanos() as u64);
        assert_eq!(nice, 0);

        // A thread spawned from a control worker (as the HTTP front end's
        // is) inherits the slice until it gives way.
        let (inherited, gave_way) = rt.block_on(async {
            tokio::spawn(async {
                std::thread::spawn(|| {
                    let inherited = scheduled();
                    give_way();
                    (inherited, scheduled())
                })
                .join()
                .unwrap()
            })
            .await
            .unwrap()
        });
        assert_eq!(inherited.0, CONTROL_SLICE.as_nanos() as u64);
        let default = std::thread::spawn(|| {
            set_slice(None).unwrap();
            scheduled().0
        })
        .join()
        .unwrap();
        assert!(default > CONTROL_SLICE.as_nanos() as u64);
        assert_eq!(gave_way, (default, WEB_NICE));
    }
}
