//! A fast path for the common shape of an input line, with serde_json as the authority.
//!
//! Most lines look like `{"timestamp":1700000000000,"source":"sensor-3","value":45.06}`.
//! [`scan`] reads exactly that family of objects (the keys `timestamp`, `source`, `value` and
//! `id` in any order, each at most once, with JSON whitespace anywhere between tokens but the
//! line feed that ends the line) and
//! returns `None` for anything else: another key, `event_type`, `null`, a string with an
//! escape, an exponent, a number with more than 15 significant digits, a syntax error. The
//! caller then parses the line with serde_json, which decides what the line means and words
//! every error. So the fast path changes only the time a line takes, never its outcome:
//! - what it accepts, serde_json accepts with the same values (the tests check this against
//!   serde_json on generated lines);
//! - a value it converts is one both convert exactly: an integer that fits `u64`, or a
//!   decimal of at most 15 significant digits and 22 decimals with no exponent, which is
//!   `m / 10^k` with `m < 2^53` and `k <= 22` and so correctly rounded by any conversion
//!   that multiplies or divides exactly by a power of ten, serde_json's included.
//!
//! The scan reads the line once, byte by byte, and converts numbers as it reads their digits:
//! no string is built, no map of fields.

/// The fields of a line the fast path read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Fields<'a> {
    pub(super) timestamp: Option<u64>,
    /// Valid UTF-8 (checked), left as bytes for callers that do not need it as `str`.
    pub(super) source: &'a [u8],
    pub(super) value: f64,
}

/// Reads the line at the start of `text` (up to its first `\n`, or the end) if it has the
/// common shape, and returns its fields and its length without the `\n`; `None` sends it to
/// serde_json. The line is scanned once: its end is found by reading it.
pub(super) fn scan(text: &[u8]) -> Option<(Fields<'_>, usize)> {
    let mut s = Scanner { bytes: text, at: 0 };
    s.skip_ws();
    s.expect(b'{')?;
    let (mut timestamp, mut source, mut value, mut id) = (None, None, None, false);
    s.skip_ws();
    loop {
        match s.key()? {
            Key::Timestamp if timestamp.is_none() => timestamp = Some(s.integer()?),
            Key::Source if source.is_none() => source = Some(s.string()?),
            Key::Value if value.is_none() => value = Some(s.decimal()?),
            Key::Id if !id => {
                s.integer()?;
                id = true;
            }
            _ => return None,
        }
        s.skip_ws();
        match s.next()? {
            b',' => s.skip_ws(),
            b'}' => break,
            _ => return None,
        }
    }
    s.skip_ws();
    if !matches!(s.peek(), None | Some(b'\n')) {
        return None;
    }
    let source = source?;
    if !source.is_ascii() && std::str::from_utf8(source).is_err() {
        return None;
    }
    let fields = Fields {
        timestamp,
        source,
        value: value?,
    };
    Some((fields, s.at))
}

/// The keys the fast path knows.
enum Key {
    Timestamp,
    Source,
    Value,
    Id,
}

