//! Per-client outgoing queues: bounded, and for feedback only the latest value
//! per address is kept, so a slow or vanished client never blocks the others
//! and never makes the daemon's memory grow.

use rosc::OscPacket;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// Most distinct feedback addresses held for one client.
const MAX_FEEDBACK: usize = 4096;
/// Most replies (errors, query answers) held for one client.
const MAX_REPLIES: usize = 256;

#[derive(Default)]
struct Inner {
    /// Feedback addresses in first-queued order.
    order: VecDeque<String>,
    /// Latest feedback packet per address.
    latest: HashMap<String, OscPacket>,
    /// Replies in order; never coalesced.
    replies: VecDeque<OscPacket>,
    closed: bool,
}

/// One client's queue; the writer task drains it with [`Outbox::next`].
#[derive(Default)]
pub struct Outbox {
    inner: Mutex<Inner>,
    ready: Notify,
    /// Packets dropped or replaced because the client did not keep up.
    pub dropped: AtomicU64,
}

impl Outbox {
    /// Queues feedback for `address`, replacing a value not yet sent.
    pub fn feedback(&self, address: &str, packet: OscPacket) {
        {
            let mut inner = self.lock();
            if inner.closed {
                return;
            }
            if inner.latest.insert(address.to_string(), packet).is_some() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            } else if inner.order.len() >= MAX_FEEDBACK {
                if let Some(old) = inner.order.pop_front() {
                    inner.latest.remove(&old);
                }
                inner.order.push_back(address.to_string());
                self.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                inner.order.push_back(address.to_string());
            }
        }
        self.ready.notify_one();
    }

    /// Queues a reply (dropping the oldest when the client is far behind).
    pub fn reply(&self, packet: OscPacket) {
        {
            let mut inner = self.lock();
            if inner.closed {
                return;
            }
            if inner.replies.len() >= MAX_REPLIES {
                inner.replies.pop_front();
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            inner.replies.push_back(packet);
        }
        self.ready.notify_one();
    }

    /// Stops the writer: `next` returns `None` from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Waits for the next packet to send; replies go first.
    pub async fn next(&self) -> Option<OscPacket> {
        loop {
            {
                let mut inner = self.lock();
                if inner.closed {
                    return None;
                }
                if let Some(p) = inner.replies.pop_front() {
                    return Some(p);
                }
                while let Some(addr) = inner.order.pop_front() {
                    if let Some(p) = inner.latest.remove(&addr) {
                        return Some(p);
                    }
                }
            }
            self.ready.notified().await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosc::{OscMessage, OscType};

    fn msg(addr: &str, v: f32) -> OscPacket {
        OscPacket::Message(OscMessage {
            addr: addr.into(),
            args: vec![OscType::Float(v)],
        })
    }

    #[tokio::test]
    async fn keeps_latest_value_per_address() {
        let o = Outbox::default();
        for i in 0..1000 {
            o.feedback("/a", msg("/a", i as f32));
        }
        o.feedback("/b", msg("/b", 1.0));
        o.reply(msg("/rackd/error", 0.0));
        assert_eq!(o.next().await, Some(msg("/rackd/error", 0.0)));
        assert_eq!(o.next().await, Some(msg("/a", 999.0)));
        assert_eq!(o.next().await, Some(msg("/b", 1.0)));
        assert_eq!(o.dropped.load(Ordering::Relaxed), 999);
    }

    #[tokio::test]
    async fn bounded_when_client_never_reads() {
        let o = Outbox::default();
        for i in 0..(MAX_FEEDBACK * 3) {
            o.feedback(&format!("/p/{i}"), msg("/x", 0.0));
        }
        for _ in 0..(MAX_REPLIES * 3) {
            o.reply(msg("/r", 0.0));
        }
        let inner = o.lock();
        assert!(inner.latest.len() <= MAX_FEEDBACK && inner.order.len() <= MAX_FEEDBACK);
        assert!(inner.replies.len() <= MAX_REPLIES);
    }
}
