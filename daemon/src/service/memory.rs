//! Gives freed heap back to the system. glibc keeps what a burst of clients
//! freed (a flood of packets, hundreds of short connections and leases) in
//! its arenas, so an idle daemon would stay at its high-water mark; trimming
//! now and then brings it back to the size it had before the burst.

/// How often the service trims.
pub const TRIM_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Returns free heap pages to the kernel (glibc; elsewhere nothing to do).
/// Walks every arena under its lock: call it off the audio thread, which
/// never allocates and so never waits for it.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory the allocator holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}