/// `10^k` for `k <= 22`: every one exact as an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    #[inline(always)]
    fn expect(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    /// JSON's whitespace but line feed, which ends the line: space, tab, carriage return.
    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// A known key with its quotes, and the `:` after it.
    #[inline(always)]
    fn key(&mut self) -> Option<Key> {
        let rest = &self.bytes[self.at..];
        let (key, len) = if rest.starts_with(b"\"timestamp\"") {
            (Key::Timestamp, 11)
        } else if rest.starts_with(b"\"source\"") {
            (Key::Source, 8)
        } else if rest.starts_with(b"\"value\"") {
            (Key::Value, 7)
        } else if rest.starts_with(b"\"id\"") {
            (Key::Id, 4)
        } else {
            return None;
        };
        self.at += len;
        self.skip_ws();
        self.expect(b':')?;
        self.skip_ws();
        Some(key)
    }

    /// A string with no escape and no control character, without its quotes.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let len = self.bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        self.at = start + len;
        self.expect(b'"')?;
        Some(&self.bytes[start..start + len])
    }

    /// Digits at the cursor, as `(value, count)`; the value wraps beyond 19 digits.
    #[inline(always)]
    fn digits(&mut self) -> (u64, usize) {
        let start = self.at;
        let mut n = 0u64;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            self.at += 1;
        }
        (n, self.at - start)
    }

    /// A non-negative JSON integer that fits `u64`.
    #[inline(always)]
    fn integer(&mut self) -> Option<u64> {
        let (first, start) = (self.peek()?, self.at);
        let (mut n, count) = self.digits();
        if count == 0 || (first == b'0' && count > 1) || count > 20 {
            return None;
        }
        if count == 20 {
            // Perhaps beyond u64::MAX: computed again, checked.
            n = self.bytes[start..self.at].iter().try_fold(0u64, |n, &d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })?;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(n)
    }

    /// A JSON number without exponent, with at most 15 significant digits and 22 decimals:
    /// `m / 10^k` for an integer `m < 2^53` and `k <= 22`, both exact as `f64`, so that the
    /// one division rounds correctly (Clinger's fast path).
    #[inline(always)]
    fn decimal(&mut self) -> Option<f64> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let first = self.peek()?;
        let (int, int_digits) = self.digits();
        if int_digits == 0 || (first == b'0' && int_digits > 1) || int_digits > 15 {
            return None;
        }
        let (mut m, mut decimals) = (int, 0);
        let mut significant = if int == 0 { 0 } else { int_digits };
        if self.peek() == Some(b'.') {
            self.at += 1;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                m = m.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                if m != 0 {
                    significant += 1;
                }
                decimals += 1;
                self.at += 1;
                if significant > 15 || decimals > 22 {
                    return None;
                }
            }
            if decimals == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        let value = m as f64 / POW10[decimals];
        Some(if negative { -value } else { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What serde_json makes of a line, in the fast path's terms.
    #[derive(serde::Deserialize)]
    struct Reference<'a> {
        #[allow(dead_code)]
        id: Option<u64>,
        timestamp: Option<u64>,
        #[serde(borrow)]
        source: std::borrow::Cow<'a, str>,
        value: f64,
        #[allow(dead_code)]
        event_type: Option<weir::event::EventType>,
    }

    /// The fast path on one line, which must end where the line ends.
    fn scan_one(line: &str) -> Option<Fields<'_>> {
        let (fields, len) = scan(line.as_bytes())?;
        assert_eq!(len, line.len(), "{line}");
        Some(fields)
    }

    fn check(line: &str) {
        if let Some(fast) = scan_one(line) {
            let slow: Reference<'_> = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("the fast path took {line:?}, serde_json: {e}"));
            assert_eq!(fast.timestamp, slow.timestamp, "{line}");
            assert_eq!(fast.source, slow.source.as_bytes(), "{line}");
            assert_eq!(
                fast.value.to_bits(),
                slow.value.to_bits(),
                "{line}: {} against {}",
                fast.value,
                slow.value
            );
        }
    }

    #[test]
    fn the_common_shape_is_read() {
        let f = scan_one(r#"{"timestamp":1700000000000,"source":"sensor-3","value":45.06}"#);
        assert_eq!(
            f,
            Some(Fields {
                timestamp: Some(1_700_000_000_000),
                source: b"sensor-3",
                value: 45.06
            })
        );
        let f = scan_one(" { \"value\" : -0.5 ,\t\"source\":\"é\", \"id\": 7 }\r");
        assert_eq!(
            f.map(|f| (f.timestamp, f.source, f.value)),
            Some((None, "é".as_bytes(), -0.5))
        );
        // In a block, a line ends at its line feed, which is not whitespace to skip.
        let block = b"{\"source\":\"a\",\"value\":1} \n{\"source\":\"b\",\"value\":2}\n";
        let (first, len) = scan(block).expect("the first line");
        assert_eq!((first.source, first.value, len), (&b"a"[..], 1.0, 25));
        let second = scan(&block[len + 1..]).map(|(f, n)| (f.source, n));
        assert_eq!(second, Some((&b"b"[..], 24)));
        assert_eq!(scan(b"{\"source\":\"a\",\n\"value\":1}"), None);
    }

    #[test]
    fn anything_else_goes_to_serde_json() {
        for line in [
            r#"{"timestamp":1,"source":"a","value":1,"event_type":"Alert"}"#,
            r#"{"timestamp":null,"source":"a","value":1}"#,
            r#"{"source":"a\"b","value":1}"#,
            r#"{"source":"a","value":1e3}"#,
            r#"{"source":"a","value":1234567890.1234567}"#,
            r#"{"source":"a","value":01}"#,
            r#"{"source":"a","value":1.}"#,
            r#"{"source":"a","value":.5}"#,
            r#"{"source":"a","value":1,"value":2}"#,
            r#"{"source":"a","value":1,}"#,
            r#"{"source":"a","value":1} x"#,
            r#"{"source":"a","value":1,"other":2}"#,
            r#"{"timestamp":18446744073709551616,"source":"a","value":1}"#,
            r#"{"timestamp":-1,"source":"a","value":1}"#,
            r#"{"timestamp":1.0,"source":"a","value":1}"#,
            r#"{"source":"a"}"#,
            r#"{"value":1}"#,
            "{\"source\":\"a\tb\",\"value\":1}",
            r#"{}"#,
            r#"{"#,
        ] {
            assert_eq!(scan_one(line), None, "{line}");
            check(line);
        }
    }

    /// Numbers in the forms where JSON and the fast path's limits meet: leading zeros, bare
    /// dots, exponents, long mantissas, huge integers.
    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,25})?([eE][+-]?[0-9]{1,3})?",
            "-?[0-9]{1,4}(\\.[0-9]{0,3})?",
            any::<f64>().prop_map(|v| v.to_string()),
            any::<u64>().prop_map(|v| v.to_string()),
            (any::<u32>(), 0i32..6).prop_map(|(m, k)| (f64::from(m) / 10f64.powi(k)).to_string()),
        ]
    }

    /// Strings, some with escapes or control characters.
    fn string() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9-]{0,12}",
            "[^\"\\\\]{0,6}",
            "a\\\\n",
            "a[\\x00-\\x1f]"
        ]
    }

    /// Lines with a source, a value and perhaps a timestamp and an id, in any order and
    /// spacing, now and then a member twice or one missing.
    fn line() -> impl Strategy<Value = String> {
        let ws = prop::sample::select(vec!["", " ", "\t", "\r", "  "]);
        let member = prop_oneof![
            number().prop_map(|n| format!("\"timestamp\":{n}")),
            number().prop_map(|n| format!("\"value\":{n}")),
            number().prop_map(|n| format!("\"id\":{n}")),
            string().prop_map(|s| format!("\"source\":\"{s}\"")),
        ];
        let usual = (
            string(),
            number(),
            prop::option::of(number()),
            prop::option::of(number()),
        )
            .prop_flat_map(|(s, v, t, i)| {
                let mut members = vec![format!("\"source\":\"{s}\""), format!("\"value\":{v}")];
                members.extend(t.map(|t| format!("\"timestamp\":{t}")));
                members.extend(i.map(|i| format!("\"id\":{i}")));
                Just(members).prop_shuffle()
            });
        let members = prop_oneof![usual, prop::collection::vec(member, 0..5)];
        (members, ws.clone(), ws).prop_map(|(members, outer, inner)| {
            let body: Vec<String> = members
                .into_iter()
                .map(|m| format!("{inner}{m}{inner}"))
                .collect();
            format!("{outer}{{{}}}{outer}", body.join(","))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn the_fast_path_agrees_with_serde_json(line in line()) {
            check(&line);
        }

        #[test]
        fn plain_events_take_the_fast_path(ts in any::<u64>(), m in 0u32..10_000_000, k in 0i32..5) {
            let value = f64::from(m) / 10f64.powi(k);
            let line = format!(r#"{{"timestamp":{ts},"source":"sensor-{m}","value":{value}}}"#);
            let fast = scan_one(&line).expect("the common shape");
            prop_assert_eq!(fast.value.to_bits(), value.to_bits());
            check(&line);
        }
    }
}
