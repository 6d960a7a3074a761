//! Secrets at rest. (Placeholder: issue 5 fills this in.)

use core::fmt;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealError {}

impl core::error::Error for SealError {}

impl fmt::Display for SealError {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}
