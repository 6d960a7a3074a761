//! QR codes for otpauth URIs: what the user scans on the "Enable 2FA" page.
//!
//! [`QrCode::from_uri`] encodes an [`OtpAuthUri`] with [`qrcodegen`] at error correction
//! level M unless told otherwise, and the code renders as:
//!
//! - SVG ([`QrCode::to_svg`], [`QrCode::to_svg_with`]): one `<path>` for the dark modules, a
//!   4-module quiet zone, `shape-rendering="crispEdges"` and a `<title>` for screen readers;
//!   size and colours set by [`SvgOptions`];
//! - a `data:image/svg+xml;base64,...` URI for an `<img src>` ([`QrCode::to_data_uri`]);
//! - terminal text in Unicode half blocks ([`QrCode::to_terminal`], and
//!   [`QrCode::to_terminal_inverted`] for light-on-dark terminals);
//! - the module matrix for any other renderer ([`QrCode::is_dark`], [`QrCode::to_matrix`]);
//! - PNG, with the `png` feature (`QrCode::to_png`).
//!
//! ```
//! use twofa::{OtpAuthUri, QrCode, Secret, Totp};
//!
//! let totp = Totp::new(Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?);
//! let uri = OtpAuthUri::for_totp(&totp, "alice@example.com")
//!     .issuer("Plausible Analytics")
//!     .build()?;
//! let qr = QrCode::from_uri(&uri)?;
//! let svg = qr.to_svg();
//! assert!(svg.starts_with("<svg "));
//! let img_src = qr.to_data_uri();
//! assert!(img_src.starts_with("data:image/svg+xml;base64,"));
//! # Ok::<(), twofa::Error>(())
//! ```
//!
//! # Security
//!
//! A QR code made from an otpauth URI holds the secret, and so does every rendering of it.
//! Serve it only to the account owner, over HTTPS, with `Cache-Control: no-store`, and do not
//! log or store it. `QrCode`'s `Debug` shows the version and size only.

#[cfg(feature = "png")]
mod png;
mod svg;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

pub use svg::{Color, SvgOptions};

use crate::{Error, OtpAuthUri};

/// A QR code: a square of dark and light modules.
///
/// Coordinates count modules from the top-left corner, `x` to the right and `y` down, from 0
/// to [`QrCode::size`] - 1; the quiet zone around the code is not part of the matrix, and the
/// renderers of this module add it.
#[derive(Clone, PartialEq, Eq)]
pub struct QrCode {
    inner: qrcodegen::QrCode,
}

/// How much of a QR code can be damaged or hidden and still be read; higher levels make
/// bigger codes for the same text.
///
/// An encoder may raise the level when that does not make the code bigger, so
/// [`QrCode::error_correction`] can be higher than the level asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ErrorCorrection {
    /// About 7% of the code can be lost.
    Low,
    /// About 15%, the default: a good balance for a code shown on a screen.
    #[default]
    Medium,
    /// About 25%.
    Quartile,
    /// About 30%.
    High,
}

/// Why a QR code could not be made or rendered.
///
/// Returned inside [`Error::Qr`]; carries no part of the encoded text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QrError {
    /// The text does not fit in the largest QR code (version 40) at this level.
    DataTooLong {
        /// The length of the text in bytes.
        len: usize,
        /// The error correction level asked for.
        level: ErrorCorrection,
    },
    /// A colour is not `#rgb` or `#rrggbb` hex.
    InvalidColor,
    /// A PNG module size outside 1 to [`QrCode::MAX_PNG_MODULE_SIZE`] pixels.
    ModuleSizeOutOfRange {
        /// The size asked for.
        size: u32,
        /// The largest size allowed.
        max: u32,
    },
    /// The PNG encoder failed (feature `png`); it is not expected to when writing to memory.
    PngEncoding,
}

impl QrCode {
    /// The width of the quiet (light) zone the renderers draw around the code, in modules; the
    /// QR standard asks for 4.
    pub const QUIET_ZONE: usize = 4;
    /// The longest text any QR code holds, in bytes (version 40, level L, byte mode).
    pub const MAX_TEXT_LEN: usize = 2953;
    /// The largest module size [`QrCode::to_png`](QrCode#method.to_png) accepts, in pixels.
    pub const MAX_PNG_MODULE_SIZE: u32 = 32;

    /// The QR code for an otpauth URI, at error correction level M.
    ///
    /// Every URI this crate builds or parses fits (see [`OtpAuthUri::MAX_LEN`]).
    ///
    /// # Errors
    ///
    /// [`QrError::DataTooLong`] if the URI did not fit, which does not happen at level M.
    ///
    /// # Security
    ///
    /// The code holds the secret; see the [module documentation](self).
    pub fn from_uri(uri: &OtpAuthUri) -> Result<QrCode, Error> {
        Self::from_uri_with(uri, ErrorCorrection::Medium)
    }

    /// The QR code for an otpauth URI at the given error correction level.
    ///
    /// # Errors
    ///
    /// [`QrError::DataTooLong`] when the URI does not fit at this level: at level H, a URI of
    /// more than 1273 bytes.
    pub fn from_uri_with(uri: &OtpAuthUri, level: ErrorCorrection) -> Result<QrCode, Error> {
        Self::encode_with(&uri.to_zeroizing_string(), level)
    }

