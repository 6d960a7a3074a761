//! PNG rendering of QR codes (feature `png`), through the `png` crate.

use alloc::vec::Vec;

use super::{QrCode, QrError};
use crate::Error;

impl QrCode {
    /// The code as a PNG image: black on white, `module_size` pixels per module, the 4-module
    /// quiet zone included, 1 bit per pixel.
    ///
    /// ```
    /// use twofa::QrCode;
    ///
    /// let png = QrCode::encode("hello")?.to_png(4)?;
    /// assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    /// # Ok::<(), twofa::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`QrError::ModuleSizeOutOfRange`] unless `module_size` is 1 to
    /// [`QrCode::MAX_PNG_MODULE_SIZE`]; [`QrError::PngEncoding`] if the encoder fails.
    ///
    /// # Security
    ///
    /// The image holds whatever the code holds: for an otpauth URI, the secret.
    #[cfg_attr(docsrs, doc(cfg(feature = "png")))]
    pub fn to_png(&self, module_size: u32) -> Result<Vec<u8>, Error> {
        if !(1..=Self::MAX_PNG_MODULE_SIZE).contains(&module_size) {
            return Err(QrError::ModuleSizeOutOfRange {
                size: module_size,
                max: Self::MAX_PNG_MODULE_SIZE,
            }
            .into());
        }
        let scale = module_size as usize;
        let quiet = Self::QUIET_ZONE;
        let side = self.size() + 2 * quiet;
        let pixels = side * scale;
        let width = u32::try_from(pixels).map_err(|_| QrError::PngEncoding)?;
        let row_bytes = pixels.div_ceil(8);

        // In a 1-bit greyscale PNG, 0 is black: start all white and clear the dark modules,
        // one pixel row per module row, then repeat it `scale` times.
        let mut data = alloc::vec![0xffu8; row_bytes * pixels];
        for (module_row, band) in data.chunks_exact_mut(row_bytes * scale).enumerate() {
            let Some(y) = module_row.checked_sub(quiet) else {
                continue;
            };
            let (first, rest) = band.split_at_mut(row_bytes);
            for px in 0..pixels {
                let dark = (px / scale)
                    .checked_sub(quiet)
                    .is_some_and(|x| self.is_dark(x, y));
                if let (true, Some(byte)) = (dark, first.get_mut(px / 8)) {
                    *byte &= !(0x80 >> (px % 8));
                }
            }
            for line in rest.chunks_exact_mut(row_bytes) {
                line.copy_from_slice(first);
            }
        }

        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, width);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        // Rows repeat `module_size` times, which even the fast deflate shrinks well.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(|_| QrError::PngEncoding)?;
        writer
            .write_image_data(&data)
            .map_err(|_| QrError::PngEncoding)?;
        writer.finish().map_err(|_| QrError::PngEncoding)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_size_is_bounded() {
        let qr = QrCode::encode("x").unwrap();
        for size in [0, QrCode::MAX_PNG_MODULE_SIZE + 1, u32::MAX] {
            assert_eq!(
                qr.to_png(size),
                Err(Error::Qr(QrError::ModuleSizeOutOfRange { size, max: 32 }))
            );
        }
        let big = QrCode::encode(&"a".repeat(2300))
            .unwrap()
            .to_png(32)
            .unwrap();
        assert!(big.starts_with(b"\x89PNG"));
    }
}
