//! The `lexml` writer: a node with its properties, values, OSC messages
//! and children, written as TouchOSC's XML.

use std::fmt::Write as _;

/// XML-escaped text inside CDATA (a `]]>` is split).
pub(super) fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// A stable id for a node from its path in the document (FNV-1a, shown as
/// a UUID), so the same rack gives the same file.
pub(super) fn node_id(path: &str) -> String {
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
pub(super) struct Node {
    pub(super) kind: &'static str,
    pub(super) path: String,
    pub(super) props: String,
    pub(super) values: String,
    pub(super) messages: String,
    pub(super) children: Vec<Node>,
}

impl Node {
    pub(super) fn new(
        kind: &'static str,
        path: &str,
        name: &str,
        frame: (i32, i32, i32, i32),
    ) -> Node {
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

    pub(super) fn prop_s(&mut self, k: &str, v: &str) {
        let _ = write!(
            self.props,
            "<property type='s'><key>{}</key><value>{}</value></property>",
            cdata(k),
            cdata(v)
        );
    }

    pub(super) fn prop_b(&mut self, k: &str, v: bool) {
        let _ = write!(
            self.props,
            "<property type='b'><key>{}</key><value>{}</value></property>",
            cdata(k),
            u8::from(v)
        );
    }

    pub(super) fn prop_i(&mut self, k: &str, v: i64) {
        let _ = write!(
            self.props,
            "<property type='i'><key>{}</key><value>{v}</value></property>",
            cdata(k)
        );
    }

    pub(super) fn prop_r(&mut self, k: &str, (x, y, w, h): (i32, i32, i32, i32)) {
        let _ = write!(
            self.props,
            "<property type='r'><key>{}</key><value><x>{x}</x><y>{y}</y><w>{w}</w><h>{h}</h></value></property>",
            cdata(k)
        );
    }

    pub(super) fn prop_c(&mut self, k: &str, (r, g, b): (f32, f32, f32)) {
        let _ = write!(
            self.props,
            "<property type='c'><key>{}</key><value><r>{r}</r><g>{g}</g><b>{b}</b><a>1</a></value></property>",
            cdata(k)
        );
    }

    pub(super) fn value(&mut self, k: &str, default: &str) {
        let _ = write!(
            self.values,
            "<value><key>{}</key><locked>0</locked><lockedDefaultCurrent>0</lockedDefaultCurrent><default>{}</default><defaultPull>0</defaultPull></value>",
            cdata(k),
            cdata(default)
        );
    }

    /// An OSC message: `send` on changes of `x`, `receive` feedback.
    pub(super) fn osc(&mut self, path: &str, args: &[Arg], send: bool, receive: bool) {
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

    pub(super) fn write(&self, out: &mut String) {
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

pub(super) enum Arg {
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
