//! The rack as an OSCQuery namespace: every parameter of `/chain`,
//! `/outboard` and `/monitor` in real units (as `rackd ctl describe` has
//! them), the meters as read-only streams, and containers that say where a
//! slot plays and how a device is doing.

use super::{Http, json_response};
use crate::rack::ParamTree;
use crate::surface::ServiceError;
use crate::surface::meters::{self, MeterFrame};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rackd_protocol::api::DeviceStatus;
use rackd_protocol::oscquery::{HostInfo, Leaf, LeafValue, Namespace, Skeleton};
use rackd_protocol::param::Value;
use rackd_protocol::state::RackState;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
        let unavailable =
            |e: ServiceError| super::auth::refuse(StatusCode::SERVICE_UNAVAILABLE, &e.to_string());
        let answer = if attribute.is_none() && path.split('/').all(str::is_empty) {
            match self.root_text().await {
                Ok(text) => Ok(text),
                Err(e) => return unavailable(e),
            }
        } else {
            let namespace = match self.namespace().await {
                Ok(ns) => ns,
                Err(e) => return unavailable(e),
            };
            match attribute {
                None => namespace.get_text(path),
                Some(a) => namespace
                    .attribute(path, a)
                    .map(|j| j.to_string().into_bytes()),
            }
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
        let state = self.service.hub().state().await?;
        let meters = self.service.meters().borrow().clone();
        let devices = self.service.devices();
        Ok(self.now(&state, &devices, &meters).namespace())
    }

    /// `GET /` as it is now: the kept text with the current values.
    pub(super) async fn root_text(&self) -> Result<Vec<u8>, ServiceError> {
        let state = self.service.hub().state().await?;
        let meters = self.service.meters().borrow().clone();
        let devices = self.service.devices();
        Ok(self
            .namespace_root
            .text(&self.now(&state, &devices, &meters)))
    }

    fn now<'a>(
        &'a self,
        state: &'a RackState,
        devices: &'a [DeviceStatus],
        meters: &'a MeterFrame,
    ) -> Now<'a> {
        Now {
            name: &self.name,
            tree: self.service.hub().tree(),
            state,
            devices,
            meters,
        }
    }
}

/// What the namespace is made of at one moment.
struct Now<'a> {
    name: &'a str,
    tree: &'a ParamTree,
    state: &'a RackState,
    devices: &'a [DeviceStatus],
    meters: &'a MeterFrame,
}

impl Now<'_> {
    /// The namespace, built from nothing.
    fn namespace(&self) -> Namespace {
        let tree = self.tree;
        let describe = tree.describe(self.state);
        let mut leaves: Vec<Leaf> = describe.params.iter().map(Leaf::param).collect();
        let mut containers = BTreeMap::new();
        for r in &self.meters.readings {
            let mut parts = r.address.rsplit('/');
            let (quantity, point) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let (what, unit) = meters::describe(quantity);
            leaves.push(Leaf::meter(&r.address, &r.values, unit, what));
            containers.insert(format!("/meter/{point}"), format!("meter point {point}"));
        }
        let layout = tree.layout(self.state);
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
        for d in &describe.devices {
            let state = self
                .devices
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
        Namespace::new(
            &format!("{} (rackd {})", self.name, env!("CARGO_PKG_VERSION")),
            leaves,
            &containers,
        )
    }
}

/// What the namespace's text holds besides values: the slots' play order
/// (`PATH_CHANGED /chain`), the devices' states (`PATH_CHANGED
/// /outboard/<device>`) and which meters there are with how many readings
/// each. The parameters and devices themselves are fixed with the tree.
#[derive(Debug, PartialEq)]
struct Shape {
    layout: Vec<usize>,
    devices: Vec<DeviceStatus>,
    meters: Vec<(Arc<str>, usize)>,
}

impl Shape {
    fn of(now: &Now) -> Shape {
        Shape {
            layout: now.tree.layout(now.state),
            devices: now.devices.to_vec(),
            meters: now
                .meters
                .readings
                .iter()
                .map(|r| (r.address.clone(), r.values.len()))
                .collect(),
        }
    }

    /// Whether `now` has this shape (without copying it).
    fn holds(&self, now: &Now) -> bool {
        self.devices == now.devices
            && self.meters.iter().map(|(a, n)| (&**a, *n)).eq(now
                .meters
                .readings
                .iter()
                .map(|r| (&*r.address, r.values.len())))
            && self.layout == now.tree.layout(now.state)
    }
}

/// Where a leaf's value comes from.
enum Source {
    /// A parameter: its value in the state, else its default.
    Param { address: String, default: Value },
    /// The meter frame's `n`th reading.
    Meter(usize),
}

/// `GET /` written once for a shape, without its values.
struct Kept {
    shape: Shape,
    skeleton: Skeleton,
    sources: Vec<Source>,
}

