//! A small plot builder for the analyze report: one inline `<svg>` per plot
//! with a frame, grid, ticks in real units and axis labels; lines break at
//! missing values (NaN) and are held inside the frame. Styling is by class
//! (the page's CSS), as the recall sheet does it.

use crate::outboard::sheet::esc;
use std::fmt::Write;

/// How values map onto an axis.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Linear from `.0` to `.1`.
    Lin(f64, f64),
    /// Logarithmic from `.0` to `.1` (both > 0).
    Log(f64, f64),
}

impl Scale {
    /// 0..1 along the axis (not clamped).
    fn frac(self, v: f64) -> f64 {
        match self {
            Scale::Lin(a, b) => (v - a) / (b - a),
            Scale::Log(a, b) => (v / a).ln() / (b / a).ln(),
        }
    }

    fn bounds(self) -> (f64, f64) {
        match self {
            Scale::Lin(a, b) | Scale::Log(a, b) => (a.min(b), a.max(b)),
        }
    }
}

/// One plot being drawn.
pub struct Plot {
    kind: &'static str,
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    x: Scale,
    y: Scale,
    xticks: Vec<(f64, String)>,
    yticks: Vec<(f64, String)>,
    xlabel: String,
    ylabel: String,
    legend: Vec<(String, String)>,
    body: String,
}

impl Plot {
    /// A `w`×`h` plot (viewBox units) named `kind` (its `data-plot`).
    pub fn new(kind: &'static str, w: f64, h: f64, x: Scale, y: Scale) -> Self {
        Plot {
            kind,
            w,
            h,
            left: 56.0,
            right: 12.0,
            top: 24.0,
            bottom: 34.0,
            x,
            y,
            xticks: Vec::new(),
            yticks: Vec::new(),
            xlabel: String::new(),
            ylabel: String::new(),
            legend: Vec::new(),
            body: String::new(),
        }
    }

    /// Label and ticks of the x axis.
    pub fn x_axis(mut self, label: &str, ticks: Vec<(f64, String)>) -> Self {
        self.xlabel = label.into();
        self.xticks = ticks;
        self
    }

    /// Label and ticks of the y axis.
    pub fn y_axis(mut self, label: &str, ticks: Vec<(f64, String)>) -> Self {
        self.ylabel = label.into();
        self.yticks = ticks;
        self
    }

    /// Adds a legend entry drawn in `class`.
    pub fn legend(&mut self, label: &str, class: &str) {
        self.legend.push((label.into(), class.into()));
    }

    /// Pixel x of a value, inside the frame.
    pub fn px(&self, v: f64) -> f64 {
        let f = self.x.frac(v).clamp(0.0, 1.0);
        self.left + f * (self.w - self.left - self.right)
    }

    /// Pixel y of a value, inside the frame.
    pub fn py(&self, v: f64) -> f64 {
        let f = self.y.frac(v).clamp(0.0, 1.0);
        self.h - self.bottom - f * (self.h - self.top - self.bottom)
    }

    /// Raw SVG added to the body.
    pub fn raw(&mut self, svg: &str) {
        self.body.push_str(svg);
    }

    /// A polyline through `pts`, broken where x or y is not finite.
    pub fn line(&mut self, pts: &[(f64, f64)], class: &str) {
        let mut seg = String::new();
        let flush = |seg: &mut String, body: &mut String| {
            if seg.matches(' ').count() >= 1 {
                let _ = write!(
                    body,
                    r#"<polyline class="line {class}" points="{}"/>"#,
                    seg.trim()
                );
            }
            seg.clear();
        };
        for &(x, y) in pts {
            if x.is_finite() && y.is_finite() {
                let _ = write!(seg, "{:.1},{:.1} ", self.px(x), self.py(y));
            } else {
                flush(&mut seg, &mut self.body);
            }
        }
        flush(&mut seg, &mut self.body);
    }

    /// A filled band between `lo` and `hi` over `xs` (values not finite
    /// are drawn at the bottom of the frame).
    pub fn band(&mut self, xs: &[f64], lo: &[f64], hi: &[f64], class: &str) {
        if xs.is_empty() {
            return;
        }
        let floor = self.y.bounds().0;
        let fix = |v: f64| if v.is_finite() { v } else { floor };
        let mut pts = String::new();
        for (x, v) in xs.iter().zip(hi) {
            let _ = write!(pts, "{:.1},{:.1} ", self.px(*x), self.py(fix(*v)));
        }
        for (x, v) in xs.iter().zip(lo).rev() {
            let _ = write!(pts, "{:.1},{:.1} ", self.px(*x), self.py(fix(*v)));
        }
        let _ = write!(
            self.body,
            r#"<polygon class="{class}" points="{}"/>"#,
            pts.trim()
        );
    }

