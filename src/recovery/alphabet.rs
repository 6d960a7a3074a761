//! The characters of a recovery code, how a code is shown, and how what a user typed is read.
//!
//! A code is ten characters from Douglas Crockford's base32 alphabet,
//! `0123456789ABCDEFGHJKMNPQRSTVWXYZ`: the ten digits and the letters without `I`, `L` and `O`
//! (which are read as `1`, `1` and `0`) and without `U` (read here as `V`). Ten characters of
//! a 32-symbol alphabet carry exactly 50 bits, and 32 is the smallest alphabet that gets 50
//! bits into ten characters, so every letter that is kept earns its place.

use zeroize::Zeroizing;

/// The 32 symbols, in the order of their 5-bit values.
pub(crate) const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Characters in a code, not counting the dash.
pub(crate) const CODE_CHARS: usize = 10;

/// Characters in a displayed code: two groups of five and a dash.
pub(crate) const DISPLAY_LEN: usize = CODE_CHARS + 1;

/// Bits of entropy in a code (5 per character).
pub(crate) const CODE_BITS: u32 = 50;

/// The longest input, in bytes, that is read as a code at all.
///
/// A code with a space or dash between every character is 19 characters; four bytes per
/// character leaves room for any Unicode space or dash a phone keyboard inserts. Anything
/// longer is refused before any work is done.
pub(crate) const MAX_INPUT_LEN: usize = 80;

/// A code in canonical form: ten upper-case symbols of [`ALPHABET`], no dash. This is what a
/// hasher receives.
pub(crate) type Canonical = Zeroizing<[u8; CODE_CHARS]>;

/// The canonical form of a 50-bit value: the most significant 5 bits first.
pub(crate) fn canonical(value: u64) -> Canonical {
    let mut out = Zeroizing::new([0u8; CODE_CHARS]);
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (CODE_CHARS - 1 - i);
        *slot = ALPHABET[((value >> shift) & 0x1f) as usize];
    }
    out
}

/// The displayed form of a canonical code: `XXXXX-XXXXX`.
pub(crate) fn display(code: &[u8; CODE_CHARS]) -> Zeroizing<[u8; DISPLAY_LEN]> {
    let mut out = Zeroizing::new([b'-'; DISPLAY_LEN]);
    out[..5].copy_from_slice(&code[..5]);
    out[6..].copy_from_slice(&code[5..]);
    out
}

/// Reads a code as a person typed or pasted it.
///
/// Separators are ignored wherever they are: any Unicode white space (so leading and
/// trailing space is trimmed), the hyphen-minus and the Unicode hyphens, dashes and minus
/// sign. Letters may be in either case. The look-alikes that are not in the alphabet are read
/// as the symbol they resemble: `O` as `0`, `I` and `L` as `1`, `U` as `V`. What remains must
/// be exactly ten symbols of the alphabet.
///
/// Returns `None` for anything else, including input over [`MAX_INPUT_LEN`] bytes. What is
/// wrong with the input is not reported: a malformed code and a wrong code look the same to
/// the person typing.
pub(crate) fn normalise(typed: &str) -> Option<Canonical> {
    if typed.len() > MAX_INPUT_LEN {
        return None;
    }
    let mut out = Zeroizing::new([0u8; CODE_CHARS]);
    let mut len = 0;
    for c in typed.chars() {
        if is_separator(c) {
            continue;
        }
        let symbol = symbol_for(c)?;
        let slot = out.get_mut(len)?;
        *slot = symbol;
        len += 1;
    }
    (len == CODE_CHARS).then_some(out)
}

/// The alphabet symbol a typed character stands for, if any.
fn symbol_for(c: char) -> Option<u8> {
    if !c.is_ascii_alphanumeric() {
        return None;
    }
    let upper = c.to_ascii_uppercase() as u8;
    let symbol = match upper {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        b'U' => b'V',
        other => other,
    };
    // After the mapping every ASCII letter and digit is in the alphabet; the check keeps that
    // true if the alphabet ever changes.
    ALPHABET.contains(&symbol).then_some(symbol)
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}' // hyphen
                | '\u{2011}' // non-breaking hyphen
                | '\u{2012}' // figure dash
                | '\u{2013}' // en dash
                | '\u{2014}' // em dash
                | '\u{2015}' // horizontal bar
                | '\u{2212}' // minus sign
                | '\u{FE63}' // small hyphen-minus
                | '\u{FF0D}' // full-width hyphen-minus
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_has_32_distinct_symbols_and_no_look_alikes() {
        let mut sorted = *ALPHABET;
        sorted.sort_unstable();
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        for absent in *b"ILOU" {
            assert!(!ALPHABET.contains(&absent));
        }
        assert_eq!(1u64 << CODE_BITS, 32u64.pow(CODE_CHARS as u32));
    }

    #[test]
    fn canonical_form_spells_the_value_in_base32() {
        assert_eq!(&*canonical(0), b"0000000000");
        assert_eq!(&*canonical((1 << 50) - 1), b"ZZZZZZZZZZ");
        assert_eq!(&*canonical(1), b"0000000001");
        assert_eq!(&*canonical(31 << 45), b"Z000000000");
        // Bits above the 50th are not part of the code.
        assert_eq!(canonical(1 << 50), canonical(0));
        assert_eq!(&*display(b"ABCDE12345"), b"ABCDE-12345");
    }

    #[test]
    fn typing_variations_are_read_as_the_code() {
        let expected = *b"0A1BV23XYZ";
        for typed in [
            "0A1BV-23XYZ",
            "0a1bv-23xyz",
            "0A1BV23XYZ",
            "  0A1BV 23XYZ \n",
            "0 A 1 B V - 2 3 X Y Z",
            "OA1BV-23XYZ",
            "oaibu-23xyz",
            "0AlBV\u{2013}23XYZ",
            "\u{a0}0A1BV\u{2011}23XYZ\t",
            "0A1BV--23XYZ",
            "-0A1BV23XYZ-",
        ] {
            assert_eq!(normalise(typed).as_deref(), Some(&expected), "{typed:?}");
        }
    }

    #[test]
    fn anything_else_is_refused() {
        for typed in [
            "",
            "-",
            "0A1BV-23XY",
            "0A1BV-23XYZZ",
            "0A1BV_23XYZ",
            "0A1BV.23XYZ",
            "0A1BV-23XY!",
            "0A1BV-23XYÉ",
            "０A1BV-23XYZ",
            "0A1BV-23XYZ\0",
            "0A1BV,23XYZ",
        ] {
            assert!(normalise(typed).is_none(), "{typed:?}");
        }
        let padded = alloc::format!("{}0A1BV23XYZ", " ".repeat(MAX_INPUT_LEN - 10));
        assert!(normalise(&padded).is_some());
        let too_long = alloc::format!(" {padded}");
        assert!(normalise(&too_long).is_none());
        assert!(normalise(&"A".repeat(100_000)).is_none());
    }
}
