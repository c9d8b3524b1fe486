//! The quick first reading of a token payload, for the shape this gateway
//! mints and most issuers write: one flat JSON object whose values are
//! strings without escapes, integers, `true`/`false`/`null`, or flat arrays
//! of those. It takes one pass over the bytes with no serde machinery.
//!
//! It never decides that a payload is bad: at the first thing outside that
//! shape (an escape, a control byte, a fraction or exponent, a nested object
//! or array, a long number, anything invalid) it gives up and the full
//! serde_json reading in `payload.rs` decides. So whatever it accepts is
//! valid JSON, and it reads it exactly as that full reading would (the
//! differential test below and the `payload_read` fuzz target hold it to that).

use super::payload::{Claim, Payload};
use std::borrow::Cow;

/// Reads `json` into `payload` (a default one) when it has the flat shape;
/// `None` for anything else, with `payload` then partly filled.
pub(super) fn read<'a>(json: &'a str, payload: &mut Payload<'a>) -> Option<()> {
    let mut text = Scanner { json, at: 0 };
    payload.json = json;
    text.skip_whitespace();
    text.expect(b'{')?;
    text.skip_whitespace();
    if !text.take(b'}') {
        loop {
            text.expect(b'"')?;
            let name = text.string_rest()?;
            text.skip_whitespace();
            text.expect(b':')?;
            text.skip_whitespace();
            let mut ignored = Claim::Absent;
            // A repeated member counts as its last occurrence.
            text.value_into(payload.member(name).unwrap_or(&mut ignored))?;
            text.skip_whitespace();
            if text.take(b'}') {
                break;
            }
            text.expect(b',')?;
            text.skip_whitespace();
        }
    }
    text.skip_whitespace();
    (text.at == text.json.len()).then_some(())
}

/// For the `payload_read` fuzz target, not for the gateway: whether the
/// quick reading of `bytes` (when it does not decline) agrees with the full
/// one, value for value.
#[doc(hidden)]
pub fn quick_and_full_payload_readings_agree(bytes: &[u8]) -> bool {
    let Ok(json) = std::str::from_utf8(bytes) else {
        return true; // neither reading gets past UTF-8
    };
    let mut quick = Payload::default();
    match read(json, &mut quick) {
        Some(()) => Payload::read_fully(json).ok() == Some(quick),
        None => true,
    }
}

/// Integers with more digits than this may not fit a `u64`; the full
/// reading handles them (as floats, the way serde_json does).
const MAX_DIGITS: usize = 19;

/// A value other than an array, as far as `Claim` tells values apart.
enum Scalar<'a> {
    Text(&'a str),
    Number(u64),
    /// `true`, `false` or `null`.
    Other,
}

