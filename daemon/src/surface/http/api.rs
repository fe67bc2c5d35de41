//! OSC requests over plain HTTP, for scripts and `curl`: `POST /<osc
//! address>` with the message's arguments as a JSON array (`[-3.5]`,
//! `["client/album/01 intro", "first pass"]`, none for a query); the answer
//! is the replies as JSON, each `{"address", "args"}` plus `"json"` for the
//! replies that carry a JSON document. The same request types and the same
//! facade as OSC, so the same hub events. And the page's own endpoints:
//! `/ui/session` (what this client may do) and `/ui/sheet.svg?song=…[&device=…]`
//! (the recall sheet drawn as `rackd ctl sheet --format svg` draws it),
//! `/ui/reports` (`reports.rs`).

use super::auth::{self, Access, COOKIE};
use super::{Http, READ_ONLY, json_response, may};
use crate::hub::HubError;
use crate::outboard::ConfirmError;
use crate::surface::{ReplyTo, ServiceError};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use rackd_protocol::api::{Reply, Request};
use rosc::{OscMessage, OscType};
use serde_json::{Value as Json, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Collects the replies to one request (sent to the sender); notices go to
/// every front end's subscribers through the hub.
struct Collect {
    http: Arc<Http>,
    replies: Mutex<Vec<Reply>>,
}

impl ReplyTo for Collect {
    fn reply(&self, reply: Reply) {
        self.replies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reply);
    }

    fn broadcast(&self, reply: Reply) {
        self.http
            .service
            .hub()
            .notify(crate::hub::Event::Notice(reply));
    }
}

/// A JSON argument as an OSC argument (integers stay integers).
fn osc_arg(v: &Json) -> Result<OscType, String> {
    Ok(match v {
        Json::Bool(b) => OscType::Bool(*b),
        Json::String(s) => OscType::String(s.clone()),
        Json::Number(n) => match n.as_i64() {
            Some(i) => match i32::try_from(i) {
                Ok(i) => OscType::Int(i),
                Err(_) => OscType::Long(i),
            },
            None => OscType::Float(n.as_f64().unwrap_or(f64::NAN) as f32),
        },
        other => {
            return Err(format!(
                "{other} is not an OSC argument (number, string, bool)"
            ));
        }
    })
}

fn arg_json(a: &OscType) -> Json {
    match a {
        OscType::Int(i) => json!(i),
        OscType::Long(i) => json!(i),
        OscType::Float(x) => json!(x),
        OscType::Double(x) => json!(x),
        OscType::String(s) => json!(s),
        OscType::Bool(b) => json!(b),
        _ => Json::Null,
    }
}

/// A reply as JSON; replies that carry a JSON document also have it parsed.
fn reply_json(reply: &Reply) -> Json {
    let m = reply.to_message();
    let mut out = json!({
        "address": m.addr,
        "args": m.args.iter().map(arg_json).collect::<Vec<_>>(),
    });
    let carries_json = matches!(
        reply,
        Reply::RecallReport(_)
            | Reply::Sheet(_)
            | Reply::List(_)
            | Reply::History(_)
            | Reply::Diff(_)
            | Reply::Export(_)
            | Reply::Imported(_)
            | Reply::Describe(_)
            | Reply::Info(_)
            | Reply::Status(_)
            | Reply::PrintDone(_)
    );
    if carries_json
        && let [OscType::String(text)] = m.args.as_slice()
        && let Ok(doc) = serde_json::from_str::<Json>(text)
    {
        out["json"] = doc;
    }
    out
}

/// The HTTP status of a refusal.
fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::Hub(HubError::UnknownAddress(_)) => StatusCode::NOT_FOUND,
        ServiceError::Hub(HubError::Stopped) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Confirm(ConfirmError::NoDevice(_)) => StatusCode::NOT_FOUND,
        // The device is there, but not in a state that takes a confirmation.
        ServiceError::Confirm(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn error(status: StatusCode, address: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({ "error": { "address": address, "message": message } }),
    )
}

