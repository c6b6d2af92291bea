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
    // Straight through the serializer, no `serde_json::Value` in between: the formatter rounds
    // the floats as [`round_floats`] would (the bytes are the same).
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
///
/// It also rounds every float that is a value (not a map key) as [`round_floats`] rounds a
/// `serde_json::Value`, an `f32` as the `f64` it converts to, so writing a model directly gives
/// the bytes its `Value` would.
#[derive(Default)]
struct SafeJson {
    pretty: serde_json::ser::PrettyFormatter<'static>,
    /// Between the start of an object key and its value: a float there is a key, kept as is.
    in_key: bool,
}

/// `x` rounded to 14 significant digits, as [`round_floats`] rounds a number (`x` finite).
fn round_float(x: f64) -> f64 {
    if x == 0.0 {
        return x;
    }
    // `{:.13e}` of a finite f64 is at most 22 bytes.
    let mut buf = [0u8; 32];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if write!(cursor, "{x:.13e}").is_err() {
        return x;
    }
    let len = usize::try_from(cursor.position()).unwrap_or(0);
    match std::str::from_utf8(&buf[..len]).ok().map(str::parse::<f64>) {
        Some(Ok(r)) if r.is_finite() => r,
        _ => x,
    }
}

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

    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, value: f32) -> std::io::Result<()> {
        if self.in_key {
            self.pretty.write_f32(w, value)
        } else {
            self.write_f64(w, f64::from(value))
        }
    }

    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, value: f64) -> std::io::Result<()> {
        if self.in_key {
            self.pretty.write_f64(w, value)
        } else {
            self.pretty.write_f64(w, round_float(value))
        }
    }

    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.begin_array(w)
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_array(w)
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_array_value(w)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.begin_object(w)
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_object(w)
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.in_key = true;
        self.pretty.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.in_key = false;
        self.pretty.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.pretty.end_object_value(w)
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
                && let Some(num) = serde_json::Number::from_f64(round_float(x))
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

    /// What `write_pretty` wrote before it serialized models directly: a `Value`, rounded.
    fn through_value<T: serde::Serialize>(value: &T) -> Vec<u8> {
        use serde::Serialize;
        let mut v = serde_json::to_value(value).expect("value");
        round_floats(&mut v);
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, super::SafeJson::default());
        v.serialize(&mut ser).expect("serialize");
        out.push(b'\n');
        out
    }

    #[test]
    fn json_written_directly_is_the_bytes_of_the_rounded_value() {
        #[derive(serde::Serialize)]
        struct Inner {
            f: f32,
            noise: f64,
            list: Vec<Option<f64>>,
            empty: Vec<u8>,
            #[serde(skip_serializing_if = "Option::is_none")]
            skipped: Option<u8>,
        }
        #[derive(serde::Serialize)]
        struct Outer {
            #[serde(flatten)]
            inner: Inner,
            by_int: std::collections::BTreeMap<i32, f64>,
            nothing: std::collections::BTreeMap<String, u8>,
            neg: i64,
            big: u64,
            zero: f64,
            neg_zero: f64,
            nan: f64,
            huge: f64,
            tiny: f64,
            text: &'static str,
            unit: (),
            tuple: (u8, f32),
            value: serde_json::Value,
        }
        let model = Outer {
            inner: Inner {
                f: 0.1,
                noise: 9559.999999999969,
                list: vec![Some(1901.6399999999996), None, Some(3.0)],
                empty: Vec::new(),
                skipped: None,
            },
            by_int: [(-3, 0.30000000000000004), (7, 1e300)].into(),
            nothing: Default::default(),
            neg: -42,
            big: u64::MAX,
            zero: 0.0,
            neg_zero: -0.0,
            nan: f64::NAN,
            huge: f64::MAX,
            tiny: 5e-324,
            text: "a\u{1b}b\u{202e}c\u{2028}",
            unit: (),
            tuple: (1, 2.5e-7),
            value: serde_json::json!({"x\u{9b}": [1.2345678901234567, -765.0000000000002, {}, []]}),
        };
        let direct = to_pretty_vec(&model).expect("serialize");
        assert_eq!(
            String::from_utf8(direct).expect("UTF-8"),
            String::from_utf8(through_value(&model)).expect("UTF-8")
        );
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
