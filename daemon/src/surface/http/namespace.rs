//! The rack as an OSCQuery namespace: every parameter of `/chain`,
//! `/outboard` and `/monitor` in real units (as `rackd ctl describe` has
//! them), the meters as read-only streams, and containers that say where a
//! slot plays and how a device is doing.

use super::{Http, json_response};
use crate::surface::ServiceError;
use crate::surface::meters;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rackd_protocol::oscquery::{HostInfo, Leaf, Namespace};
use std::collections::BTreeMap;

impl Http {
    /// `GET /path[?ATTRIBUTE]`.
    pub(super) async fn oscquery(&self, path: &str, query: &str) -> Response {
        let attributes: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("token="))
            .collect();
        let attribute = match attributes.as_slice() {
            [] => None,
            [one] => Some(*one),
            _ => {
                return super::auth::refuse(
                    StatusCode::BAD_REQUEST,
                    "ask for one attribute at a time (/path?VALUE)",
                );
            }
        };
        if attribute == Some("HOST_INFO") {
            return json_response(StatusCode::OK, &self.host_info().to_json());
        }
        let namespace = match self.namespace().await {
            Ok(ns) => ns,
            Err(e) => {
                return super::auth::refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
            }
        };
        let answer = match attribute {
            None => namespace.get_text(path),
            Some(a) => namespace
                .attribute(path, a)
                .map(|j| j.to_string().into_bytes()),
        };
        match answer {
            Ok(text) => (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                text,
            )
                .into_response(),
            Err(e) => match e.status() {
                204 => StatusCode::NO_CONTENT.into_response(),
                code => super::auth::refuse(
                    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
                    &e.to_string(),
                ),
            },
        }
    }

    /// `?HOST_INFO`.
    fn host_info(&self) -> HostInfo {
        let osc = self.surface.local_addr();
        HostInfo {
            name: self.name.clone(),
            osc_ip: (!osc.ip().is_unspecified()).then(|| osc.ip().to_string()),
            osc_port: osc.port(),
            ws_port: self.local.port(),
        }
    }

    /// The namespace as it is now.
    pub(super) async fn namespace(&self) -> Result<Namespace, ServiceError> {
        let hub = self.service.hub();
        let state = hub.state().await?;
        let tree = hub.tree();
        let describe = tree.describe(&state);
        let mut leaves: Vec<Leaf> = describe.params.iter().map(Leaf::param).collect();
        let frame = self.service.meters().borrow().clone();
        let mut containers = BTreeMap::new();
        for r in &frame.readings {
            let mut parts = r.address.rsplit('/');
            let (quantity, point) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (what, unit) = meters::describe(quantity);
            leaves.push(Leaf::meter(&r.address, &r.values, unit, what));
            containers.insert(format!("/meter/{point}"), format!("meter point {point}"));
        }
        let layout = tree.layout(&state);
        let playing: Vec<&str> = layout
            .iter()
            .map(|&i| tree.slots()[i].id.as_str())
            .collect();
        containers.insert(
            "/chain".into(),
            format!("the DSP chain; plays {}", playing.join(" → ")),
        );
        for (i, slot) in tree.slots().iter().enumerate() {
            let place = match layout.iter().position(|&s| s == i) {
                Some(n) => format!("plays {} of {}", n + 1, layout.len()),
                None => "not in the chain".into(),
            };
            containers.insert(
                format!("/chain/{}", slot.id),
                format!("{} slot, {place}", slot.kind.name()),
            );
        }
        containers.insert("/outboard".into(), "analog outboard gear".into());
        let states = self.service.devices();
        for d in &describe.devices {
            let state = states
                .iter()
                .find(|s| s.id == d.id)
                .map(|s| match &s.error {
                    Some(why) => format!("{}: {why}", s.state),
                    None => s.state.clone(),
                })
                .unwrap_or_default();
            containers.insert(
                format!("/outboard/{}", d.id),
                format!("{} {} ({}), {state}", d.vendor, d.model, d.profile),
            );
        }
        containers.insert(
            "/monitor".into(),
            "the monitor section (a recall leaves it alone)".into(),
        );
        containers.insert(
            "/meter".into(),
            "meters, about 25 Hz (LISTEN to stream them)".into(),
        );
        Ok(Namespace::new(
            &format!("{} (rackd {})", self.name, env!("CARGO_PKG_VERSION")),
            leaves,
            &containers,
        ))
    }
}