impl Http {
    /// `POST /<osc address>`.
    pub(super) async fn post(
        self: &Arc<Self>,
        path: &str,
        body: &[u8],
        access: Access,
        peer: SocketAddr,
    ) -> Response {
        let args: Vec<Json> = if body.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            match serde_json::from_slice::<Json>(body) {
                Ok(Json::Array(items)) => items,
                Ok(one @ (Json::Number(_) | Json::String(_) | Json::Bool(_))) => vec![one],
                Ok(_) | Err(_) => {
                    tracing::warn!("HTTP POST from {peer} to {path}: body is not a JSON array");
                    return error(
                        StatusCode::BAD_REQUEST,
                        path,
                        "the body is the OSC arguments as a JSON array, e.g. [-3.5]",
                    );
                }
            }
        };
        let args = match args.iter().map(osc_arg).collect::<Result<Vec<_>, _>>() {
            Ok(a) => a,
            Err(e) => return error(StatusCode::BAD_REQUEST, path, &e),
        };
        let msg = OscMessage {
            addr: path.to_string(),
            args,
        };
        let request = match Request::parse(&msg) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("HTTP POST from {peer}: {path}: {}", e.message);
                return error(StatusCode::BAD_REQUEST, path, &e.message);
            }
        };
        if !may(access, &request) {
            self.refuse_read_only(peer, path);
            return error(StatusCode::FORBIDDEN, path, READ_ONLY);
        }
        match self.collect(request, peer).await {
            Ok(replies) => json_response(
                StatusCode::OK,
                &Json::Array(replies.iter().map(reply_json).collect()),
            ),
            Err(e) => {
                tracing::warn!("HTTP POST from {peer}: {path}: {e}");
                error(status_of(&e), path, &e.to_string())
            }
        }
    }

    /// Handles a request and returns what it answered its sender.
    async fn collect(
        self: &Arc<Self>,
        request: Request,
        peer: SocketAddr,
    ) -> Result<Vec<Reply>, ServiceError> {
        Ok(match request {
            Request::Param {
                address,
                norm,
                value: None,
            } => self.service.get(&address, norm).await?,
            Request::Param {
                address,
                norm,
                value: Some(value),
            } => self
                .service
                .set(&address, value, norm, peer)
                .await?
                .into_iter()
                .map(|(address, value)| Reply::Value { address, value })
                .collect(),
            Request::Subscribe { .. } | Request::Unsubscribe { .. } => {
                return Err(ServiceError::Refused(
                    "subscriptions need a connection: LISTEN on the WebSocket, or OSC".into(),
                ));
            }
            Request::Ping { args } => vec![Reply::Pong(args)],
            Request::Info => vec![Reply::Info(
                self.service.info(&self.surface.local_addr().to_string()),
            )],
            Request::Status => {
                let (clients, osc) = self.surface.counts();
                vec![Reply::Status(Box::new(self.service.status(clients, osc)))]
            }
            other => {
                let to = Arc::new(Collect {
                    http: self.clone(),
                    replies: Mutex::new(Vec::new()),
                });
                self.service.handle(other, peer, to.clone()).await?;
                std::mem::take(&mut *to.replies.lock().unwrap_or_else(|e| e.into_inner()))
            }
        })
    }

    /// Everything under `/ui`.
    pub(super) async fn ui(
        self: &Arc<Self>,
        parts: &Parts,
        path: &str,
        query: &str,
        access: Access,
        peer: SocketAddr,
    ) -> Response {
        if parts.method != axum::http::Method::GET && parts.method != axum::http::Method::HEAD {
            return auth::refuse(StatusCode::METHOD_NOT_ALLOWED, "the page is read with GET");
        }
        // A link with ?token=… keeps the token in a cookie and drops it from the address bar.
        if let Some(token) = auth::query_token(query)
            && self.auth.has_tokens()
        {
            let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
            return (
                StatusCode::SEE_OTHER,
                [
                    (header::SET_COOKIE, cookie),
                    (header::LOCATION, path.to_string()),
                ],
            )
                .into_response();
        }
        match path {
            "/ui" => (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/ui/")]).into_response(),
            "/ui/session" => json_response(
                StatusCode::OK,
                &json!({
                    "access": access.name(),
                    "name": self.name,
                    "version": env!("CARGO_PKG_VERSION"),
                    "osc": self.surface.local_addr().to_string(),
                }),
            ),
            "/ui/sheet.svg" => self.sheet_svg(query, peer).await,
            "/ui/reports" => super::reports::serve_list(&self.reports_dir, peer).await,
            _ if path.starts_with("/ui/reports/") => {
                let name = &path["/ui/reports/".len()..];
                super::reports::serve_one(&self.reports_dir, name, peer).await
            }
            _ => super::assets::serve(path, peer),
        }
    }

    /// The recall sheet of `?song=…` drawn as SVG; with `&device=…`, that
    /// device's panel only (each card on the page shows its own).
    async fn sheet_svg(self: &Arc<Self>, query: &str, peer: SocketAddr) -> Response {
        let song = query_value(query, "song").unwrap_or_else(|| "current".into());
        let device = query_value(query, "device");
        match self
            .collect(Request::Sheet { song: song.clone() }, peer)
            .await
        {
            Ok(replies) => match replies.into_iter().next() {
                Some(Reply::Sheet(mut sheet)) => {
                    if let Some(device) = &device {
                        sheet.devices.retain(|d| &d.device == device);
                        if sheet.devices.is_empty() {
                            return error(
                                StatusCode::NOT_FOUND,
                                device,
                                "no hand-set device of that id has a recall sheet",
                            );
                        }
                    }
                    (
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "image/svg+xml")],
                        crate::outboard::sheet::render_svg(&sheet),
                    )
                        .into_response()
                }
                _ => auth::refuse(StatusCode::INTERNAL_SERVER_ERROR, "no sheet came back"),
            },
            Err(e) => error(status_of(&e), &song, &e.to_string()),
        }
    }
}

/// The decoded value of `key=` in a query string.
fn query_value(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|p| p.strip_prefix(key)?.strip_prefix('='))
        .map(percent_decode)
}

/// `%XX` and `+` in a query value.
pub(super) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(b)) => {
                out.push(b);
                i += 2;
            }
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(
            percent_decode("client%2Falbum%2F01+intro"),
            "client/album/01 intro"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }

    #[test]
    fn json_arguments_keep_their_kind() {
        assert_eq!(osc_arg(&json!(3)), Ok(OscType::Int(3)));
        assert_eq!(osc_arg(&json!(3.5)), Ok(OscType::Float(3.5)));
        assert_eq!(osc_arg(&json!("bell")), Ok(OscType::String("bell".into())));
        assert!(osc_arg(&json!({"a": 1})).is_err());
        assert!(osc_arg(&Json::Null).is_err());
    }

    #[test]
    fn refusals_have_the_status_a_client_can_act_on() {
        let confirm = |e| status_of(&ServiceError::Confirm(e));
        assert_eq!(
            confirm(ConfirmError::NoDevice("eq".into())),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            confirm(ConfirmError::NothingWaiting("eq".into())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            confirm(ConfirmError::NotManual("eq".into())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status_of(&ServiceError::Hub(HubError::Stopped)),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status_of(&ServiceError::Refused("no".into())),
            StatusCode::BAD_REQUEST
        );
    }
}
