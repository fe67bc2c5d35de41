//! `/rackd/recall/sheet`: what the engineer sets by hand for a song, per
//! manual device and panel row, with the printed detent of every control
//! and whether it differs from where the rack is now. `rackd ctl sheet`
//! draws it as text, SVG or HTML; the web page shows the same document.

use crate::param::Value;
use serde::{Deserialize, Serialize};

/// The sheet of one song against the current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    /// `SONG`, `SONG@REV` or `current`, as asked.
    pub song: String,
    /// Every device without remote control, in config order.
    pub devices: Vec<SheetDevice>,
}

/// One manual device's front panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetDevice {
    /// Device id.
    pub device: String,
    /// Maker, from the profile.
    pub vendor: String,
    /// Model, from the profile.
    pub model: String,
    /// The document the panel was taken from (title and edition).
    pub source: String,
    /// Panel rows, top to bottom.
    pub rows: Vec<SheetRow>,
}

/// One row of a panel (a label printed on it, e.g. `LOW FREQUENCY`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetRow {
    /// Empty when the panel prints none.
    pub label: String,
    /// Left to right.
    pub controls: Vec<SheetControl>,
}

/// How a control is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlKind {
    /// A rotary knob (stepped or a pot).
    Knob,
    /// A toggle.
    Switch,
}

/// How the engineer finds a control's position on the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelMarking {
    /// At a detent whose label is printed on the panel.
    Printed,
    /// At a detent counted in clicks from fully counter-clockwise.
    Counted,
    /// A pot: rotation in percent from fully counter-clockwise.
    Rotation,
}

/// One knob or switch: where the song has it and where it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetControl {
    /// Parameter id (`/outboard/<device>/<param>`).
    pub param: String,
    /// Its name on the panel.
    pub name: String,
    /// Knob or switch.
    pub kind: ControlKind,
    /// How its position is read.
    pub panel: PanelMarking,
    /// The song's value.
    pub value: Value,
    /// What the engineer reads for it (the detent label, or `37.5 %`).
    pub label: String,
    /// The song's position, 0..1 of the sweep.
    pub position: f64,
    /// What the panel shows now.
    pub current: String,
    /// The position now, 0..1.
    pub current_position: f64,
    /// Detent labels (or an enum's labels) in order around the dial.
    pub detents: Vec<String>,
    /// A pot's end labels (fully counter-clockwise, fully clockwise), if printed.
    pub ends: Vec<String>,
    /// The profile's note on setting it.
    pub note: String,
    /// Whether the song differs from now (the control to turn).
    pub differs: bool,
}

impl SheetDevice {
    /// The controls to turn.
    pub fn to_turn(&self) -> impl Iterator<Item = &SheetControl> {
        self.rows
            .iter()
            .flat_map(|r| &r.controls)
            .filter(|c| c.differs)
    }
}
