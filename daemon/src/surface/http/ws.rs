//! WebSocket connections, as OSCQuery has them: `LISTEN`/`IGNORE` in JSON
//! text frames, OSC packets in binary frames both ways. A binary frame is
//! any OSC message of the address space (a set, a query, `/rackd/…`), so
//! the page is an OSC client like any other; replies come back on the same
//! connection. Each connection has its own bounded, keep-latest outbox and
//! writer task: a slow or vanished browser never holds the hub or another
//! client, and one that says nothing for [`IDLE`] is dropped.

use super::auth::Access;
use super::{Http, READ_ONLY, may};
use crate::surface::outbox::Outbox;
use crate::surface::{ReplyTo, ServiceError};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use rackd_protocol::api::address as addr;
use rackd_protocol::api::{Reply, Request};
use rackd_protocol::osc::codec;
use rackd_protocol::osc::pattern::Pattern;
use rackd_protocol::oscquery::WsCommand;
use rosc::{OscMessage, OscPacket};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Most WebSocket clients at once.
const MAX_CLIENTS: usize = 2048;
/// Largest frame or message a client may send: an OSC packet, as over UDP.
pub(super) const MAX_MESSAGE: usize = codec::MAX_PACKET;
/// A connection that sends nothing (not even a pong) for this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// How often the server pings, so that live browsers answer within [`IDLE`].
const PING_EVERY: Duration = Duration::from_secs(10);
/// Most frames a writer sends before it flushes.
const BATCH: usize = 512;
/// Most LISTENs one client may hold.
const MAX_LISTENS: usize = 4096;
/// Farthest a bundle may be scheduled ahead.
const MAX_SCHEDULE: Duration = Duration::from_secs(60);
/// Key of a client's meter frame in its outbox (never an OSC address).
pub(super) const METERS: &str = "#meters";

/// What a client listens to.
#[derive(Default)]
struct Listens {
    /// Exact addresses (OSCQuery's LISTEN).
    exact: HashSet<String>,
    /// OSC patterns (rackd's extension: LISTEN `/chain/*/gain`).
    patterns: Vec<(String, Pattern)>,
    /// `/rackd/subscribe` without patterns: every parameter and notice, no meters.
    everything: bool,
}

/// One WebSocket client.
pub(super) struct Client {
    pub(super) peer: SocketAddr,
    pub(super) access: Access,
    listens: RwLock<Listens>,
    /// For each address of the meter feed, whether it listens to it.
    meter_mask: RwLock<Arc<[bool]>>,
    /// Whether it listens to anything but meters: every hub event asks
    /// this first, so a thousand meter-only pages cost it next to nothing.
    beyond_meters: AtomicBool,
    pub(super) outbox: Outbox<Message>,
}

impl Listens {
    fn wants(&self, address: &str) -> bool {
        self.wants_exactly(address) || (self.everything && !address.starts_with(addr::METER_PREFIX))
    }

    fn wants_exactly(&self, address: &str) -> bool {
        self.exact.contains(address) || self.patterns.iter().any(|(_, p)| p.matches(address))
    }

    /// Whether anything outside `/meter/` can match: a pattern whose text
    /// starts with that prefix matches nothing else.
    fn beyond_meters(&self) -> bool {
        self.everything
            || self
                .exact
                .iter()
                .any(|a| !a.starts_with(addr::METER_PREFIX))
            || self
                .patterns
                .iter()
                .any(|(text, _)| !text.starts_with(addr::METER_PREFIX))
    }
}

impl Client {
    fn listens(&self) -> std::sync::RwLockReadGuard<'_, Listens> {
        self.listens.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether it gets what is sent to `address`.
    pub(super) fn wants(&self, address: &str) -> bool {
        self.listens().wants(address)
    }

    /// Whether it asked for `address` itself (normalized feedback).
    pub(super) fn wants_exactly(&self, address: &str) -> bool {
        self.listens().wants_exactly(address)
    }

