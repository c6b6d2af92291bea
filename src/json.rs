//! The JSON every `--json` output and the HTTP API print: pretty, with floats rounded past
//! arithmetic noise and the characters a terminal may act on escaped. One writer, so the CLI
//! and the server give the same bytes for the same model.

use std::io::Write;

use serde::Serialize;

/// Write `value` as pretty JSON and a newline: what `--json` prints.
pub fn write_pretty<W: Write + ?Sized, T: Serialize + ?Sized>(
    out: &mut W,
    value: &T,
) -> Result<(), serde_json::Error> {
    let mut value = serde_json::to_value(value)?;
    round_floats(&mut value);
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, SafeJson::default());
    value.serialize(&mut ser)?;
    writeln!(out).map_err(serde_json::Error::io)
}

/// `value` as [`write_pretty`] writes it.
pub fn to_pretty_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    write_pretty(&mut out, value)?;
    Ok(out)
}

/// Pretty JSON with the characters JSON lets pass raw but a terminal may act on (DEL, C1,
/// U+2028/2029, the bidirectional controls) written as `\uXXXX`: the value read back is the
/// same, to the character. serde_json escapes the C0 controls already.
#[derive(Default)]
struct SafeJson(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for SafeJson {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if crate::format::acts_on_terminal(c) {
                w.write_all(&fragment.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", u32::from(c))?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// Round every non-integer number in `v` to 14 significant digits, so arithmetic noise
/// (`9559.999999999969`, `-765.0000000000002`) does not reach `--json`; integers and every
/// value with 14 digits or fewer stay exactly as they were.
pub fn round_floats(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(x) = n.as_f64()
                && x.is_finite()
                && x != 0.0
                && let Ok(r) = format!("{x:.13e}").parse::<f64>()
                && let Some(num) = serde_json::Number::from_f64(r)
            {
                *n = num;
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(round_floats),
        serde_json::Value::Object(o) => o.values_mut().for_each(round_floats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{round_floats, to_pretty_vec};

    #[test]
    fn json_escapes_what_acts_on_a_terminal_and_reads_back_the_same() {
        let value = serde_json::json!({"k\u{9b}": "a\u{1b}b\u{7f}c\u{85}d\u{202e}e\u{2028}f é\n"});
        let text = String::from_utf8(to_pretty_vec(&value).expect("serialize")).expect("UTF-8");
        assert_eq!(
            text,
            "{\n  \"k\\u009b\": \"a\\u001bb\\u007fc\\u0085d\\u202ee\\u2028f é\\n\"\n}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(back, value);
    }

    #[test]
    fn json_floats_lose_arithmetic_noise_only() {
        let mut v = serde_json::json!({
            "a": 9559.999999999969, "b": -765.0000000000002, "c": 1901.6399999999996,
            "p": 1.234e-30, "n": 42, "exact": 0.8817204301075, "zero": 0.0
        });
        round_floats(&mut v);
        assert_eq!(
            v.to_string(),
            r#"{"a":9560.0,"b":-765.0,"c":1901.64,"p":1.234e-30,"n":42,"exact":0.8817204301075,"zero":0.0}"#
        );
    }
}