    /// A horizontal line across the frame at `y`, labelled at its right end.
    pub fn hline(&mut self, y: f64, class: &str, label: &str) {
        let (a, b) = self.y.bounds();
        if !(a..=b).contains(&y) {
            return;
        }
        let py = self.py(y);
        let (x0, x1) = (self.left, self.w - self.right);
        let _ = write!(
            self.body,
            r#"<line class="{class}" x1="{x0:.1}" y1="{py:.1}" x2="{x1:.1}" y2="{py:.1}"/>"#
        );
        if !label.is_empty() {
            let _ = write!(
                self.body,
                r#"<text class="mark" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x1 - 3.0,
                py - 3.0,
                esc(label)
            );
        }
    }

    /// A horizontal line labelled at its left end, above the line.
    pub fn hline_left(&mut self, y: f64, class: &str, label: &str) {
        let (a, b) = self.y.bounds();
        if !(a..=b).contains(&y) {
            return;
        }
        self.hline(y, class, "");
        let _ = write!(
            self.body,
            r#"<text class="mark" x="{:.1}" y="{:.1}">{}</text>"#,
            self.left + 4.0,
            self.py(y) - 3.0,
            esc(label)
        );
    }

    /// A shaded stretch from `x0` to `x1`, the frame's full height.
    pub fn vspan(&mut self, x0: f64, x1: f64, class: &str) {
        let (a, b) = (self.px(x0), self.px(x1).max(self.px(x0) + 1.0));
        let _ = write!(
            self.body,
            r#"<rect class="{class}" x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/>"#,
            self.top,
            b - a,
            self.h - self.top - self.bottom
        );
    }

    /// A short vertical mark at `x`, from `y0` to `y1` (values).
    pub fn vmark(&mut self, x: f64, y0: f64, y1: f64, class: &str) {
        let px = self.px(x);
        let _ = write!(
            self.body,
            r#"<line class="{class}" x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}"/>"#,
            self.py(y0),
            self.py(y1)
        );
    }

    /// A label centred at (`x`, `y`) (values), moved sideways to stay inside the frame.
    pub fn label(&mut self, x: f64, y: f64, text: &str) {
        let half = 3.2 * text.chars().count() as f64;
        let px = self
            .px(x)
            .clamp(self.left + half + 2.0, self.w - self.right - half - 2.0);
        let _ = write!(
            self.body,
            r#"<text class="mark" x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            self.py(y),
            esc(text)
        );
    }

    /// A note in the frame's top left corner.
    pub fn note(&mut self, text: &str) {
        let _ = write!(
            self.body,
            r#"<text class="note" x="{:.1}" y="{:.1}">{}</text>"#,
            self.left + 6.0,
            self.top + 14.0,
            esc(text)
        );
    }

    /// The finished `<svg>` element.
    pub fn finish(self, title: &str) -> String {
        let (w, h) = (self.w, self.h);
        let (x0, x1) = (self.left, w - self.right);
        let (y0, y1) = (self.top, h - self.bottom);
        let mut out = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="{}" viewBox="0 0 {w:.0} {h:.0}" role="img"><title>{}</title>"#,
            self.kind,
            esc(title)
        );
        for (v, label) in &self.xticks {
            let px = self.px(*v);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{px:.1}" y1="{y0:.1}" x2="{px:.1}" y2="{y1:.1}"/><text class="tick" x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                y1 + 13.0,
                esc(label)
            );
        }
        for (v, label) in &self.yticks {
            let py = self.py(*v);
            let _ = write!(
                out,
                r#"<line class="grid" x1="{x0:.1}" y1="{py:.1}" x2="{x1:.1}" y2="{py:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 4.0,
                py + 3.5,
                esc(label)
            );
        }
        out.push_str(&self.body);
        let _ = write!(
            out,
            r#"<rect class="frame" x="{x0:.1}" y="{y0:.1}" width="{:.1}" height="{:.1}"/>"#,
            x1 - x0,
            y1 - y0
        );
        let _ = write!(
            out,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            (x0 + x1) / 2.0,
            h - 4.0,
            esc(&self.xlabel)
        );
        let cy = (y0 + y1) / 2.0;
        let _ = write!(
            out,
            r#"<text class="axis" x="12" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 12 {cy:.1})">{}</text>"#,
            esc(&self.ylabel)
        );
        let mut lx = x1 - 6.0;
        for (label, class) in self.legend.iter().rev() {
            let width = 8.0 + 6.2 * label.chars().count() as f64;
            lx -= width + 16.0;
            let _ = write!(
                out,
                r#"<g class="legend"><line class="line {class}" x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><text x="{:.1}" y="{:.1}">{}</text></g>"#,
                y0 - 9.0,
                lx + 12.0,
                y0 - 9.0,
                lx + 15.0,
                y0 - 5.5,
                esc(label)
            );
        }
        out.push_str("</svg>");
        out
    }
}

