//! One Mackie Control surface's state, without I/O: which parameter each
//! strip shows (banks, channel offset, a slot on the V-pots, flip), what
//! the surface last got (so only changes are sent), touch and the LCD's
//! value-while-moving. Messages from the surface become [`Action`]s; the
//! rack's values become the bytes [`Desk::flush`] returns.

use crate::config::{MidiSurfaceConfig, SurfaceBanks};
use crate::rack::{ParamTree, Target};
use rackd_protocol::api::address as addr;
use rackd_protocol::mcu::{
    self, Accel, CELL, Input, LCD_LOWER, LCD_WIDTH, Led, MASTER, Model, STRIPS, note,
};
use rackd_protocol::param::{ParamKind, ParamSpec, Value};
use rackd_protocol::state::RackState;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the LCD shows a moved control's value before its name again.
pub const HOLD: Duration = Duration::from_secs(1);
/// Changed cells on one LCD line above which the whole line is sent at once.
const CELLS_PER_LINE_MESSAGE: usize = 4;

/// What the surface asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Set a parameter (`norm`: `value` is a fader position 0..1).
    Set {
        address: String,
        value: Value,
        norm: bool,
    },
    /// Send these bytes to the unit (the handshake's reply).
    Send(Vec<u8>),
}

/// What the timecode display shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Readout {
    /// The song revision last saved or recalled.
    Revision,
    /// The DSP load, % of the period.
    DspLoad,
}

/// The V-pots on one slot's (or device's) parameters.
#[derive(Debug, Clone)]
struct SlotView {
    params: Vec<String>,
    start: usize,
    /// The strip parameter whose SELECT opened the view.
    selected: String,
}

/// The LCD shows this parameter's value on the upper line until `until`
/// (while touched: until let go).
#[derive(Debug, Clone)]
struct Hold {
    address: String,
    until: Option<Instant>,
}

/// What one unit was last sent (`None`: unknown, send it).
#[derive(Debug, Clone)]
struct Shadow {
    faders: [Option<u16>; 9],
    rings: [Option<u8>; STRIPS],
    leds: [Option<Led>; 128],
    lcd: [[Option<[u8; CELL]>; STRIPS]; 2],
    timecode: Option<String>,
    assignment: Option<String>,
}

impl Shadow {
    fn unknown() -> Self {
        Shadow {
            faders: [None; 9],
            rings: [None; STRIPS],
            leds: [None; 128],
            lcd: [[None; STRIPS]; 2],
            timecode: None,
            assignment: None,
        }
    }
}

/// One surface's state.
pub struct Desk {
    models: Vec<Model>,
    tree: Arc<ParamTree>,
    state: RackState,
    banks: SurfaceBanks,
    flat: Vec<Option<String>>,
    offset: usize,
    flip: bool,
    view: Option<SlotView>,
    master: Option<String>,
    touched: Vec<bool>,
    master_touched: bool,
    hold: Vec<Option<Hold>>,
    accel: Vec<Accel>,
    shadow: Vec<Shadow>,
    readout: Readout,
    song: Option<(String, u32)>,
    dsp_load: f64,
    epoch: Instant,
    dirty: bool,
}

impl Desk {
    /// A surface on `tree` with the rack at `state`.
    pub fn new(cfg: &MidiSurfaceConfig, tree: Arc<ParamTree>, state: RackState) -> Desk {
        let models: Vec<Model> = (0..cfg.units.len().max(1))
            .map(|u| if u == 0 { cfg.model } else { Model::Xt })
            .collect();
        let n = STRIPS * models.len();
        let mut desk = Desk {
            shadow: vec![Shadow::unknown(); models.len()],
            models,
            tree,
            state,
            banks: cfg.banks.clone(),
            flat: Vec::new(),
            offset: 0,
            flip: false,
            view: None,
            master: cfg.master.clone(),
            touched: vec![false; n],
            master_touched: false,
            hold: vec![None; n],
            accel: vec![Accel::default(); n],
            readout: Readout::Revision,
            song: None,
            dsp_load: 0.0,
            epoch: Instant::now(),
            dirty: true,
        };
        desk.rebuild_banks();
        desk
    }

    fn strips(&self) -> usize {
        STRIPS * self.models.len()
    }

