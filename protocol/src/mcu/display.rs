//! What the LCD shows: six characters a strip (and a space between strips),
//! parameter names shortened from their ids, values in their units.

use super::CELL;
use crate::param::{ParamKind, ParamSpec, Unit, Value};

/// Characters of text a strip shows (the seventh is the gap to the next).
const TEXT: usize = CELL - 1;

/// A strip's seven LCD characters: `text` cut to six, centred (an odd
/// space goes to the right), then the gap.
pub fn cell(text: &str) -> [u8; CELL] {
    let t: Vec<u8> = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            }
        })
        .take(TEXT)
        .collect();
    let mut out = [b' '; CELL];
    let left = (TEXT - t.len()) / 2;
    out[left..left + t.len()].copy_from_slice(&t);
    out
}

/// A parameter id in at most six characters: the parts of the id joined in
/// camel case (`b1_gain` → `b1Gain`); when that is too long, each part
/// after its first letter loses its vowels (`return_gain` → `rtrnGn`), and
/// what is still too long is cut (`threshold` → `thresh`).
pub fn short_name(id: &str) -> String {
    let parts: Vec<&str> = id
        .split(['_', ' ', '-', '/'])
        .filter(|p| !p.is_empty())
        .collect();
    let camel = |parts: &[String]| -> String {
        parts
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut c = p.chars();
                match c.next() {
                    Some(f) if i > 0 => f.to_ascii_uppercase().to_string() + c.as_str(),
                    Some(f) => f.to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect()
    };
    let plain: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
    let joined = camel(&plain);
    if joined.chars().count() <= TEXT || parts.len() == 1 {
        return joined.chars().take(TEXT).collect();
    }
    let devowelled: Vec<String> = parts
        .iter()
        .map(|p| {
            let mut c = p.chars();
            let first = c.next().map(String::from).unwrap_or_default();
            first + &c.filter(|ch| !"aeiou".contains(*ch)).collect::<String>()
        })
        .collect();
    camel(&devowelled).chars().take(TEXT).collect()
}

/// The first of `candidates` that fits in six characters, else the last cut.
fn fit(candidates: &[String]) -> String {
    candidates
        .iter()
        .find(|c| c.chars().count() <= TEXT)
        .cloned()
        .unwrap_or_else(|| {
            candidates
                .last()
                .map(|c| c.chars().take(TEXT).collect())
                .unwrap_or_default()
        })
}

/// A value in its unit in at most six characters: `-3.5dB`, `120Hz`,
/// `1.2k`, `10.0ms`, `1.50s`, `4.0:1`, `100%`, `on`, an enum label.
pub fn format_value(spec: &ParamSpec, value: &Value) -> String {
    match (&spec.kind, value) {
        (ParamKind::Switch, v) => if v.as_f64().unwrap_or(0.0) != 0.0 {
            "on"
        } else {
            "off"
        }
        .into(),
        (ParamKind::Enum { .. }, Value::Text(label)) => fit(std::slice::from_ref(label)),
        (ParamKind::Stepped { .. }, v) => fit(&[format!("{}", v.as_f64().unwrap_or(0.0) as i64)]),
        (_, v) => {
            let x = v.as_f64().unwrap_or(0.0);
            fit(&number(spec.unit, x))
        }
    }
}

/// Ways to write `x` in `unit`, most precise first.
fn number(unit: Unit, x: f64) -> Vec<String> {
    // -0.0 shows as 0.
    let x = if x == 0.0 { 0.0 } else { x };
    let a = x.abs();
    match unit {
        Unit::Db | Unit::Dbfs => vec![
            format!("{x:.1}dB"),
            format!("{x:.1}"),
            format!("{x:.0}dB"),
            format!("{x:.0}"),
        ],
        Unit::Hz if a >= 1000.0 => {
            vec![format!("{:.1}k", x / 1000.0), format!("{:.0}k", x / 1000.0)]
        }
        Unit::Hz if a >= 100.0 => vec![format!("{x:.0}Hz")],
        Unit::Hz => vec![format!("{x:.1}Hz"), format!("{x:.0}Hz")],
        Unit::Ms if a >= 1000.0 => {
            vec![format!("{:.2}s", x / 1000.0), format!("{:.1}s", x / 1000.0)]
        }
        Unit::Ms if a >= 100.0 => vec![format!("{x:.0}ms")],
        Unit::Ms if a >= 10.0 => vec![format!("{x:.1}ms"), format!("{x:.0}ms")],
        Unit::Ms => vec![format!("{x:.2}ms"), format!("{x:.1}ms")],
        Unit::Ratio => vec![format!("{x:.1}:1"), format!("{x:.0}:1")],
        Unit::Percent if a >= 10.0 => vec![format!("{x:.0}%")],
        Unit::Percent => vec![format!("{x:.1}%")],
        Unit::None if a >= 100.0 => vec![format!("{x:.0}")],
        Unit::None if a >= 10.0 => vec![format!("{x:.1}")],
        Unit::None => vec![format!("{x:.2}"), format!("{x:.1}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> ParamSpec {
        ParamSpec::linear("gain", "Gain", Unit::Db, -24.0, 24.0, 0.0)
    }

    #[test]
    fn values_in_their_units_fit_six_characters() {
        let f = |spec: &ParamSpec, x: f64| format_value(spec, &Value::Float(x));
        assert_eq!(f(&db(), -3.5), "-3.5dB");
        assert_eq!(f(&db(), 12.0), "12.0dB");
        assert_eq!(f(&db(), -12.3), "-12.3");
        assert_eq!(f(&db(), -0.0), "0.0dB");
        let hz = ParamSpec::log("freq", "F", Unit::Hz, 10.0, 40_000.0, 1000.0);
        assert_eq!(f(&hz, 1234.0), "1.2k");
        assert_eq!(f(&hz, 20_000.0), "20.0k");
        assert_eq!(f(&hz, 120.0), "120Hz");
        assert_eq!(f(&hz, 31.5), "31.5Hz");
        let ms = ParamSpec::log("attack", "A", Unit::Ms, 0.1, 3000.0, 10.0);
        assert_eq!(f(&ms, 0.5), "0.50ms");
        assert_eq!(f(&ms, 10.0), "10.0ms");
        assert_eq!(f(&ms, 150.0), "150ms");
        assert_eq!(f(&ms, 1500.0), "1.50s");
        let ratio = ParamSpec::log("ratio", "R", Unit::Ratio, 1.0, 20.0, 2.0);
        assert_eq!(f(&ratio, 4.0), "4.0:1");
        assert_eq!(f(&ratio, 20.0), "20.0:1");
        let pct = ParamSpec::linear("mix", "M", Unit::Percent, 0.0, 100.0, 100.0);
        assert_eq!(f(&pct, 100.0), "100%");
        assert_eq!(f(&pct, 5.5), "5.5%");
        let q = ParamSpec::log("q", "Q", Unit::None, 0.1, 40.0, 0.707);
        assert_eq!(f(&q, 0.707), "0.71");
        let sw = ParamSpec::switch("on", "On", false);
        assert_eq!(format_value(&sw, &Value::Int(1)), "on");
        assert_eq!(format_value(&sw, &Value::Int(0)), "off");
        let e = ParamSpec::choice("link", "Link", &["stereo", "mid_side"], "stereo");
        assert_eq!(format_value(&e, &Value::Text("mid_side".into())), "mid_si");
        let st = ParamSpec::stepped("pos", "Pos", 0, 23, 0);
        assert_eq!(format_value(&st, &Value::Int(7)), "7");
    }

    #[test]
    fn names_from_ids() {
        assert_eq!(short_name("gain"), "gain");
        assert_eq!(short_name("b1_gain"), "b1Gain");
        assert_eq!(short_name("b1_freq"), "b1Freq");
        assert_eq!(short_name("threshold"), "thresh");
        assert_eq!(short_name("return_gain"), "rtrnGn");
        assert_eq!(short_name("send_gain"), "sndGn");
        assert_eq!(short_name("sc_hp_freq"), "scHpFr");
        assert_eq!(short_name(""), "");
    }

    #[test]
    fn cells_are_centred_and_cut() {
        assert_eq!(&cell("gain"), b" gain  ");
        assert_eq!(&cell("-3.5dB"), b"-3.5dB ");
        assert_eq!(&cell("on"), b"  on   ");
        assert_eq!(&cell("abcdefghij"), b"abcdef ");
        assert_eq!(&cell(""), b"       ");
        assert_eq!(&cell("é"), b"  ?    ");
    }
}
