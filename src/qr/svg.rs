//! SVG rendering of QR codes.

use alloc::string::String;

use data_encoding::{HEXLOWER, HEXLOWER_PERMISSIVE};

use super::{QrCode, QrError};
use crate::Error;

/// An opaque sRGB colour for [`SvgOptions`].
///
/// ```
/// use twofa::qr::Color;
///
/// assert_eq!(Color::from_hex("#1D4ED8")?, Color::rgb(0x1d, 0x4e, 0xd8));
/// assert_eq!(Color::from_hex("fff")?, Color::WHITE);
/// assert!(Color::from_hex("red").is_err());
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Color {
    r: u8,
    g: u8,
    b: u8,
}

impl Color {
    /// `#000000`.
    pub const BLACK: Color = Color::rgb(0, 0, 0);
    /// `#ffffff`.
    pub const WHITE: Color = Color::rgb(0xff, 0xff, 0xff);

    /// A colour from its red, green and blue components.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Color {
        Color { r, g, b }
    }

    /// A colour from CSS-style hex, `#rrggbb` or `#rgb`; the `#` is optional and case does
    /// not matter.
    ///
    /// # Errors
    ///
    /// [`QrError::InvalidColor`] for anything else. Only hex is accepted, so that no text from
    /// the caller ends up inside the SVG markup.
    pub fn from_hex(text: &str) -> Result<Color, Error> {
        let hex = text.strip_prefix('#').unwrap_or(text).as_bytes();
        // `#rgb` is short for `#rrggbb`.
        let long: [u8; 6] = match *hex {
            [r, g, b] => [r, r, g, g, b, b],
            _ => hex.try_into().map_err(|_| QrError::InvalidColor)?,
        };
        let mut rgb = [0; 3];
        HEXLOWER_PERMISSIVE
            .decode_mut(&long, &mut rgb)
            .map_err(|_| QrError::InvalidColor)?;
        let [r, g, b] = rgb;
        Ok(Color::rgb(r, g, b))
    }

    fn push_hex(self, out: &mut String) {
        out.push('#');
        HEXLOWER.encode_append(&[self.r, self.g, self.b], out);
    }
}

/// How [`QrCode::to_svg_with`] draws a code.
///
/// The defaults: 8 pixels per module, black on white, and the title "QR code to scan with an
/// authenticator app". Keep strong contrast, dark modules on a light background: many
/// scanners cannot read inverted codes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct SvgOptions {
    module_size: u32,
    dark: Color,
    light: Color,
    title: String,
}

impl SvgOptions {
    /// The default options.
    pub fn new() -> SvgOptions {
        SvgOptions::default()
    }

    /// The size of one module in pixels, which sets the `width` and `height` attributes
    /// (quiet zone included). 0 leaves them out, so that the image fills its container (the
    /// `viewBox` keeps it square).
    pub fn module_size(mut self, pixels: u32) -> SvgOptions {
        self.module_size = pixels;
        self
    }

    /// The colour of the dark modules (default black).
    pub fn dark(mut self, color: Color) -> SvgOptions {
        self.dark = color;
        self
    }

    /// The colour of the light modules and the quiet zone (default white).
    pub fn light(mut self, color: Color) -> SvgOptions {
        self.light = color;
        self
    }

    /// The `<title>` that screen readers announce; escaped for XML, and characters XML cannot
    /// hold are left out. Do not put the secret in it.
    pub fn title(mut self, title: &str) -> SvgOptions {
        self.title = String::from(title);
        self
    }
}

impl Default for SvgOptions {
    fn default() -> SvgOptions {
        SvgOptions {
            module_size: 8,
            dark: Color::BLACK,
            light: Color::WHITE,
            title: String::from("QR code to scan with an authenticator app"),
        }
    }
}

/// The side of the largest QR code (version 40), in modules.
const MAX_SIZE: usize = 177;

