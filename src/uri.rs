//! otpauth Key URIs. (Placeholder: issue 3 fills this in.)

use core::fmt;

/// Why an otpauth URI could not be built or parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UriError {}

impl core::error::Error for UriError {}

impl fmt::Display for UriError {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

/// An otpauth Key URI.
#[derive(Debug)]
pub struct OtpAuthUri {}