    /// The QR code for any text, at error correction level M.
    ///
    /// ```
    /// use twofa::QrCode;
    ///
    /// let qr = QrCode::encode("https://example.com/")?;
    /// assert_eq!(qr.version(), 2);
    /// assert_eq!(qr.size(), 25);
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`QrError::DataTooLong`] when the text does not fit: over 2331 bytes of arbitrary text.
    pub fn encode(text: &str) -> Result<QrCode, Error> {
        Self::encode_with(text, ErrorCorrection::Medium)
    }

    /// The QR code for any text at the given error correction level.
    ///
    /// # Errors
    ///
    /// [`QrError::DataTooLong`] when the text does not fit at this level.
    pub fn encode_with(text: &str, level: ErrorCorrection) -> Result<QrCode, Error> {
        let too_long = QrError::DataTooLong {
            len: text.len(),
            level,
        };
        // Refuse early what cannot fit, before the encoder allocates for it.
        if text.len() > Self::MAX_TEXT_LEN {
            return Err(too_long.into());
        }
        let inner =
            qrcodegen::QrCode::encode_text(text, level.to_qrcodegen()).map_err(|_| too_long)?;
        Ok(QrCode { inner })
    }

    /// The number of modules on each side, without the quiet zone: 21 to 177.
    pub fn size(&self) -> usize {
        usize::try_from(self.inner.size()).unwrap_or(0)
    }

    /// The QR version, 1 to 40.
    pub fn version(&self) -> u8 {
        self.inner.version().value()
    }

    /// The error correction level of the code (at least the one asked for).
    pub fn error_correction(&self) -> ErrorCorrection {
        ErrorCorrection::from_qrcodegen(self.inner.error_correction_level())
    }

    /// Whether the module at column `x`, row `y` is dark; `false` outside the code.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        match (i32::try_from(x), i32::try_from(y)) {
            (Ok(x), Ok(y)) => self.inner.get_module(x, y),
            _ => false,
        }
    }

    /// The modules row by row, top to bottom, `true` for dark, without the quiet zone.
    ///
    /// ```
    /// use twofa::QrCode;
    ///
    /// let qr = QrCode::encode("hello")?;
    /// let rows = qr.to_matrix();
    /// assert_eq!(rows.len(), qr.size());
    /// assert!(rows[0][0]); // the corner of a finder pattern is dark
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn to_matrix(&self) -> Vec<Vec<bool>> {
        let size = self.size();
        (0..size)
            .map(|y| (0..size).map(|x| self.is_dark(x, y)).collect())
            .collect()
    }

    /// The code as an SVG document with the default [`SvgOptions`]: 8 pixels per module,
    /// black on white.
    pub fn to_svg(&self) -> String {
        svg::render(self, &SvgOptions::default())
    }

    /// The code as an SVG document with the given options.
    ///
    /// ```
    /// use twofa::QrCode;
    /// use twofa::qr::{Color, SvgOptions};
    ///
    /// let options = SvgOptions::new()
    ///     .module_size(4)
    ///     .dark(Color::from_hex("#1d4ed8")?)
    ///     .title("Scan with your authenticator app");
    /// let svg = QrCode::encode("hello")?.to_svg_with(&options);
    /// assert!(svg.contains(r#"width="116""#)); // (21 + 2 * 4) modules * 4 px
    /// assert!(svg.contains("<title>Scan with your authenticator app</title>"));
    /// assert!(svg.contains(r##"fill="#1d4ed8""##));
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn to_svg_with(&self, options: &SvgOptions) -> String {
        svg::render(self, options)
    }

    /// The SVG of [`QrCode::to_svg`] as a `data:image/svg+xml;base64,...` URI, for the `src`
    /// of an `<img>` tag.
    pub fn to_data_uri(&self) -> String {
        self.to_data_uri_with(&SvgOptions::default())
    }

    /// The SVG of [`QrCode::to_svg_with`] as a `data:image/svg+xml;base64,...` URI.
    pub fn to_data_uri_with(&self, options: &SvgOptions) -> String {
        const PREFIX: &str = "data:image/svg+xml;base64,";
        let svg = svg::render(self, options);
        let mut out =
            String::with_capacity(PREFIX.len() + data_encoding::BASE64.encode_len(svg.len()));
        out.push_str(PREFIX);
        data_encoding::BASE64.encode_append(svg.as_bytes(), &mut out);
        out
    }

    /// The code as lines of text for a terminal with dark text on a light background, two
    /// rows of modules per line in Unicode half blocks (`▀`, `▄`, `█`), quiet zone included.
    ///
    /// Use [`QrCode::to_terminal_inverted`] for light text on a dark background.
    pub fn to_terminal(&self) -> String {
        self.terminal(false)
    }

    /// The code as text for a terminal with light text on a dark background: the light
    /// modules and the quiet zone are drawn, the dark ones left to the background.
    ///
    /// ```
    /// use twofa::QrCode;
    ///
    /// let qr = QrCode::encode("hello")?;
    /// let text = qr.to_terminal_inverted();
    /// assert_eq!(text.lines().count(), (qr.size() + 8).div_ceil(2));
    /// assert!(text.lines().next().unwrap().chars().all(|c| c == '█')); // quiet zone
    /// # Ok::<(), twofa::Error>(())
    /// ```
    pub fn to_terminal_inverted(&self) -> String {
        self.terminal(true)
    }

    fn terminal(&self, inverted: bool) -> String {
        let quiet = Self::QUIET_ZONE;
        let side = self.size() + 2 * quiet;
        // Whether the terminal draws a block at (x, y), in coordinates that include the quiet
        // zone; below the last row nothing is drawn.
        let drawn = |x: usize, y: usize| {
            if y >= side {
                return false;
            }
            let dark = match (x.checked_sub(quiet), y.checked_sub(quiet)) {
                (Some(x), Some(y)) => self.is_dark(x, y),
                _ => false,
            };
            dark != inverted
        };
        let lines = side.div_ceil(2);
        // Each half block is 3 bytes of UTF-8.
        let mut out = String::with_capacity(lines * (side * 3 + 1));
        for line in 0..lines {
            let (top, bottom) = (2 * line, 2 * line + 1);
            for x in 0..side {
                out.push(match (drawn(x, top), drawn(x, bottom)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                });
            }
            out.push('\n');
        }
        out
    }
}