    /// [`Client::wants`] of a parameter's `address` and
    /// [`Client::wants_exactly`] of its `norm_address`, under one lock
    /// (every value change asks this of every client).
    pub(super) fn wants_value(&self, address: &str, norm_address: &str) -> (bool, bool) {
        let l = self.listens();
        (l.wants(address), l.wants_exactly(norm_address))
    }

    /// Whether a parameter or notice can be for it (see [`Listens::beyond_meters`]).
    pub(super) fn listens_beyond_meters(&self) -> bool {
        self.beyond_meters.load(Ordering::Relaxed)
    }

    /// Which meter addresses it listens to.
    pub(super) fn meter_mask(&self) -> Arc<[bool]> {
        self.meter_mask
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// After its listens changed: which meters, and whether anything else.
    fn listens_changed(&self, meters: &[Arc<str>]) {
        let mask: Arc<[bool]> = meters.iter().map(|a| self.wants_exactly(a)).collect();
        *self.meter_mask.write().unwrap_or_else(|e| e.into_inner()) = mask;
        self.beyond_meters
            .store(self.listens().beyond_meters(), Ordering::Relaxed);
    }

    /// A reply to this client only.
    fn send(&self, reply: &Reply) {
        self.outbox
            .reply(binary(&OscPacket::Message(reply.to_message())));
    }

    fn error(&self, address: &str, message: &str) {
        self.send(&Reply::Error {
            address: address.into(),
            message: message.into(),
        });
    }
}

/// An OSC packet as a binary frame.
pub(super) fn binary(packet: &OscPacket) -> Message {
    Message::Binary(codec::encode(packet).into())
}

/// Replies to the client that asked, notices to every front end's subscribers.
struct WsReplyTo {
    http: Arc<Http>,
    client: Arc<Client>,
}

impl ReplyTo for WsReplyTo {
    fn reply(&self, reply: Reply) {
        self.client.send(&reply);
    }

    fn broadcast(&self, reply: Reply) {
        self.http
            .service
            .hub()
            .notify(crate::hub::Event::Notice(reply));
    }
}

impl Http {
    /// Accepts a WebSocket (up to [`MAX_CLIENTS`]).
    pub(super) fn upgrade(
        self: &Arc<Self>,
        upgrade: WebSocketUpgrade,
        peer: SocketAddr,
        access: Access,
    ) -> Response {
        if self.lock_clients().len() >= MAX_CLIENTS {
            tracing::warn!("WebSocket from {peer}: {MAX_CLIENTS} clients already; refused");
            return super::auth::refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many WebSocket clients",
            );
        }
        let http = self.clone();
        upgrade
            .max_message_size(MAX_MESSAGE)
            .max_frame_size(MAX_MESSAGE)
            .on_failed_upgrade(move |e| tracing::debug!("WebSocket from {peer}: {e}"))
            .on_upgrade(move |socket| http.connection(socket, peer, access))
    }