/// Writes the SVG document: a background `<rect>` and one `<path>` with a subpath for each
/// horizontal run of dark modules.
pub(super) fn render(qr: &QrCode, options: &SvgOptions) -> String {
    let size = qr.size();
    let quiet = QrCode::QUIET_ZONE;
    let side = size + 2 * quiet;
    // A run costs about 16 bytes and there are rarely more than size * size / 4 of them.
    let mut out = String::with_capacity(400 + options.title.len() + size * size * 4);
    out.push_str(r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 "#);
    push_number(&mut out, side as u64);
    out.push(' ');
    push_number(&mut out, side as u64);
    out.push('"');
    if options.module_size > 0 {
        let pixels = (side as u64).saturating_mul(u64::from(options.module_size));
        out.push_str(r#" width=""#);
        push_number(&mut out, pixels);
        out.push_str(r#"" height=""#);
        push_number(&mut out, pixels);
        out.push('"');
    }
    out.push_str(r#" shape-rendering="crispEdges" role="img"><title>"#);
    push_escaped(&mut out, &options.title);
    out.push_str(r#"</title><rect width="100%" height="100%" fill=""#);
    options.light.push_hex(&mut out);
    out.push_str(r#""/><path fill=""#);
    options.dark.push_hex(&mut out);
    out.push_str(r#"" d=""#);
    let mut row = [false; MAX_SIZE];
    for y in 0..size {
        // Copy the row once; the scan below reads each module up to twice.
        for (x, module) in row.iter_mut().enumerate().take(size) {
            *module = qr.is_dark(x, y);
        }
        let row = row.get(..size).unwrap_or_default();
        let mut x = 0;
        while x < size {
            if !row.get(x).copied().unwrap_or(false) {
                x += 1;
                continue;
            }
            let start = x;
            while row.get(x).copied().unwrap_or(false) {
                x += 1;
            }
            let run = (x - start) as u64;
            out.push('M');
            push_number(&mut out, (start + quiet) as u64);
            out.push(' ');
            push_number(&mut out, (y + quiet) as u64);
            out.push('h');
            push_number(&mut out, run);
            out.push_str("v1h-");
            push_number(&mut out, run);
            out.push('z');
        }
    }
    out.push_str(r#""/></svg>"#);
    out
}

/// Appends `n` in decimal, without the formatting machinery (this is the hot loop).
fn push_number(out: &mut String, mut n: u64) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
        return;
    }
    let mut digits = [0u8; 20];
    let mut len = 0;
    for slot in digits.iter_mut() {
        *slot = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in digits.iter().take(len).rev() {
        out.push(char::from(d));
    }
}

/// Appends `text` escaped for XML character data, leaving out what XML 1.0 cannot hold.
fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 185, 1480, u64::MAX] {
            let mut out = String::new();
            push_number(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn title_cannot_break_out_of_the_markup() {
        let mut out = String::new();
        push_escaped(
            &mut out,
            "</title><script>alert('x' & \"y\")</script>\u{0}\u{1b}é",
        );
        assert_eq!(
            out,
            "&lt;/title&gt;&lt;script&gt;alert(&apos;x&apos; &amp; &quot;y&quot;)\
             &lt;/script&gt;é"
        );
    }

    #[test]
    fn colours_parse_only_from_hex() {
        assert_eq!(Color::from_hex("#abc"), Ok(Color::rgb(0xaa, 0xbb, 0xcc)));
        assert_eq!(Color::from_hex("0a0B0c"), Ok(Color::rgb(10, 11, 12)));
        assert_eq!(Color::from_hex("#F0e"), Ok(Color::rgb(0xff, 0, 0xee)));
        for bad in [
            "", "#", "#ab", "#abcd", "#12345g", "red", "#1234567", "#+12", "éé", "é1", "#é",
        ] {
            assert_eq!(
                Color::from_hex(bad),
                Err(Error::Qr(QrError::InvalidColor)),
                "{bad}"
            );
        }
        let mut out = String::new();
        Color::rgb(1, 0xab, 0xff).push_hex(&mut out);
        assert_eq!(out, "#01abff");
    }
}