impl fmt::Debug for QrCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrCode")
            .field("version", &self.version())
            .field("size", &self.size())
            .field("error_correction", &self.error_correction())
            .finish_non_exhaustive()
    }
}

impl ErrorCorrection {
    fn to_qrcodegen(self) -> qrcodegen::QrCodeEcc {
        match self {
            Self::Low => qrcodegen::QrCodeEcc::Low,
            Self::Medium => qrcodegen::QrCodeEcc::Medium,
            Self::Quartile => qrcodegen::QrCodeEcc::Quartile,
            Self::High => qrcodegen::QrCodeEcc::High,
        }
    }

    fn from_qrcodegen(level: qrcodegen::QrCodeEcc) -> ErrorCorrection {
        match level {
            qrcodegen::QrCodeEcc::Low => Self::Low,
            qrcodegen::QrCodeEcc::Medium => Self::Medium,
            qrcodegen::QrCodeEcc::Quartile => Self::Quartile,
            qrcodegen::QrCodeEcc::High => Self::High,
        }
    }
}

impl fmt::Display for ErrorCorrection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Low => "L",
            Self::Medium => "M",
            Self::Quartile => "Q",
            Self::High => "H",
        })
    }
}

impl core::error::Error for QrError {}

impl fmt::Display for QrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DataTooLong { len, level } => write!(
                f,
                "{len} bytes do not fit in a QR code at error correction level {level}"
            ),
            Self::InvalidColor => f.write_str("a colour must be #rgb or #rrggbb hex"),
            Self::ModuleSizeOutOfRange { size, max } => write!(
                f,
                "a module size of {size} pixels is out of range; use 1 to {max}"
            ),
            Self::PngEncoding => f.write_str("the PNG encoder failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    #[test]
    fn level_is_configurable_and_raised_only_for_free() {
        let text = "otpauth://totp/A:b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=A";
        let mut sizes = Vec::new();
        for level in [
            ErrorCorrection::Low,
            ErrorCorrection::Medium,
            ErrorCorrection::Quartile,
            ErrorCorrection::High,
        ] {
            let qr = QrCode::encode_with(text, level).unwrap();
            assert!(qr.error_correction() >= level);
            sizes.push(qr.size());
        }
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
        assert!(sizes[0] < sizes[3], "{sizes:?}");
        assert_eq!(
            QrCode::encode(text).unwrap().error_correction(),
            ErrorCorrection::Medium
        );
    }

    #[test]
    fn capacity_limits_are_errors() {
        let fits_l = "a".repeat(QrCode::MAX_TEXT_LEN);
        let qr = QrCode::encode_with(&fits_l, ErrorCorrection::Low).unwrap();
        assert_eq!((qr.version(), qr.size()), (40, 177));
        assert_eq!(
            QrCode::encode(&fits_l),
            Err(Error::Qr(QrError::DataTooLong {
                len: 2953,
                level: ErrorCorrection::Medium
            }))
        );
        let huge = "a".repeat(1_000_000);
        assert!(matches!(
            QrCode::encode_with(&huge, ErrorCorrection::Low),
            Err(Error::Qr(QrError::DataTooLong { len: 1_000_000, .. }))
        ));
        assert!(QrCode::encode("").is_ok());
    }

    #[test]
    fn debug_hides_the_modules() {
        let qr = QrCode::encode("secret stuff").unwrap();
        assert_eq!(
            format!("{qr:?}"),
            "QrCode { version: 1, size: 21, error_correction: Medium, .. }"
        );
        assert!(!qr.is_dark(21, 0) && !qr.is_dark(0, usize::MAX));
    }
}