struct Scanner<'a> {
    json: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.json.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    /// Steps over `byte` when it comes next.
    fn take(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.at += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.take(byte).then_some(())
    }

    /// JSON's four whitespace bytes.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// The rest of a string whose opening quote was taken: its text, when it
    /// has no escape and no control byte.
    #[inline(always)]
    fn string_rest(&mut self) -> Option<&'a str> {
        let start = self.at;
        let end = start + plain_text_len(&self.bytes()[start..])?;
        if self.bytes()[end] != b'"' {
            return None;
        }
        let text = self.json.get(start..end);
        self.at = end + 1;
        // Both ends are next to an ASCII quote, so `get` always finds whole
        // characters there.
        text
    }

    /// One value (a string, an integer, a literal or a flat array), put in
    /// `slot`. Each kind is written straight into the slot: a `Claim`
    /// returned through memory and read back at once stalls the CPU on
    /// store forwarding, about a tenth of the whole reading.
    #[inline(always)]
    fn value_into(&mut self, slot: &mut Claim<'a>) -> Option<()> {
        if self.take(b'[') {
            *slot = Claim::List(self.flat_array()?);
            return Some(());
        }
        match self.scalar()? {
            Scalar::Text(text) => *slot = Claim::Text(Cow::Borrowed(text)),
            Scalar::Number(n) => *slot = Claim::Number(n),
            Scalar::Other => *slot = Claim::Other,
        }
        Some(())
    }

    /// A string, an integer or a literal.
    #[inline(always)]
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.string_rest().map(Scalar::Text)
            }
            b'-' | b'0'..=b'9' => self.integer().map(Scalar::Number),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => None,
        }
    }

    #[inline(always)]
    fn literal(&mut self, word: &[u8]) -> Option<Scalar<'a>> {
        self.bytes()[self.at..].starts_with(word).then(|| {
            self.at += word.len();
            Scalar::Other
        })
    }

    /// An integer as a NumericDate: negative ones are 0, as in the full reading.
    #[inline(always)]
    fn integer(&mut self) -> Option<u64> {
        let negative = self.take(b'-');
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        let digits = &self.bytes()[start..self.at];
        let well_formed = match digits {
            [] => false,
            [b'0', _, ..] => false, // a leading zero: not JSON
            _ => digits.len() <= MAX_DIGITS,
        };
        // A fraction or an exponent goes to the full reading.
        if !well_formed || matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let value = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        Some(if negative { 0 } else { value })
    }

    /// The rest of an array whose `[` was taken, with scalar items only.
    fn flat_array(&mut self) -> Option<Vec<Cow<'a, str>>> {
        let mut texts = Vec::new();
        self.skip_whitespace();
        if self.take(b']') {
            return Some(texts);
        }
        loop {
            if let Scalar::Text(text) = self.scalar()? {
                texts.push(Cow::Borrowed(text));
            }
            self.skip_whitespace();
            if self.take(b']') {
                return Some(texts);
            }
            self.expect(b',')?;
            self.skip_whitespace();
        }
    }
}