/// A plot that cannot be drawn, saying why (still an `<svg>` of its kind).
pub fn message(kind: &'static str, w: f64, h: f64, title: &str, text: &str) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="plot missing" data-plot="{kind}" viewBox="0 0 {w:.0} {h:.0}" role="img"><title>{}</title><rect class="frame" x="1" y="1" width="{:.0}" height="{:.0}"/><text class="note" x="{:.0}" y="{:.0}" text-anchor="middle">{}</text></svg>"#,
        esc(title),
        w - 2.0,
        h - 2.0,
        w / 2.0,
        h / 2.0,
        esc(text)
    )
}

/// `m:ss` (or `m:ss.s` when `tenths`).
pub fn mmss(t: f64, tenths: bool) -> String {
    rackd_dsp::findings::timecode(t, usize::from(tenths))
}

/// Time ticks for `0..duration` s at a round step giving 4 to 10 ticks.
pub fn time_ticks(duration: f64) -> Vec<(f64, String)> {
    let steps = [
        0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0,
    ];
    let step = steps
        .iter()
        .copied()
        .find(|s| duration / s <= 10.0)
        .unwrap_or(3600.0);
    let tenths = step < 1.0;
    let mut out = Vec::new();
    let mut t = 0.0;
    while t <= duration + 1e-9 {
        out.push((t, mmss(t, tenths)));
        t += step;
    }
    out
}

/// Ticks every `step` from the first multiple at or above `min` to `max`.
pub fn step_ticks(
    min: f64,
    max: f64,
    step: f64,
    fmt: impl Fn(f64) -> String,
) -> Vec<(f64, String)> {
    let mut out = Vec::new();
    let mut v = (min / step).ceil() * step;
    while v <= max + 1e-9 {
        out.push((v, fmt(v)));
        v += step;
    }
    out
}

/// Frequency ticks 20 Hz–20 kHz.
pub fn freq_ticks() -> Vec<(f64, String)> {
    [
        (20.0, "20"),
        (50.0, "50"),
        (100.0, "100"),
        (200.0, "200"),
        (500.0, "500"),
        (1000.0, "1k"),
        (2000.0, "2k"),
        (5000.0, "5k"),
        (10000.0, "10k"),
        (20000.0, "20k"),
    ]
    .into_iter()
    .map(|(f, l)| (f, l.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_break_at_missing_values_and_stay_in_the_frame() {
        let mut p = Plot::new(
            "t",
            200.0,
            100.0,
            Scale::Lin(0.0, 10.0),
            Scale::Lin(-1.0, 1.0),
        );
        p.line(
            &[
                (0.0, 0.0),
                (1.0, 5.0),
                (2.0, f64::NAN),
                (3.0, 0.0),
                (4.0, -0.5),
            ],
            "a",
        );
        let svg = p.finish("x");
        assert_eq!(svg.matches("<polyline").count(), 2);
        // 5.0 is drawn at the top of the frame (y = 24).
        assert!(svg.contains(",24.0"), "{svg}");
    }

    #[test]
    fn ticks_are_round() {
        let t = time_ticks(200.0);
        assert_eq!(t[1], (30.0, "0:30".to_string()));
        assert_eq!(t.last().unwrap().1, "3:00");
        assert_eq!(time_ticks(2.0)[1].1, "0:00.5");
        let y = step_ticks(-23.0, 0.0, 10.0, |v| format!("{v:.0}"));
        assert_eq!(
            y.iter().map(|t| t.0).collect::<Vec<_>>(),
            [-20.0, -10.0, 0.0]
        );
    }
}