impl Kept {
    fn new(now: &Now) -> Kept {
        let skeleton = now
            .namespace()
            .skeleton("/")
            .expect("the root is always there");
        let sources = skeleton
            .addresses()
            .map(|a| match now.tree.get(a) {
                Some(entry) => Source::Param {
                    address: a.to_string(),
                    default: entry.spec.default.clone(),
                },
                None => Source::Meter(
                    now.meters
                        .readings
                        .iter()
                        .position(|r| &*r.address == a)
                        .expect("a leaf is a parameter or a meter"),
                ),
            })
            .collect();
        Kept {
            shape: Shape::of(now),
            skeleton,
            sources,
        }
    }

    fn fill(&self, now: &Now) -> Vec<u8> {
        self.skeleton.fill(|i| match &self.sources[i] {
            Source::Param { address, default } => {
                LeafValue::Param(now.state.values.get(address).unwrap_or(default))
            }
            Source::Meter(n) => LeafValue::Meter(&now.meters.readings[*n].values),
        })
    }
}

/// The text of `GET /`, kept while its [`Shape`] holds (a layout change,
/// a device's state or a different set of meters writes it again); only
/// the values are written per request. The same bytes as
/// [`Now::namespace`]`.get_text("/")`.
#[derive(Default)]
pub(super) struct RootCache {
    kept: Mutex<Option<Arc<Kept>>>,
    /// How many times it was written from nothing.
    builds: AtomicU64,
}

impl RootCache {
    fn text(&self, now: &Now) -> Vec<u8> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .filter(|k| k.shape.holds(now));
        let kept = kept.unwrap_or_else(|| {
            let k = Arc::new(Kept::new(now));
            self.builds.fetch_add(1, Ordering::Relaxed);
            *self.kept.lock().unwrap_or_else(|e| e.into_inner()) = Some(k.clone());
            k
        });
        kept.fill(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rack::test_rig::{CHAIN, MANUAL_EQ, Rig};
    use crate::surface::meters::Reading;

    fn reading(address: &str, values: &[f32]) -> Reading {
        Reading {
            address: address.into(),
            values: values.to_vec(),
        }
    }

    fn at<'a>(
        tree: &'a ParamTree,
        state: &'a RackState,
        devices: &'a [DeviceStatus],
        meters: &'a MeterFrame,
    ) -> Now<'a> {
        Now {
            name: "room",
            tree,
            state,
            devices,
            meters,
        }
    }

    /// The kept text against a namespace built from nothing, as text.
    fn same(cache: &RootCache, now: &Now) -> String {
        let kept = String::from_utf8(cache.text(now)).unwrap();
        let fresh = String::from_utf8(now.namespace().get_text("/").unwrap()).unwrap();
        assert_eq!(kept, fresh);
        kept
    }

    #[tokio::test]
    async fn the_kept_root_is_what_a_fresh_build_writes() {
        let rig = Rig::new(&format!(
            "{CHAIN}[[chain]]\nid = \"trim2\"\nkind = \"trim\"\n\n{MANUAL_EQ}"
        ));
        let tree = rig.hub.tree().clone();
        let mut state = tree.defaults();
        let mut devices = rig.service.devices();
        assert_eq!(devices.len(), 1);
        let mut meters = MeterFrame {
            tick: 1,
            readings: vec![
                reading("/meter/in/peak", &[-6.0, -7.5]),
                reading("/meter/out/lufs_m", &[-23.0]),
            ],
        };
        let cache = RootCache::default();
        let builds = || cache.builds.load(Ordering::Relaxed);
        let first = same(&cache, &at(&tree, &state, &devices, &meters));
        assert_eq!(builds(), 1);

        // Values move: only they are written again.
        state
            .values
            .insert("/chain/trim/gain".into(), Value::Float(-3.5));
        state.values.remove("/chain/trim2/gain");
        meters.readings[0].values = vec![-1.0, -2.25];
        let values = same(&cache, &at(&tree, &state, &devices, &meters));
        assert_ne!(values, first);
        assert_eq!(builds(), 1, "a value change keeps the text");

        // The layout changes (PATH_CHANGED /chain): a slot leaves, another moves.
        state
            .values
            .insert("/chain/meter/active".into(), Value::Int(0));
        state
            .values
            .insert("/chain/trim2/position".into(), Value::Int(0));
        let layout = same(&cache, &at(&tree, &state, &devices, &meters));
        assert!(layout.contains("not in the chain"), "{layout}");
        assert_eq!(builds(), 2);
        state
            .values
            .insert("/chain/trim/gain".into(), Value::Float(1.25));
        same(&cache, &at(&tree, &state, &devices, &meters));
        assert_eq!(builds(), 2);

        // A device's state changes (PATH_CHANGED /outboard/pultec).
        devices[0].state = "offline".into();
        devices[0].error = Some("no answer on the port".into());
        let device = same(&cache, &at(&tree, &state, &devices, &meters));
        assert!(
            device.contains("offline: no answer on the port"),
            "{device}"
        );
        assert_eq!(builds(), 3);

        // Another set of meters, or another number of readings.
        meters
            .readings
            .push(reading("/meter/out/peak", &[-0.5, -0.75]));
        same(&cache, &at(&tree, &state, &devices, &meters));
        meters.readings[1].values.clear();
        same(&cache, &at(&tree, &state, &devices, &meters));
        assert_eq!(builds(), 5);
    }
}
