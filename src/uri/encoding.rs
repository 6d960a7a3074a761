//! Percent-encoding (RFC 3986 section 2.1) for labels and parameter values.

use alloc::vec::Vec;
use core::fmt;

/// Writes `text` with every byte outside RFC 3986's unreserved set (`A-Z a-z 0-9 - . _ ~`)
/// as `%XX` (upper-case hex). A space becomes `%20`, never `+`, and `:`, `@`, `&`, `=`, `+`
/// are always encoded, so the result is safe in a label and in a query value alike.
pub(crate) fn write_encoded<W: fmt::Write + ?Sized>(out: &mut W, text: &str) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_unreserved(b) {
            continue;
        }
        // `start..i` holds only unreserved ASCII, so it lies on character boundaries.
        out.write_str(text.get(start..i).unwrap_or_default())?;
        out.write_char('%')?;
        out.write_char(char::from(HEX[usize::from(b >> 4)]))?;
        out.write_char(char::from(HEX[usize::from(b & 0x0f)]))?;
        start = i + 1;
    }
    out.write_str(text.get(start..).unwrap_or_default())
}

/// How a `+` in the input is read while decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plus {
    /// A literal `+`, as RFC 3986 has it (the label, a path segment).
    Literal,
    /// A space, as in `application/x-www-form-urlencoded` query strings, which many
    /// generators of otpauth URIs write and which Python and Android read that way.
    Space,
}

/// Decodes `%XX` escapes into raw bytes.
///
/// Returns `None` when a `%` is not followed by two hex digits. The output is at most as long
/// as the input, so the caller's length cap on the input bounds the allocation.
pub(crate) fn decode(text: &str, plus: Plus) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    // The value may be the secret: wiped if decoding fails half way; never reallocated.
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(bytes.len()));
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let high = bytes.get(i + 1).copied().and_then(hex_value)?;
                let low = bytes.get(i + 2).copied().and_then(hex_value)?;
                out.push(high << 4 | low);
                i += 3;
            }
            b'+' if plus == Plus::Space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(core::mem::take(&mut *out))
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn encoded(text: &str) -> String {
        let mut out = String::new();
        write_encoded(&mut out, text).unwrap();
        out
    }

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(encoded("Plausible Analytics"), "Plausible%20Analytics");
        assert_eq!(encoded("alice@example.com"), "alice%40example.com");
        assert_eq!(encoded("a-b.c_d~e"), "a-b.c_d~e");
        assert_eq!(
            encoded("a+b=c&d:e/f?g#h%"),
            "a%2Bb%3Dc%26d%3Ae%2Ff%3Fg%23h%25"
        );
        assert_eq!(encoded("Ü"), "%C3%9C");
        assert_eq!(encoded(""), "");
    }

    #[test]
    fn decodes_escapes_in_either_case_and_refuses_broken_ones() {
        assert_eq!(decode("%c3%9C", Plus::Literal).unwrap(), "Ü".as_bytes());
        assert_eq!(decode("a+b", Plus::Literal).unwrap(), b"a+b");
        assert_eq!(decode("a+b", Plus::Space).unwrap(), b"a b");
        assert_eq!(decode("a%2Bb", Plus::Space).unwrap(), b"a+b");
        // Bytes that are not UTF-8 decode; the caller checks.
        assert_eq!(decode("%FF", Plus::Literal).unwrap(), [0xff]);
        for broken in ["%", "%4", "%G0", "%0G", "abc%", "%%41", "%é"] {
            assert_eq!(decode(broken, Plus::Literal), None, "{broken}");
        }
    }

    #[test]
    fn decoding_inverts_encoding() {
        for text in ["", "x", "a b+c", "Ünïcødé GmbH", "🔐:@/?#[]!$&'()*+,;=%"] {
            assert_eq!(
                decode(&encoded(text), Plus::Space).unwrap(),
                text.as_bytes()
            );
        }
    }
}
