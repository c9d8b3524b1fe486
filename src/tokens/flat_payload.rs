//! The quick first reading of a token payload, for the shape this gateway
//! mints and most issuers write: one flat JSON object whose values are
//! strings without escapes, integers, `true`/`false`/`null`, or flat arrays
//! of those. It takes one pass over the bytes with no serde machinery.
//!
//! Strings are found the way SIMD JSON readers find them: for each 64-byte
//! block, 16 bytes per instruction (`wide`), a bit mask of its quotes and of
//! its backslashes and control bytes; a running XOR of the quote bits marks
//! the bytes inside strings. With no escape or control byte inside a string,
//! every quote opens or closes one, so the scanner takes string ends from
//! the mask (one bit operation each) instead of looking at their bytes.
//!
//! It never decides that a payload is bad: at the first thing outside that
//! shape (an escape, a control byte in a string, a fraction or exponent, a
//! nested object or array, a long number, anything invalid) it gives up and
//! the full serde_json reading in `payload.rs` decides. So whatever it
//! accepts is valid JSON, and it reads it exactly as that full reading would
//! (the differential test below and the `payload_read` fuzz target hold it
//! to that).

use super::payload::{Claim, Payload};
use std::borrow::Cow;
use wide::u8x16;

/// Reads `json` into `payload` (a default one) when it has the flat shape;
/// `None` for anything else, with `payload` then partly filled.
pub(super) fn read<'a>(json: &'a str, payload: &mut Payload<'a>) -> Option<()> {
    let mut text = Scanner::new(json);
    payload.json = json;
    text.skip_whitespace();
    text.expect(b'{')?;
    text.skip_whitespace();
    if !text.take(b'}') {
        loop {
            let name = text.string()?;
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

/// The bytes the mask of one block covers.
const BLOCK: usize = 64;

/// What one 64-byte block holds, one bit per byte (bit `i` for byte `i`).
#[derive(Debug, PartialEq)]
struct BlockMarks {
    quotes: u64,
    /// Backslashes and bytes below 0x20.
    escapes_and_controls: u64,
}

impl BlockMarks {
    /// The marks of `block`, sixteen bytes per step.
    fn of(block: &[u8; BLOCK]) -> Self {
        let quote = u8x16::splat(b'"');
        let backslash = u8x16::splat(b'\\');
        let highest_control = u8x16::splat(0x1f);
        let mut marks = BlockMarks {
            quotes: 0,
            escapes_and_controls: 0,
        };
        for (i, chunk) in block.chunks_exact(16).enumerate() {
            let mut lane = [0u8; 16];
            lane.copy_from_slice(chunk);
            let bytes = u8x16::from(lane);
            let quotes = bytes.simd_eq(quote).to_bitmask();
            // A byte is at most 0x1f when the smaller of it and 0x1f is itself.
            let controls = bytes.min(highest_control).simd_eq(bytes);
            let escapes = (controls | bytes.simd_eq(backslash)).to_bitmask();
            marks.quotes |= u64::from(quotes as u16) << (16 * i);
            marks.escapes_and_controls |= u64::from(escapes as u16) << (16 * i);
        }
        marks
    }
}

/// Bit `i` of the result is the XOR of bits `0..=i` of `bits`: for a quote
/// mask, the bytes from an opening quote up to (not including) its closing one.
fn running_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

struct Scanner<'a> {
    json: &'a str,
    at: usize,
    /// Where the next block to mark starts (the last marked one starts
    /// `BLOCK` bytes before).
    next_block: usize,
    /// The quotes of the last marked block not yet taken by the scanner.
    quotes: u64,
    /// Whether the last marked block ended inside a string.
    in_string: bool,
}

impl<'a> Scanner<'a> {
    fn new(json: &'a str) -> Self {
        Scanner {
            json,
            at: 0,
            next_block: 0,
            quotes: 0,
            in_string: false,
        }
    }

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

    /// Marks the next block. `None` past the end, and when an escape or a
    /// control byte lies inside a string of it (the full reading's case).
    fn mark_next_block(&mut self) -> Option<()> {
        let start = self.next_block;
        let rest = self.bytes().get(start..).filter(|rest| !rest.is_empty())?;
        let marks = match rest.first_chunk::<BLOCK>() {
            Some(block) => BlockMarks::of(block),
            None => {
                // The last, partial block, padded with spaces (plain bytes).
                let mut block = [b' '; BLOCK];
                block[..rest.len()].copy_from_slice(rest);
                BlockMarks::of(&block)
            }
        };
        let inside = running_xor(marks.quotes) ^ if self.in_string { u64::MAX } else { 0 };
        if inside & marks.escapes_and_controls != 0 {
            return None;
        }
        self.in_string = inside >> 63 == 1;
        self.quotes = marks.quotes;
        self.next_block = start + BLOCK;
        Some(())
    }

    /// Where the next quote not yet taken is.
    #[inline(always)]
    fn next_quote(&mut self) -> Option<usize> {
        while self.quotes == 0 {
            self.mark_next_block()?;
        }
        let bit = self.quotes.trailing_zeros() as usize;
        self.quotes &= self.quotes - 1;
        // A quote was found, so a block was marked: next_block >= BLOCK.
        Some(self.next_block - BLOCK + bit)
    }

    /// A string starting here: its text, when it has no escape and no
    /// control byte. Every quote before this one was taken as the start or
    /// the end of a string, so the next quote in the masks must be this
    /// one, and the one after it ends the string.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        if self.next_quote()? != self.at {
            return None;
        }
        let start = self.at + 1;
        let end = self.next_quote()?;
        self.at = end + 1;
        // Both ends are next to an ASCII quote, so `get` always finds whole
        // characters there.
        self.json.get(start..end)
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
            b'"' => self.string().map(Scalar::Text),
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
        // Read and counted in one pass; wrapping, since a value with more
        // than MAX_DIGITS digits is dropped below.
        let mut value = 0u64;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
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
    fn block_marks_are_the_quotes_backslashes_and_control_bytes_of_each_byte() {
        let mut noise = Noise(0x2545_f491_4f6c_dd1d);
        let picks = [
            b'"', b'\\', 0, 0x1f, b'\n', b' ', b'!', b'a', 0x7f, 0xe9, 0xff,
        ];
        for _ in 0..2_000 {
            let mut block = [0u8; BLOCK];
            for byte in &mut block {
                *byte = picks[noise.next(picks.len())];
            }
            let bit = |i: usize, yes: bool| u64::from(yes) << i;
            let quotes = (0..BLOCK).map(|i| bit(i, block[i] == b'"')).sum();
            let escapes_and_controls = (0..BLOCK)
                .map(|i| bit(i, block[i] == b'\\' || block[i] < 0x20))
                .sum();
            assert_eq!(
                BlockMarks::of(&block),
                BlockMarks {
                    quotes,
                    escapes_and_controls
                },
                "{block:?}"
            );
        }
    }

    #[test]
    fn the_running_xor_of_quote_bits_marks_the_inside_of_strings() {
        let mut noise = Noise(0x1234_5678_9abc_def1);
        for _ in 0..2_000 {
            let bits = (0..4).fold(0u64, |x, _| x << 16 | noise.next(1 << 16) as u64);
            let mut inside = false;
            let expected = (0..64).fold(0u64, |acc, i| {
                inside ^= bits >> i & 1 == 1;
                acc | u64::from(inside) << i
            });
            assert_eq!(running_xor(bits), expected, "{bits:#x}");
        }
    }

    #[test]
    fn strings_across_blocks_and_an_escape_in_a_later_block_are_seen() {
        let long = "x".repeat(150);
        let json = format!(r#"{{"sub":"{long}","dev":"d","org":"{long}"}}"#);
        let quick = quick_reading(&json).expect("the flat shape");
        assert_eq!(Some(&quick), full(&json).as_ref());
        assert_eq!(quick.org.text(), Some(long.as_str()));
        for stop in ["\\n", "\u{1}", "\\\""] {
            let json = format!(r#"{{"sub":"{long}","dev":"d","org":"{long}{stop}"}}"#);
            assert!(quick_reading(&json).is_none(), "{json}");
        }
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
