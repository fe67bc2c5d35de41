//! A TouchOSC document (the XML inside a `.tosc` file, `lexml` version 3):
//! a pager with a page per slot, device, the monitor section, the meters
//! and snapshots. Faders send real units scaled from their travel (TouchOSC
//! scales linearly, so log-taper parameters use `A/norm`); choices are a
//! button per label; a label per parameter shows its value. The root
//! script subscribes on load, renews every few seconds and moves the meter
//! bars from `/meter/...` messages.

use super::{Page, Target, key, meter_range, plan, step_buttons, subscribe_patterns};
use crate::api::address as addr;
use crate::api::{Describe, DescribedMeter, DescribedParam};
use crate::param::{ParamKind, Taper};
use std::fmt::Write as _;

const WIDTH: i32 = 1024;
const HEIGHT: i32 = 768;
const TABBAR: i32 = 40;
const MARGIN: i32 = 8;

/// XML-escaped text inside CDATA (a `]]>` is split).
fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// A stable id for a node from its path in the document (FNV-1a, shown as
/// a UUID), so the same rack gives the same file.
fn node_id(path: &str) -> String {
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in path.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    let x = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

/// One control node being written.
struct Node {
    kind: &'static str,
    path: String,
    props: String,
    values: String,
    messages: String,
    children: Vec<Node>,
}

impl Node {
    fn new(kind: &'static str, path: &str, name: &str, frame: (i32, i32, i32, i32)) -> Node {
        let mut n = Node {
            kind,
            path: path.to_string(),
            props: String::new(),
            values: String::new(),
            messages: String::new(),
            children: Vec::new(),
        };
        n.prop_s("name", name);
        n.prop_b("visible", true);
        n.prop_b("interactive", !matches!(kind, "LABEL" | "GROUP"));
        n.prop_b("background", true);
        n.prop_b("outline", kind != "LABEL");
        n.prop_b("locked", false);
        n.prop_r("frame", frame);
        n.value("touch", "false");
        n
    }

    fn prop_s(&mut self, k: &str, v: &str) {
        let _ = write!(
            self.props,
            "<property type='s'><key>{}</key><value>{}</value></property>",
            cdata(k),
            cdata(v)
        );
    }

    fn prop_b(&mut self, k: &str, v: bool) {
        let _ = write!(
            self.props,
            "<property type='b'><key>{}</key><value>{}</value></property>",
            cdata(k),
            u8::from(v)
        );
    }

    fn prop_i(&mut self, k: &str, v: i64) {
        let _ = write!(
            self.props,
            "<property type='i'><key>{}</key><value>{v}</value></property>",
            cdata(k)
        );
    }

    fn prop_r(&mut self, k: &str, (x, y, w, h): (i32, i32, i32, i32)) {
        let _ = write!(
            self.props,
            "<property type='r'><key>{}</key><value><x>{x}</x><y>{y}</y><w>{w}</w><h>{h}</h></value></property>",
            cdata(k)
        );
    }

    fn prop_c(&mut self, k: &str, (r, g, b): (f32, f32, f32)) {
        let _ = write!(
            self.props,
            "<property type='c'><key>{}</key><value><r>{r}</r><g>{g}</g><b>{b}</b><a>1</a></value></property>",
            cdata(k)
        );
    }

    fn value(&mut self, k: &str, default: &str) {
        let _ = write!(
            self.values,
            "<value><key>{}</key><locked>0</locked><lockedDefaultCurrent>0</lockedDefaultCurrent><default>{}</default><defaultPull>0</defaultPull></value>",
            cdata(k),
            cdata(default)
        );
    }

    /// An OSC message: `send` on changes of `x`, `receive` feedback.
    fn osc(&mut self, path: &str, args: &[Arg], send: bool, receive: bool) {
        let mut a = String::new();
        for arg in args {
            let (kind, conv, v, lo, hi) = match arg {
                Arg::Value {
                    key,
                    conversion,
                    lo,
                    hi,
                } => ("VALUE", *conversion, key.to_string(), *lo, *hi),
                Arg::Constant { conversion, value } => {
                    ("CONSTANT", *conversion, value.clone(), 0.0, 1.0)
                }
            };
            let _ = write!(
                a,
                "<partial><type>{kind}</type><conversion>{conv}</conversion><value>{}</value><scaleMin>{lo}</scaleMin><scaleMax>{hi}</scaleMax></partial>",
                cdata(&v)
            );
        }
        let _ = write!(
            self.messages,
            "<osc><enabled>1</enabled><send>{}</send><receive>{}</receive><feedback>0</feedback><noDuplicates>0</noDuplicates><connections>1111111111</connections><triggers><trigger><var>{}</var><condition>ANY</condition></trigger></triggers><path><partial><type>CONSTANT</type><conversion>STRING</conversion><value>{}</value><scaleMin>0</scaleMin><scaleMax>1</scaleMax></partial></path><arguments>{a}</arguments></osc>",
            u8::from(send),
            u8::from(receive),
            cdata("x"),
            cdata(path)
        );
    }

    fn write(&self, out: &mut String) {
        let _ = write!(
            out,
            "<node ID='{}' type='{}'><properties>{}</properties><values>{}</values>",
            node_id(&self.path),
            self.kind,
            self.props,
            self.values
        );
        if !self.messages.is_empty() {
            let _ = write!(out, "<messages>{}</messages>", self.messages);
        }
        if !self.children.is_empty() {
            out.push_str("<children>");
            for c in &self.children {
                c.write(out);
            }
            out.push_str("</children>");
        }
        out.push_str("</node>");
    }
}

enum Arg {
    Value {
        key: &'static str,
        conversion: &'static str,
        lo: f64,
        hi: f64,
    },
    Constant {
        conversion: &'static str,
        value: String,
    },
}

/// The document for `d`. TouchOSC's connection 1 is set to the daemon's
/// host and port in the app; `target.reply_port` is its receive port.
pub fn touchosc_xml(d: &Describe, target: &Target) -> String {
    let plan = plan(d);
    let mut pager = Node::new("PAGER", "/pager", "pages", (0, 0, WIDTH, HEIGHT));
    pager.prop_b("tabbar", true);
    pager.prop_b("tabLabels", true);
    pager.prop_i("tabbarSize", i64::from(TABBAR));
    pager.value("page", "0");
    for p in &plan.pages {
        pager.children.push(page(p));
    }
    pager.children.push(snapshot_page(&plan.manual));

    let mut root = Node::new("GROUP", "/", "rackd", (0, 0, WIDTH, HEIGHT));
    root.prop_c("color", (0.0, 0.0, 0.0));
    root.prop_s("script", &root_script(d, target));
    root.children.push(pager);
    let mut out = String::from("<?xml version='1.0' encoding='UTF-8'?>\n<lexml version='3'>");
    root.write(&mut out);
    out.push_str("</lexml>\n");
    out
}

fn page_group(p_key: &str, title: &str) -> Node {
    let mut g = Node::new(
        "GROUP",
        &format!("/pager/{p_key}"),
        p_key,
        (0, TABBAR, WIDTH, HEIGHT - TABBAR),
    );
    g.prop_s("tabLabel", title);
    g.prop_c("color", (0.12, 0.12, 0.14));
    g
}

fn page(p: &Page) -> Node {
    let mut g = page_group(&p.key, &p.title);
    let n = p.params.len() + p.meters.len();
    let cols: i32 = if n > 24 { 12 } else { 8 };
    let rows = (n as i32 + cols - 1) / cols.max(1);
    let cell_w = (WIDTH - 2 * MARGIN) / cols;
    let cell_h = ((HEIGHT - TABBAR - 2 * MARGIN) / rows.max(1)).min(320);
    let cells = p
        .params
        .iter()
        .map(|d| Cell::Param(d))
        .chain(p.meters.iter().map(|m| Cell::Meter(m)));
    for (i, c) in cells.enumerate() {
        let (col, row) = (i as i32 % cols, i as i32 / cols);
        let frame = (
            MARGIN + col * cell_w,
            MARGIN + row * cell_h,
            cell_w - 4,
            cell_h - 4,
        );
        match c {
            Cell::Param(d) => g.children.extend(param(&g.path, d, frame)),
            Cell::Meter(m) => g.children.extend(meter(&g.path, m, frame)),
        }
    }
    g
}

enum Cell<'a> {
    Param(&'a DescribedParam),
    Meter(&'a DescribedMeter),
}

/// A label with the name, the control, a label with the value.
fn param(parent: &str, d: &DescribedParam, (x, y, w, h): (i32, i32, i32, i32)) -> Vec<Node> {
    let id = key(&d.address);
    let path = |part: &str| format!("{parent}/{id}/{part}");
    let label_h = (h / 6).clamp(14, 28);
    let mut name = Node::new(
        "LABEL",
        &path("name"),
        &format!("name{id}"),
        (x, y, w, label_h),
    );
    name.value("text", &d.spec.name);
    let mut value = Node::new(
        "LABEL",
        &path("value"),
        &format!("value{id}"),
        (x, y + h - label_h, w, label_h),
    );
    value.value("text", &d.value.to_string());
    value.osc(
        &d.address,
        &[Arg::Value {
            key: "text",
            conversion: "STRING",
            lo: 0.0,
            hi: 1.0,
        }],
        false,
        true,
    );
    let body = (x, y + label_h, w, h - 2 * label_h);
    let mut nodes = vec![name];
    match &d.spec.kind {
        ParamKind::Continuous {
            min, max, taper, ..
        } => {
            let mut f = Node::new("FADER", &path("fader"), &format!("ctl{id}"), body);
            f.value("x", &format!("{}", d.spec.to_norm(&d.value)));
            if *taper == Taper::Log {
                // TouchOSC scales linearly: the fader position is the parameter's /norm.
                f.osc(&addr::norm(&d.address), &[float01()], true, true);
            } else {
                f.osc(
                    &d.address,
                    &[Arg::Value {
                        key: "x",
                        conversion: "FLOAT",
                        lo: *min,
                        hi: *max,
                    }],
                    true,
                    true,
                );
            }
            nodes.push(f);
        }
        ParamKind::Stepped { min, max } if step_buttons(*min, *max).is_some() => {
            let choices: Vec<(String, Arg)> = step_buttons(*min, *max)
                .unwrap_or_default()
                .into_iter()
                .map(|v| {
                    (
                        v.to_string(),
                        Arg::Constant {
                            conversion: "INTEGER",
                            value: v.to_string(),
                        },
                    )
                })
                .collect();
            nodes.extend(buttons(&path, &id, &d.address, choices, body));
        }
        ParamKind::Stepped { min, max } => {
            let mut f = Node::new("FADER", &path("fader"), &format!("ctl{id}"), body);
            f.value("x", &format!("{}", d.spec.to_norm(&d.value)));
            f.osc(
                &d.address,
                &[Arg::Value {
                    key: "x",
                    conversion: "INTEGER",
                    lo: *min as f64,
                    hi: *max as f64,
                }],
                true,
                true,
            );
            nodes.push(f);
        }
        ParamKind::Switch => {
            let mut b = Node::new("BUTTON", &path("button"), &format!("ctl{id}"), body);
            b.prop_i("buttonType", 1);
            b.value("x", "0");
            b.osc(
                &d.address,
                &[Arg::Value {
                    key: "x",
                    conversion: "INTEGER",
                    lo: 0.0,
                    hi: 1.0,
                }],
                true,
                true,
            );
            nodes.push(b);
        }
        ParamKind::Enum { labels } => {
            let choices: Vec<(String, Arg)> = labels
                .iter()
                .map(|l| {
                    (
                        l.clone(),
                        Arg::Constant {
                            conversion: "STRING",
                            value: l.clone(),
                        },
                    )
                })
                .collect();
            nodes.extend(buttons(&path, &id, &d.address, choices, body));
        }
    }
    nodes.push(value);
    nodes
}

/// A grid of buttons, one per choice, each sending its constant.
fn buttons(
    path: &dyn Fn(&str) -> String,
    id: &str,
    address: &str,
    choices: Vec<(String, Arg)>,
    (bx, by, bw, bh): (i32, i32, i32, i32),
) -> Vec<Node> {
    let n = choices.len().max(1) as i32;
    let cols = (1..=n).find(|c| c * c >= n).unwrap_or(1);
    let rows = (n + cols - 1) / cols;
    let (w, h) = ((bw / cols).max(1), (bh / rows).max(1));
    choices
        .into_iter()
        .enumerate()
        .map(|(i, (label, arg))| {
            let (c, r) = (i as i32 % cols, i as i32 / cols);
            let mut b = Node::new(
                "BUTTON",
                &path(&format!("choice{i}")),
                &format!("ctl{id}_{}", key(&label)),
                (bx + c * w, by + r * h, w - 2, h - 2),
            );
            b.prop_i("buttonType", 0);
            b.prop_s("tag", &label);
            b.value("x", "0");
            b.osc(address, &[arg], true, false);
            b
        })
        .collect()
}

fn float01() -> Arg {
    Arg::Value {
        key: "x",
        conversion: "FLOAT",
        lo: 0.0,
        hi: 1.0,
    }
}

/// One bar per channel, named `meter<address>_<n>`; the root script moves them.
fn meter(parent: &str, m: &DescribedMeter, (x, y, w, h): (i32, i32, i32, i32)) -> Vec<Node> {
    let id = key(&m.address);
    let mut name = Node::new(
        "LABEL",
        &format!("{parent}/{id}/name"),
        &format!("name{id}"),
        (x, y, w, 20),
    );
    name.value("text", &format!("{} {}", m.point, m.quantity));
    let mut nodes = vec![name];
    let bar_w = w / i32::from(m.channels.max(1));
    for c in 0..m.channels {
        let mut f = Node::new(
            "FADER",
            &format!("{parent}/{id}/bar{c}"),
            &format!("meter{id}_{}", c + 1),
            (x + i32::from(c) * bar_w, y + 22, bar_w - 2, h - 24),
        );
        f.prop_b("interactive", false);
        f.value("x", "0");
        nodes.push(f);
    }
    nodes
}

fn snapshot_page(manual: &[String]) -> Node {
    let mut g = page_group("snapshots", "snapshots");
    let mut song = Node::new(
        "LABEL",
        "/pager/snapshots/song",
        "snapshot_song",
        (MARGIN, MARGIN, 600, 40),
    );
    song.value("text", "");
    for a in [addr::SNAPSHOT_SAVED, addr::SNAPSHOT_RECALLED] {
        song.osc(
            a,
            &[Arg::Value {
                key: "text",
                conversion: "STRING",
                lo: 0.0,
                hi: 1.0,
            }],
            false,
            true,
        );
    }
    g.children.push(song);
    let button = |name: &str, label: &str, y: i32, send: String| {
        let mut b = Node::new(
            "BUTTON",
            &format!("/pager/snapshots/{name}"),
            name,
            (MARGIN, y, 300, 60),
        );
        b.prop_i("buttonType", 0);
        b.prop_s("tag", label);
        b.value("x", "0");
        b.prop_s(
            "script",
            &format!("function onValueChanged(key)\n  if key == 'x' and self.values.x == 1 then\n    {send}\n  end\nend\n"),
        );
        b
    };
    let with_song = |a: &str| {
        format!(
            "local song = root:findByName('snapshot_song', true).values.text\n    if song ~= '' then sendOSC({{'{a}', {{{{tag = 's', value = song}}}}}}) end"
        )
    };
    g.children.push(button(
        "snapshot_save",
        "save",
        60,
        with_song(addr::SNAPSHOT_SAVE),
    ));
    g.children.push(button(
        "snapshot_recall",
        "recall",
        130,
        with_song(addr::SNAPSHOT_RECALL),
    ));
    g.children.push(button(
        "snapshot_undo",
        "undo recall",
        200,
        format!("sendOSC({{'{}', {{}}}})", addr::RECALL_UNDO),
    ));
    for (i, dev) in manual.iter().enumerate() {
        g.children.push(button(
            &format!("confirm_{}", key(dev)),
            &format!("confirm {dev}"),
            270 + 70 * i as i32,
            format!(
                "sendOSC({{'{}', {{{{tag = 's', value = '{}'}}}}}})",
                addr::RECALL_CONFIRM,
                dev.replace('\'', "")
            ),
        ));
    }
    g
}

/// Subscribes on load and every few seconds; moves the meter bars.
fn root_script(d: &Describe, target: &Target) -> String {
    let mut s = String::new();
    s.push_str("-- rackd: feedback subscription and meters (generated by rackd surface export)\n");
    s.push_str("local patterns = {");
    for p in subscribe_patterns() {
        let _ = write!(s, "'{p}', ");
    }
    s.push_str("}\n");
    let _ = writeln!(
        s,
        "local reply_port = {}",
        target
            .reply_port
            .map_or("nil".to_string(), |p| p.to_string())
    );
    s.push_str("local meters = {\n");
    for m in &d.meters {
        let (lo, hi) = meter_range(&m.quantity);
        let _ = writeln!(
            s,
            "  ['{}'] = {{ name = 'meter{}', lo = {lo}, hi = {hi}, n = {} }},",
            m.address,
            key(&m.address),
            m.channels
        );
    }
    s.push_str("}\n");
    let _ = write!(
        s,
        r#"local last = 0
local function subscribe()
  local args = {{}}
  if reply_port then table.insert(args, {{ tag = 'i', value = reply_port }}) end
  for _, p in ipairs(patterns) do table.insert(args, {{ tag = 's', value = p }}) end
  sendOSC({{ '{sub}', args }})
  last = getMillis()
end
function init()
  subscribe()
end
function update()
  if getMillis() - last >= {renew} then subscribe() end
end
function onReceiveOSC(message, connections)
  local m = meters[message[1]]
  if not m then return end
  local args = message[2]
  for i = 1, m.n do
    local bar = self:findByName(m.name .. '_' .. i, true)
    if bar and args[i] then
      bar.values.x = math.max(0, math.min(1, (args[i].value - m.lo) / (m.hi - m.lo)))
    end
  end
end
"#,
        sub = addr::SUBSCRIBE,
        renew = super::RENEW_MS
    );
    s
}

#[cfg(test)]
mod tests {
    use super::super::tests::rack;
    use super::*;

    #[test]
    fn faders_scale_to_real_units_or_norm() {
        let xml = touchosc_xml(
            &rack(),
            &Target {
                host: "h".into(),
                port: 7770,
                reply_port: Some(9000),
            },
        );
        assert!(xml.starts_with("<?xml version='1.0' encoding='UTF-8'?>\n<lexml version='3'>"));
        // b1_gain: linear, real units -24..24.
        assert!(xml.contains("<value><![CDATA[/chain/eq/b1_gain]]></value><scaleMin>0</scaleMin><scaleMax>1</scaleMax></partial></path><arguments><partial><type>VALUE</type><conversion>FLOAT</conversion><value><![CDATA[x]]></value><scaleMin>-24</scaleMin><scaleMax>24</scaleMax>"), "{xml}");
        // b1_freq: log, so its /norm.
        assert!(xml.contains("<![CDATA[/chain/eq/b1_freq/norm]]>"));
        assert!(xml.contains("local reply_port = 9000"));
        assert!(
            xml.contains(
                "['/meter/out/peak'] = { name = 'meter_meter_out_peak', lo = -60, hi = 6, n = 2 }"
            ),
            "{xml}"
        );
        assert_eq!(node_id("/a"), node_id("/a"));
        assert_ne!(node_id("/a"), node_id("/b"));
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
    }
}