    /// The unit models, left to right.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// Lays the strips out again: `auto` follows the slot layout.
    fn rebuild_banks(&mut self) {
        let n = self.strips();
        self.flat = match &self.banks {
            SurfaceBanks::Auto => auto_bank(&self.tree, &self.state)
                .into_iter()
                .map(Some)
                .collect(),
            SurfaceBanks::Lists(lists) => lists
                .iter()
                .flat_map(|bank| {
                    let mut b: Vec<Option<String>> = bank
                        .iter()
                        .map(|a| (!a.is_empty()).then(|| a.clone()))
                        .collect();
                    b.resize(n, None);
                    b
                })
                .collect(),
        };
        self.offset = self.offset.min(self.flat.len().saturating_sub(1));
        self.dirty = true;
    }

    /// The rack's value at `address` changed (a hub event, or the value a set took).
    pub fn changed(&mut self, address: &str, value: Value) {
        let layout = address.starts_with(addr::CHAIN_PREFIX)
            && (address.ends_with("/active") || address.ends_with("/position"));
        self.state.values.insert(address.to_string(), value);
        if layout && self.banks == SurfaceBanks::Auto {
            self.rebuild_banks();
        }
        self.dirty = true;
    }

    /// The whole rack again (after missed events).
    pub fn reset(&mut self, state: RackState) {
        self.state = state;
        self.rebuild_banks();
    }

    /// A revision was saved or recalled: the timecode display shows it.
    pub fn song(&mut self, song: &str, rev: u32) {
        self.song = Some((song.to_string(), rev));
        self.dirty = true;
    }

    /// The engine's DSP load now.
    pub fn dsp_load(&mut self, percent: f64) {
        if (percent - self.dsp_load).abs() >= 0.05 {
            self.dsp_load = percent;
            self.dirty = self.dirty || self.readout == Readout::DspLoad;
        }
    }

    /// Everything is sent to `unit` again (it came back, or asked).
    pub fn refresh(&mut self, unit: usize) {
        if let Some(s) = self.shadow.get_mut(unit) {
            *s = Shadow::unknown();
        }
        self.dirty = true;
    }

    fn spec(&self, address: &str) -> Option<&ParamSpec> {
        self.tree.get(address).map(|e| &e.spec)
    }

    fn value(&self, address: &str) -> Option<(&ParamSpec, Value)> {
        let spec = self.spec(address)?;
        let v = self
            .state
            .values
            .get(address)
            .cloned()
            .unwrap_or_else(|| spec.default.clone());
        Some((spec, v))
    }

    fn bank_addr(&self, s: usize) -> Option<&str> {
        self.flat.get(self.offset + s)?.as_deref()
    }

    /// The strip's parameter on the V-pot side (`view_side`) or the bank side.
    fn layer(&self, s: usize, view_side: bool) -> Option<&str> {
        match &self.view {
            Some(v) if view_side => v.params.get(v.start + s).map(String::as_str),
            _ => self.bank_addr(s),
        }
    }

    /// What fader `s` moves: the bank, or with FLIP the slot on view.
    pub fn fader_addr(&self, s: usize) -> Option<&str> {
        self.layer(s, self.flip)
    }

    /// What V-pot `s` turns (and the LCD shows): the slot on view, else the bank.
    pub fn vpot_addr(&self, s: usize) -> Option<&str> {
        self.layer(s, !self.flip)
    }

    fn hold_until(&mut self, s: usize, address: &str, until: Option<Instant>) {
        self.hold[s] = Some(Hold {
            address: address.to_string(),
            until,
        });
        self.dirty = true;
    }