    async fn connection(self: Arc<Self>, socket: WebSocket, peer: SocketAddr, access: Access) {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed);
        let client = Arc::new(Client {
            peer,
            access,
            listens: RwLock::new(Listens::default()),
            meter_mask: RwLock::new(Arc::from(Vec::new())),
            beyond_meters: AtomicBool::new(false),
            outbox: Outbox::default(),
        });
        self.clients
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, client.clone());
        tracing::debug!("WebSocket {id} from {peer} ({})", access.name());
        let (mut sink, mut stream) = socket.split();
        let queue = client.clone();
        let writer = tokio::spawn(async move {
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.tick().await;
            loop {
                let first = tokio::select! {
                    m = queue.outbox.next() => match m {
                        Some(m) => m,
                        None => break,
                    },
                    _ = ping.tick() => Message::Ping(Default::default()),
                };
                if sink.feed(first).await.is_err() {
                    return;
                }
                for _ in 1..BATCH {
                    let Some(m) = queue.outbox.try_next() else {
                        break;
                    };
                    if sink.feed(m).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        });
        loop {
            let message = match tokio::time::timeout(IDLE, stream.next()).await {
                Err(_) => {
                    tracing::info!(
                        "WebSocket from {peer}: nothing heard for {}s; closed",
                        IDLE.as_secs()
                    );
                    break;
                }
                Ok(None) | Ok(Some(Ok(Message::Close(_)))) => break,
                Ok(Some(Err(e))) => {
                    tracing::warn!("WebSocket from {peer}: {e}; closed");
                    break;
                }
                Ok(Some(Ok(m))) => m,
            };
            match message {
                Message::Text(text) => self.command(&client, &text),
                Message::Binary(bytes) => match codec::decode_with_limit(&bytes, MAX_MESSAGE) {
                    Ok(packet) => self.clone().packet(client.clone(), packet).await,
                    Err(e) => {
                        tracing::warn!("WebSocket from {peer}: bad OSC packet: {e}");
                        client.error("", &e.to_string());
                    }
                },
                Message::Ping(_) | Message::Pong(_) | Message::Close(_) => {}
            }
        }
        self.clients
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        self.dropped_gone.fetch_add(
            client.outbox.dropped.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
        // Let queued replies go out; a writer stuck on a dead peer is stopped.
        client.outbox.close();
        let abort = writer.abort_handle();
        if tokio::time::timeout(Duration::from_millis(500), writer)
            .await
            .is_err()
        {
            abort.abort();
        }
        tracing::debug!("WebSocket {id} from {peer} gone");
    }

    /// A JSON command: LISTEN or IGNORE.
    fn command(&self, client: &Client, text: &str) {
        let command = match WsCommand::parse(text) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("WebSocket from {}: {e}", client.peer);
                client.error("", &e);
                return;
            }
        };
        let result = match &command {
            WsCommand::Listen(a) => self.listen(client, std::slice::from_ref(a)),
            WsCommand::Ignore(a) => {
                let mut l = client.listens.write().unwrap_or_else(|e| e.into_inner());
                l.exact.remove(a);
                l.patterns.retain(|(text, _)| text != a);
                Ok(())
            }
        };
        match result {
            Ok(()) => client.listens_changed(&self.meter_addresses()),
            Err(e) => {
                tracing::warn!("WebSocket from {}: {e}", client.peer);
                client.error("", &e);
            }
        }
    }

    /// Adds addresses (or patterns) to what a client listens to.
    fn listen(&self, client: &Client, addresses: &[String]) -> Result<(), String> {
        let mut l = client.listens.write().unwrap_or_else(|e| e.into_inner());
        for a in addresses {
            if l.exact.len() + l.patterns.len() >= MAX_LISTENS {
                return Err(format!("at most {MAX_LISTENS} LISTENs per connection"));
            }
            if a.contains(['*', '?', '[', '{']) {
                let p = Pattern::parse(a).map_err(|e| format!("pattern {a:?}: {e}"))?;
                if !l.patterns.iter().any(|(t, _)| t == a) {
                    l.patterns.push((a.clone(), p));
                }
            } else {
                l.exact.insert(a.clone());
            }
        }
        Ok(())
    }

    fn meter_addresses(&self) -> Vec<Arc<str>> {
        self.service
            .meters()
            .borrow()
            .readings
            .iter()
            .map(|r| r.address.clone())
            .collect()
    }

    /// An OSC packet from a client: messages in order, bundles at their time.
    fn packet(
        self: Arc<Self>,
        client: Arc<Client>,
        packet: OscPacket,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        Box::pin(async move {
            match packet {
                OscPacket::Message(m) => self.dispatch(&client, m).await,
                OscPacket::Bundle(b) => match codec::due_in(b.timetag, SystemTime::now()) {
                    None => {
                        for p in b.content {
                            self.clone().packet(client.clone(), p).await;
                        }
                    }
                    Some(delay) if delay > MAX_SCHEDULE => client.error(
                        "",
                        &format!(
                            "bundle time tag is {}s ahead; the limit is {}s",
                            delay.as_secs(),
                            MAX_SCHEDULE.as_secs()
                        ),
                    ),
                    Some(delay) => {
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            for p in b.content {
                                self.clone().packet(client.clone(), p).await;
                            }
                        });
                    }
                },
            }
        })
    }

    /// One OSC message; a failure is answered with `/rackd/error` and logged.
    async fn dispatch(self: &Arc<Self>, client: &Arc<Client>, msg: OscMessage) {
        let result = match Request::parse(&msg) {
            Ok(request) if !may(client.access, &request) => {
                self.refuse_read_only(client.peer, &msg.addr);
                Err(READ_ONLY.to_string())
            }
            Ok(request) => self
                .request(client, request)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.message),
        };
        if let Err(message) = result {
            tracing::warn!("WebSocket from {}: {}: {message}", client.peer, msg.addr);
            client.error(&msg.addr, &message);
        }
    }

    async fn request(
        self: &Arc<Self>,
        client: &Arc<Client>,
        request: Request,
    ) -> Result<(), ServiceError> {
        match request {
            Request::Param {
                address,
                norm,
                value: None,
            } => {
                for reply in self.service.get(&address, norm).await? {
                    client.send(&reply);
                }
            }
            Request::Param {
                address,
                norm,
                value: Some(value),
            } => {
                let taken = self.service.set(&address, value, norm, client.peer).await?;
                // A client that listens learns the value taken from its feedback.
                for (address, value) in taken {
                    if !client.wants(&address) {
                        client.send(&Reply::Value { address, value });
                    }
                }
            }
            Request::Subscribe { patterns, .. } => {
                if patterns.is_empty() {
                    client
                        .listens
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .everything = true;
                } else {
                    self.listen(client, &patterns)
                        .map_err(ServiceError::Refused)?;
                }
                client.listens_changed(&self.meter_addresses());
                // Held for the connection's life: no lease to renew.
                client.send(&Reply::Subscribed { lease_s: 0 });
            }
            Request::Unsubscribe { .. } => {
                *client.listens.write().unwrap_or_else(|e| e.into_inner()) = Listens::default();
                client.listens_changed(&self.meter_addresses());
                client.send(&Reply::Unsubscribed);
            }
            Request::Ping { args } => client.send(&Reply::Pong(args)),
            Request::Info => client.send(&Reply::Info(
                self.service.info(&self.surface.local_addr().to_string()),
            )),
            Request::Status => {
                let (clients, osc) = self.surface.counts();
                client.send(&Reply::Status(Box::new(self.service.status(clients, osc))));
            }
            other => {
                let to = Arc::new(WsReplyTo {
                    http: self.clone(),
                    client: client.clone(),
                });
                self.service.handle(other, client.peer, to).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening(exact: &[&str], patterns: &[&str], everything: bool) -> Listens {
        Listens {
            exact: exact.iter().map(|a| a.to_string()).collect(),
            patterns: patterns
                .iter()
                .map(|p| (p.to_string(), Pattern::parse(p).unwrap()))
                .collect(),
            everything,
        }
    }

    #[test]
    fn meter_only_listens_are_told_apart_from_the_rest() {
        assert!(!listening(&[], &[], false).beyond_meters());
        assert!(!listening(&["/meter/in/peak"], &["/meter/*/*"], false).beyond_meters());
        assert!(listening(&["/chain/trim/gain"], &[], false).beyond_meters());
        assert!(listening(&[], &["/meter/*/*", "/*/in/peak"], false).beyond_meters());
        assert!(listening(&[], &["/*"], false).beyond_meters());
        assert!(listening(&[], &[], true).beyond_meters());
        // What a meter-only client is skipped for, it could not want.
        let meters = listening(&["/meter/out/rms"], &["/meter/*/*"], false);
        for address in ["/chain/trim/gain", "/monitor/level", "/rackd/saved"] {
            assert!(!meters.wants(address), "{address}");
        }
    }
}
