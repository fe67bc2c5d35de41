//! OSC bundles: their messages handled in order, at once or when their time
//! tag comes, with bounds per client and in all on what may wait.

use super::*;

/// Farthest a bundle may be scheduled ahead.
const MAX_SCHEDULE: Duration = Duration::from_secs(60);
/// Bundles one client (an IP address) may have waiting for their time tag,
/// and their bytes; and all clients together.
const MAX_SCHEDULED_PER_CLIENT: (usize, usize) = (256, 1 << 20);
const MAX_SCHEDULED: (usize, usize) = (4096, 16 << 20);

impl Surface {
    pub(super) async fn bundle(self: Arc<Self>, peer: Peer, bundle: OscBundle) {
        match codec::due_in(bundle.timetag, SystemTime::now()) {
            None => {
                for p in bundle.content {
                    self.clone().handle_packet(peer, p).await;
                }
            }
            Some(delay) if delay > MAX_SCHEDULE => {
                self.bad_packet(
                    peer,
                    &format!(
                        "bundle time tag is {}s ahead; the limit is {}s",
                        delay.as_secs(),
                        MAX_SCHEDULE.as_secs()
                    ),
                );
            }
            Some(delay) => {
                let bytes = codec::encode(&OscPacket::Bundle(bundle.clone())).len();
                if let Err(why) = self.schedule(peer, bytes) {
                    self.bad_packet(peer, &why);
                    return;
                }
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    self.unschedule(peer, bytes);
                    for p in bundle.content {
                        self.clone().handle_packet(peer, p).await;
                    }
                });
            }
        }
    }

    /// Books a bundle of `bytes` for later, within the client's and the
    /// daemon's bounds; else says which bound it hit.
    fn schedule(&self, peer: Peer, bytes: usize) -> Result<(), String> {
        let mut per_client = self.scheduled.lock().unwrap_or_else(|e| e.into_inner());
        let mine = per_client.entry(peer.addr.ip()).or_insert((0, 0));
        let (count, total) = (
            self.stats.scheduled.load(Ordering::Relaxed),
            self.stats.scheduled_bytes.load(Ordering::Relaxed),
        );
        let (max_n, max_b) = MAX_SCHEDULED_PER_CLIENT;
        if mine.0 >= max_n || mine.1 + bytes > max_b {
            return Err(format!(
                "too many bundles scheduled from {} ({} of at most {max_n}, {} of at most {max_b} bytes); \
                 send them nearer their time",
                peer.addr.ip(),
                mine.0,
                mine.1
            ));
        }
        if count >= MAX_SCHEDULED.0 || total + bytes > MAX_SCHEDULED.1 {
            return Err(format!(
                "the daemon holds {count} scheduled bundles ({total} bytes), its limit; \
                 send them nearer their time"
            ));
        }
        mine.0 += 1;
        mine.1 += bytes;
        self.stats.scheduled.fetch_add(1, Ordering::Relaxed);
        self.stats
            .scheduled_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// A scheduled bundle has come due.
    fn unschedule(&self, peer: Peer, bytes: usize) {
        let mut per_client = self.scheduled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = per_client.get_mut(&peer.addr.ip()) {
            mine.0 = mine.0.saturating_sub(1);
            mine.1 = mine.1.saturating_sub(bytes);
            if mine.0 == 0 {
                per_client.remove(&peer.addr.ip());
            }
        }
        self.stats.scheduled.fetch_sub(1, Ordering::Relaxed);
        self.stats
            .scheduled_bytes
            .fetch_sub(bytes, Ordering::Relaxed);
    }
}