    /// A message from unit `unit`; what to do about it.
    pub fn input(&mut self, unit: usize, input: Input, now: Instant) -> Vec<Action> {
        let model = self.models.get(unit).copied().unwrap_or(Model::Xt);
        let strip = |i: u8| unit * STRIPS + usize::from(i);
        self.dirty = true;
        match input {
            Input::Fader {
                strip: MASTER,
                position,
            } => {
                if !model.has_master() {
                    return Vec::new();
                }
                self.master
                    .clone()
                    .map(|a| Action::Set {
                        address: a,
                        value: Value::Float(mcu::fader_norm(position)),
                        norm: true,
                    })
                    .into_iter()
                    .collect()
            }
            Input::Fader { strip: i, position } => {
                let s = strip(i);
                let Some(a) = self.fader_addr(s).map(str::to_string) else {
                    return Vec::new();
                };
                let until = (!self.touched[s]).then(|| now + HOLD);
                self.hold_until(s, &a, until);
                vec![Action::Set {
                    address: a,
                    value: Value::Float(mcu::fader_norm(position)),
                    norm: true,
                }]
            }
            Input::Touch {
                strip: MASTER,
                touched,
            } => {
                self.master_touched = touched;
                if !touched {
                    self.shadow[unit].faders[usize::from(MASTER)] = None;
                }
                Vec::new()
            }
            Input::Touch { strip: i, touched } => {
                let s = strip(i);
                self.touched[s] = touched;
                if let Some(a) = self.fader_addr(s).map(str::to_string) {
                    self.hold_until(s, &a, (!touched).then(|| now + HOLD));
                }
                if !touched {
                    // Let go: the motor goes to the value taken.
                    self.shadow[unit].faders[usize::from(i)] = None;
                }
                Vec::new()
            }
            Input::Vpot { strip: i, ticks } => {
                let s = strip(i);
                let Some(a) = self.vpot_addr(s).map(str::to_string) else {
                    return Vec::new();
                };
                let ms = now.duration_since(self.epoch).as_millis() as u64;
                let travel = self.accel[s].travel(ticks, ms);
                self.hold_until(s, &a, Some(now + HOLD));
                self.turn(&a, ticks, travel).into_iter().collect()
            }
            Input::Button {
                note: n,
                pressed: true,
            } => self.button(unit, n),
            Input::HostQuery { serial, challenge } => {
                self.refresh(unit);
                vec![Action::Send(mcu::host_reply(model, serial, challenge))]
            }
            _ => Vec::new(),
        }
    }

    /// A V-pot turn on parameter `a`: continuous parameters move by
    /// `travel` of their fader travel, choices and steps by one.
    fn turn(&self, a: &str, ticks: i8, travel: f64) -> Option<Action> {
        let (spec, v) = self.value(a)?;
        let sign = i64::from(ticks.signum());
        let (value, norm) = match &spec.kind {
            ParamKind::Continuous { .. } => (
                Value::Float((spec.to_norm(&v) + travel).clamp(0.0, 1.0)),
                true,
            ),
            ParamKind::Stepped { min, max } => (
                Value::Int((v.as_f64().unwrap_or(0.0) as i64 + sign).clamp(*min, *max)),
                false,
            ),
            ParamKind::Switch => (Value::Int(i64::from(ticks > 0)), false),
            ParamKind::Enum { labels } => {
                let i = labels
                    .iter()
                    .position(|l| Value::Text(l.clone()) == v)
                    .unwrap_or(0) as i64;
                let j = (i + sign).clamp(0, labels.len() as i64 - 1) as usize;
                (Value::Text(labels.get(j)?.clone()), false)
            }
        };
        Some(Action::Set {
            address: a.to_string(),
            value,
            norm,
        })
    }

