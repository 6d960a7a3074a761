//! Recovery codes. (Placeholder: issue 4 fills this in.)

use core::fmt;

/// Why recovery codes could not be made, parsed or checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecoveryError {}

impl core::error::Error for RecoveryError {}

impl fmt::Display for RecoveryError {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}
