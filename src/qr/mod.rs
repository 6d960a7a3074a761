//! QR codes for otpauth URIs. (Placeholder: issue 3 fills this in.)

use core::fmt;

/// Why a QR code could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QrError {}

impl core::error::Error for QrError {}

impl fmt::Display for QrError {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}