    fn button(&mut self, unit: usize, n: u8) -> Vec<Action> {
        let n_strips = self.strips();
        let strip = |base: u8| unit * STRIPS + usize::from(n - base);
        match n {
            note::MUTE..=0x17 => {
                let s = strip(note::MUTE);
                let Some(bypass) = self.fader_addr(s).and_then(|a| self.bypass_of(a)) else {
                    return Vec::new();
                };
                let on = self
                    .value(&bypass)
                    .and_then(|(_, v)| v.as_f64())
                    .unwrap_or(0.0)
                    != 0.0;
                vec![Action::Set {
                    address: bypass,
                    value: Value::Int(i64::from(!on)),
                    norm: false,
                }]
            }
            note::SELECT..=0x1F => {
                self.select(strip(note::SELECT));
                Vec::new()
            }
            note::VPOT_PUSH..=0x27 => {
                let s = strip(note::VPOT_PUSH);
                self.vpot_addr(s)
                    .and_then(|a| {
                        let spec = self.spec(a)?;
                        Some(Action::Set {
                            address: a.to_string(),
                            value: spec.default.clone(),
                            norm: false,
                        })
                    })
                    .into_iter()
                    .collect()
            }
            note::BANK_LEFT => self.navigate(-(n_strips as i64)),
            note::BANK_RIGHT => self.navigate(n_strips as i64),
            note::CHANNEL_LEFT => self.navigate(-1),
            note::CHANNEL_RIGHT => self.navigate(1),
            note::FLIP => {
                self.flip = !self.flip;
                self.forget_faders();
                Vec::new()
            }
            note::SMPTE_BEATS => {
                self.readout = match self.readout {
                    Readout::Revision => Readout::DspLoad,
                    Readout::DspLoad => Readout::Revision,
                };
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// Touch state no longer belongs to the parameters the faders show.
    fn forget_faders(&mut self) {
        self.touched.iter_mut().for_each(|t| *t = false);
        self.hold.iter_mut().for_each(|h| *h = None);
    }

    /// BANK and CHANNEL: move the strips (or, with a slot on the V-pots,
    /// that slot's page) by `by`; a move past either end stays put.
    fn navigate(&mut self, by: i64) -> Vec<Action> {
        let (pos, len) = match &mut self.view {
            Some(v) => (&mut v.start, v.params.len()),
            None => (&mut self.offset, self.flat.len()),
        };
        let next = *pos as i64 + by;
        if next >= 0 && (next as usize) < len.max(1) {
            *pos = next as usize;
        } else if next < 0 {
            *pos = 0;
        }
        self.forget_faders();
        Vec::new()
    }

    /// SELECT on strip `s`: its slot's parameters on the V-pots, from the
    /// page with the strip's parameter; again on the same strip: back.
    fn select(&mut self, s: usize) {
        let Some(a) = self.bank_addr(s).map(str::to_string) else {
            return;
        };
        if self.view.as_ref().is_some_and(|v| v.selected == a) {
            self.view = None;
            return;
        }
        let Some(prefix) = slot_prefix(&a) else {
            return;
        };
        let params = slot_params(&self.tree, prefix);
        let i = params.iter().position(|p| *p == a).unwrap_or(0);
        let n = self.strips();
        self.view = Some(SlotView {
            start: (i / n) * n,
            params,
            selected: a,
        });
        self.forget_faders();
    }

    /// The bypass of the chain slot `a` belongs to.
    fn bypass_of(&self, a: &str) -> Option<String> {
        let slot = a.strip_prefix(addr::CHAIN_PREFIX)?.split('/').next()?;
        let b = addr::chain(slot, "bypass");
        self.tree.get(&b).is_some().then_some(b)
    }

    /// The bytes that bring every unit to the rack's state, changes only.
    pub fn flush(&mut self, now: Instant) -> Vec<(usize, Vec<u8>)> {
        let expired = self
            .hold
            .iter()
            .any(|h| h.as_ref().and_then(|h| h.until).is_some_and(|t| now >= t));
        if !self.dirty && !expired {
            return Vec::new();
        }
        self.dirty = false;
        for h in &mut self.hold {
            if h.as_ref().and_then(|h| h.until).is_some_and(|t| now >= t) {
                *h = None;
            }
        }
        let mut out = Vec::new();
        for unit in 0..self.models.len() {
            self.flush_unit(unit, &mut out);
        }
        out
    }

    fn flush_unit(&mut self, unit: usize, out: &mut Vec<(usize, Vec<u8>)>) {
        let model = self.models[unit];
        let mut lines: [Vec<(usize, [u8; CELL])>; 2] = [Vec::new(), Vec::new()];
        let mut all_cells: [Vec<[u8; CELL]>; 2] = [Vec::new(), Vec::new()];
        for i in 0..STRIPS {
            let s = unit * STRIPS + i;
            if !self.touched[s] {
                let pos = self
                    .fader_addr(s)
                    .and_then(|a| self.value(a))
                    .map_or(0, |(spec, v)| mcu::fader_position(spec.to_norm(&v)));
                if self.shadow[unit].faders[i].replace(pos) != Some(pos) {
                    out.push((unit, mcu::fader(i as u8, pos).to_vec()));
                }
            }
            let ring = self
                .vpot_addr(s)
                .and_then(|a| self.value(a))
                .map_or(0, |(spec, v)| {
                    let mode = mcu::ring_mode(spec);
                    mcu::ring_byte(mode, mcu::ring_position(mode, spec, &v), false)
                });
            if self.shadow[unit].rings[i].replace(ring) != Some(ring) {
                out.push((unit, mcu::ring(i as u8, ring).to_vec()));
            }
            let bypassed = self
                .fader_addr(s)
                .and_then(|a| self.bypass_of(a))
                .and_then(|b| self.value(&b))
                .is_some_and(|(_, v)| v.as_f64().unwrap_or(0.0) != 0.0);
            let selected = self
                .view
                .as_ref()
                .is_some_and(|v| self.bank_addr(s) == Some(v.selected.as_str()));
            for (n, on) in [
                (note::MUTE + i as u8, bypassed),
                (note::SELECT + i as u8, selected),
                (note::SOLO + i as u8, false),
                (note::REC + i as u8, false),
            ] {
                self.led(unit, n, on, out);
            }
            let upper = match &self.hold[s] {
                Some(h) => self
                    .value(&h.address)
                    .map(|(spec, v)| mcu::format_value(spec, &v)),
                None => self
                    .vpot_addr(s)
                    .and_then(|a| self.spec(a))
                    .map(|spec| mcu::short_name(&spec.id)),
            }
            .unwrap_or_default();
            let lower = self
                .vpot_addr(s)
                .and_then(|a| self.value(a))
                .map(|(spec, v)| mcu::format_value(spec, &v))
                .unwrap_or_default();
            for (line, text) in [upper, lower].iter().enumerate() {
                let c = mcu::cell(text);
                all_cells[line].push(c);
                if self.shadow[unit].lcd[line][i].replace(c) != Some(c) {
                    lines[line].push((i, c));
                }
            }
        }
        for (line, changed) in lines.iter().enumerate() {
            let base = if line == 0 { 0 } else { LCD_LOWER };
            if changed.len() > CELLS_PER_LINE_MESSAGE {
                let text: Vec<u8> = all_cells[line].iter().flatten().copied().collect();
                debug_assert_eq!(text.len(), LCD_WIDTH);
                out.push((unit, mcu::lcd(model, base, &text)));
            } else {
                for (i, c) in changed {
                    out.push((unit, mcu::lcd(model, base + (*i * CELL) as u8, c)));
                }
            }
        }
        if model.has_master() {
            self.flush_master(unit, out);
        }
    }

    fn led(&mut self, unit: usize, n: u8, on: bool, out: &mut Vec<(usize, Vec<u8>)>) {
        let state = if on { Led::On } else { Led::Off };
        if self.shadow[unit].leds[usize::from(n & 0x7F)].replace(state) != Some(state) {
            out.push((unit, mcu::led(n, state).to_vec()));
        }
    }

    fn flush_master(&mut self, unit: usize, out: &mut Vec<(usize, Vec<u8>)>) {
        if !self.master_touched {
            let pos = self
                .master
                .as_deref()
                .and_then(|a| self.value(a))
                .map_or(0, |(spec, v)| mcu::fader_position(spec.to_norm(&v)));
            if self.shadow[unit].faders[usize::from(MASTER)].replace(pos) != Some(pos) {
                out.push((unit, mcu::fader(MASTER, pos).to_vec()));
            }
        }
        let flip = self.flip;
        let revision = self.readout == Readout::Revision;
        self.led(unit, note::FLIP, flip, out);
        self.led(unit, note::SMPTE_LED, revision, out);
        self.led(unit, note::BEATS_LED, !revision, out);
        let tc = self.readout_text();
        if self.shadow[unit].timecode.as_deref() != Some(tc.as_str()) {
            out.extend(mcu::timecode(&tc).into_iter().map(|m| (unit, m.to_vec())));
            self.shadow[unit].timecode = Some(tc);
        }
        let n = self.strips();
        let page = match &self.view {
            Some(v) => format!("S{}", v.start / n + 1),
            None => format!("{:>2}", self.offset / n + 1),
        };
        if self.shadow[unit].assignment.as_deref() != Some(page.as_str()) {
            out.extend(
                mcu::assignment(&page)
                    .into_iter()
                    .map(|m| (unit, m.to_vec())),
            );
            self.shadow[unit].assignment = Some(page);
        }
    }

    /// The timecode display's text: `R 12` (revision 12 of the last song
    /// saved or recalled) or `DSP 4.5` (% of the period).
    fn readout_text(&self) -> String {
        match self.readout {
            Readout::Revision => match &self.song {
                Some((_, rev)) => format!("R {rev}"),
                None => "R --".into(),
            },
            Readout::DspLoad => format!("DSP {:.1}", self.dsp_load),
        }
    }

    /// Channel pressure for every strip whose meter shows something:
    /// `level` gives a meter point's peak in dBFS.
    pub fn meters(
        &self,
        point_of: &HashMap<String, String>,
        level: impl Fn(&str) -> f32,
    ) -> Vec<(usize, Vec<u8>)> {
        let mut out = Vec::new();
        for unit in 0..self.models.len() {
            for i in 0..STRIPS {
                let s = unit * STRIPS + i;
                let Some(a) = self.fader_addr(s) else {
                    continue;
                };
                let point = point_of.get(a).map_or("out", String::as_str);
                let l = mcu::meter_level(level(point));
                if l > 0 {
                    out.push((unit, mcu::meter(i as u8, l).to_vec()));
                }
            }
        }
        out
    }

    /// The rack's state as the surface knows it.
    pub fn state(&self) -> &RackState {
        &self.state
    }

    /// The rack's parameters.
    pub fn tree(&self) -> &ParamTree {
        &self.tree
    }
}

/// `/chain/<slot>/`, `/outboard/<device>/` or `/monitor/` of an address.
fn slot_prefix(a: &str) -> Option<&str> {
    if a.starts_with(addr::MONITOR_PREFIX) {
        return Some(addr::MONITOR_PREFIX);
    }
    let prefix = [addr::CHAIN_PREFIX, addr::OUTBOARD_PREFIX]
        .into_iter()
        .find(|p| a.starts_with(p))?;
    let rest = &a[prefix.len()..];
    let end = prefix.len() + rest.find('/')? + 1;
    Some(&a[..end])
}

/// Whether a parameter has a button of its own (bypass: MUTE) or is the
/// slot layout, which strips leave out.
fn on_buttons(target: Target) -> bool {
    matches!(
        target,
        Target::ChainBypass { .. } | Target::ChainPosition { .. } | Target::ChainActive { .. }
    )
}

/// The order a slot's parameters come in: the processor's or the profile's.
fn param_order(target: Target) -> usize {
    match target {
        Target::ChainParam { index, .. }
        | Target::Monitor { index }
        | Target::Outboard { param: index, .. } => index,
        _ => usize::MAX,
    }
}

/// A slot's (or device's) parameters in their own order, without the
/// ones that have buttons.
pub fn slot_params(tree: &ParamTree, prefix: &str) -> Vec<String> {
    let mut params: Vec<(usize, String)> = tree
        .iter()
        .filter(|(a, e)| a.starts_with(prefix) && !on_buttons(e.target))
        .map(|(a, e)| (param_order(e.target), a.to_string()))
        .collect();
    params.sort();
    params.into_iter().map(|(_, a)| a).collect()
}

/// `banks = "auto"`: every parameter of the slots in play order, then of
/// the outboard devices in config order.
pub fn auto_bank(tree: &ParamTree, state: &RackState) -> Vec<String> {
    let mut out = Vec::new();
    for slot in tree.layout(state) {
        out.extend(slot_params(
            tree,
            &format!("{}{}/", addr::CHAIN_PREFIX, tree.slots()[slot].id),
        ));
    }
    for d in tree.devices() {
        out.extend(slot_params(tree, &addr::outboard_device(&d.id)));
    }
    out
}

/// The meter point each parameter's strip shows: for a chain slot the
/// first point with a level (a `meter` or `loudness` slot) at or after it
/// in play order, else `out`; outboard and monitor parameters show `out`.
pub fn meter_points(
    tree: &ParamTree,
    state: &RackState,
    level_points: &[String],
) -> HashMap<String, String> {
    let order = tree.layout(state);
    let mut map = HashMap::new();
    for (a, e) in tree.iter() {
        let point = match e.target {
            Target::ChainParam { slot, .. } => order
                .iter()
                .skip_while(|&&s| s != slot)
                .map(|&s| &tree.slots()[s].id)
                .find(|id| level_points.contains(id))
                .cloned()
                .unwrap_or_else(|| "out".into()),
            _ => "out".into(),
        };
        map.insert(a.to_string(), point);
    }
    map
}

#[cfg(test)]
mod tests;