/// Where the plain text at the start of `bytes` ends: the first quote,
/// backslash or control byte, eight bytes per step. In each 8-byte word,
/// `x - 0x01..01 & !x & 0x80..80` marks the zero bytes of `x` (and `0x20..20`
/// in place of `0x01..01` the bytes below 0x20); a mark can be wrong only
/// above a right one, so the lowest mark is the answer.
fn plain_text_len(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = ONES * b'"' as u64;
    const BACKSLASHES: u64 = ONES * b'\\' as u64;
    const SPACES: u64 = ONES * b' ' as u64;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x;
    let mut at = 0;
    while let Some(&chunk) = bytes.get(at..).and_then(|rest| rest.first_chunk::<8>()) {
        let x = u64::from_le_bytes(chunk);
        let marks =
            (zero_bytes(x ^ QUOTES) | zero_bytes(x ^ BACKSLASHES) | (x.wrapping_sub(SPACES) & !x))
                & HIGH;
        if marks != 0 {
            return Some(at + marks.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let end = bytes
        .get(at..)?
        .iter()
        .position(|&b| matches!(b, b'"' | b'\\' | 0..=0x1f))?;
    Some(at + end)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The full reading of `json`, without the quick one.
    fn full(json: &str) -> Option<Payload<'_>> {
        Payload::read_fully(json).ok()
    }

    /// The quick reading alone.
    fn quick_reading(json: &str) -> Option<Payload<'_>> {
        let mut payload = Payload::default();
        read(json, &mut payload).map(|()| payload)
    }

    #[test]
    fn plain_text_ends_at_the_first_quote_backslash_or_control_byte() {
        let mut text = *b"abcdefghijklmnopqrstuvwxyz0123456789\xe9\xff";
        assert_eq!(plain_text_len(&text), None);
        for at in 0..text.len() {
            for stop in [b'"', b'\\', 0, 0x1f, b'\n'] {
                let kept = text[at];
                text[at] = stop;
                assert_eq!(plain_text_len(&text), Some(at));
                // A second stop further on does not change the answer.
                if at + 9 < text.len() {
                    let later = text[at + 9];
                    text[at + 9] = b'"';
                    assert_eq!(plain_text_len(&text), Some(at));
                    text[at + 9] = later;
                }
                text[at] = kept;
            }
        }
        // Bytes at or above 0x20 other than the two stops are plain.
        let plain: Vec<u8> = (0x20..=0xff).filter(|&b| b != b'"' && b != b'\\').collect();
        assert_eq!(plain_text_len(&plain), None);
    }

    #[test]
    fn a_minted_payload_is_read_quickly_and_as_the_full_reading_reads_it() {
        let json = r#"{"iss":"portcullis","aud":"api","sub":"u-1","uid":"u-1","jti":"j","iat":1700000000,"exp":1700003600,"rol":"USER","org":"DEMO","dev":null,"idv":["MOBILE|+15550100"],"fam":"f"}"#;
        let quick = quick_reading(json).expect("the flat shape");
        assert_eq!(Some(&quick), full(json).as_ref());
        assert_eq!(quick.iss.text(), Some("portcullis"));
        assert_eq!(quick.exp, Claim::Number(1_700_003_600));
        assert_eq!(quick.dev, Claim::Other);
        assert_eq!(quick.idv.list(), ["MOBILE|+15550100"]);
    }

    #[test]
    fn whatever_is_outside_the_flat_shape_is_left_to_the_full_reading() {
        for json in [
            r#"{"iss":"a\"b"}"#,
            r#"{"\u0069ss":"a"}"#,
            "{\"iss\":\"a\u{1}\"}",
            r#"{"exp":1.5}"#,
            r#"{"exp":1e3}"#,
            r#"{"exp":12345678901234567890}"#,
            r#"{"x":{"y":1}}"#,
            r#"{"aud":["a",["b"]]}"#,
            r#"{"exp":01}"#,
            r#"{"exp":-}"#,
            r#"{"x":1,}"#,
            r#"{"x":tru}"#,
            r#"{"x":1} x"#,
            r#"[{"iss":"a"}]"#,
            "\u{feff}{}",
            "",
        ] {
            assert!(quick_reading(json).is_none(), "{json}");
        }
    }

    #[test]
    fn repeated_members_negative_numbers_and_whitespace_read_as_in_the_full_reading() {
        for json in [
            r#"{"exp":1,"exp":2}"#,
            r#" { "exp" : -5 , "aud" : [ "a" , 1 , true , null , "b" ] } "#,
            "{\n\t\"sub\":\"\u{e9}t\u{e9}\",\r\n\"nbf\":-0}",
            r#"{"exp":9999999999999999999,"iat":0,"aud":[]}"#,
            r#"{}"#,
            r#"{"":"","x":false}"#,
        ] {
            let quick = quick_reading(json).unwrap_or_else(|| panic!("flat: {json}"));
            assert_eq!(Some(quick), full(json), "{json}");
        }
    }

    /// A small deterministic generator (xorshift), so the test needs no
    /// extra crate and fails the same way every time.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self, below: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % below as u64) as usize
        }
    }

    #[test]
    fn mutated_payloads_are_never_read_differently_from_the_full_reading() {
        let seeds = [
            r#"{"iss":"portcullis","aud":["api","x"],"sub":"u-1","iat":1700000000,"exp":-17,"dev":null,"ok":true}"#,
            r#" {"exp" :1 ,"exp":[1,"2"], "nbf":0 ,"org":"DEMO" } "#,
        ];
        let pieces: [&str; 22] = [
            "\"", "\\", ",", ":", "{", "}", "[", "]", "0", "1", "9", "-", ".", "e", " ", "\n",
            "\u{1}", "t", "null", "\u{e9}", "exp", "iss",
        ];
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let mut quick_reads = 0;
        for round in 0..40_000 {
            let mut json = seeds[round % seeds.len()].to_string();
            for _ in 0..1 + noise.next(3) {
                // Cut, insert or replace at a character boundary.
                let mut at = noise.next(json.len() + 1);
                while !json.is_char_boundary(at) {
                    at -= 1;
                }
                let piece = pieces[noise.next(pieces.len())];
                match noise.next(3) {
                    0 => {
                        let end = json[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                        json.replace_range(at..end, "");
                    }
                    1 => json.insert_str(at, piece),
                    _ => {
                        let end = json[at..].chars().next().map_or(at, |c| at + c.len_utf8());
                        json.replace_range(at..end, piece);
                    }
                }
            }
            if let Some(quick) = quick_reading(&json) {
                quick_reads += 1;
                assert_eq!(Some(quick), full(&json), "{json}");
            }
        }
        // The mutations keep a good share of the inputs in the flat shape.
        assert!(quick_reads > 4_000, "only {quick_reads} quick reads");
    }
}
