//! Per-client outgoing queues: bounded, and for feedback only the latest value
//! per address is kept, so a slow or vanished client never blocks the others
//! and never makes the daemon's memory grow. OSC clients queue packets; the
//! WebSocket front end queues frames already encoded once for all its clients.

use rosc::OscPacket;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::Notify;

/// Most distinct feedback addresses held for one client.
const MAX_FEEDBACK: usize = 4096;
/// Most replies (errors, query answers) held for one client.
const MAX_REPLIES: usize = 256;

struct Inner<P> {
    /// Feedback addresses in first-queued order.
    order: VecDeque<String>,
    /// Latest feedback packet per address.
    latest: HashMap<String, P>,
    /// Replies in order; never coalesced.
    replies: VecDeque<P>,
    closed: bool,
}

/// One client's queue; the writer task drains it with [`Outbox::next`].
pub struct Outbox<P = OscPacket> {
    inner: Mutex<Inner<P>>,
    ready: Notify,
    /// Packets dropped or replaced because the client did not keep up.
    pub dropped: AtomicU64,
}

impl<P> Default for Outbox<P> {
    fn default() -> Self {
        Outbox {
            inner: Mutex::new(Inner {
                order: VecDeque::new(),
                latest: HashMap::new(),
                replies: VecDeque::new(),
                closed: false,
            }),
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }
}

impl<P> Outbox<P> {
    /// Queues feedback for `address`, replacing a value not yet sent.
    pub fn feedback(&self, address: &str, packet: P) {
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
    pub fn reply(&self, packet: P) {
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
    pub async fn next(&self) -> Option<P> {
        loop {
            match self.take() {
                Taken::Packet(p) => return Some(p),
                Taken::Closed => return None,
                Taken::Empty => self.ready.notified().await,
            }
        }
    }

    /// The next packet if one is queued now (a writer sending a batch).
    pub fn try_next(&self) -> Option<P> {
        match self.take() {
            Taken::Packet(p) => Some(p),
            Taken::Closed | Taken::Empty => None,
        }
    }

    /// Whether [`Outbox::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn take(&self) -> Taken<P> {
        let mut inner = self.lock();
        if inner.closed {
            return Taken::Closed;
        }
        if let Some(p) = inner.replies.pop_front() {
            return Taken::Packet(p);
        }
        while let Some(addr) = inner.order.pop_front() {
            if let Some(p) = inner.latest.remove(&addr) {
                return Taken::Packet(p);
            }
        }
        Taken::Empty
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<P>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What [`Outbox::take`] found.
enum Taken<P> {
    Packet(P),
    Empty,
    Closed,
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
        let o: Outbox = Outbox::default();
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
        let o: Outbox = Outbox::default();
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
