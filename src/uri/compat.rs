//! Which settings of a URI authenticator apps are known to ignore or refuse.

use core::fmt;

use super::{DEFAULT_ALGORITHM, DEFAULT_DIGITS, DEFAULT_PERIOD, Kind, OtpAuthUri};
use crate::Algorithm;

/// The settings of an [`OtpAuthUri`] that common authenticator apps are known to ignore or
/// refuse, so that a host can warn before it enrols users with them.
///
/// The Key URI format lets a URI ask for another algorithm, more digits or another period, but
/// apps have long ignored those parameters: Google's own description of the format said for
/// years that Google Authenticator ignored `algorithm` and `period` (and `digits` on Android),
/// and other apps still behave that way or refuse such URIs. An app that ignores a setting
/// shows codes that never verify, and the user is locked out after enrolling. Only SHA-1, 6
/// digits and 30 seconds, time-based, work everywhere.
///
/// A parsed URI also reports what the parser left out rather than refuse the whole URI: an
/// `image` that was not https ([`CompatibilityWarning::ImageDropped`]).
///
/// ```
/// use twofa::uri::CompatibilityWarning;
/// use twofa::{Algorithm, OtpAuthUri, Secret, Totp};
///
/// let secret = Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")?;
/// let plain = OtpAuthUri::for_totp(&Totp::new(secret.clone()), "alice").build()?;
/// assert!(plain.compatibility().is_widely_supported());
///
/// let totp = Totp::builder(secret).algorithm(Algorithm::Sha256).period(60).build()?;
/// let report = OtpAuthUri::for_totp(&totp, "alice").build()?.compatibility();
/// let warnings: Vec<_> = report.warnings().collect();
/// assert_eq!(
///     warnings,
///     [CompatibilityWarning::Algorithm(Algorithm::Sha256), CompatibilityWarning::Period(60)]
/// );
/// println!("{}", warnings[0]); // a sentence for the host's logs or admin screen
/// # Ok::<(), twofa::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compatibility {
    algorithm: Option<Algorithm>,
    digits: Option<u32>,
    period: Option<u64>,
    counter_based: bool,
    image_dropped: bool,
}

/// One setting that some authenticator apps ignore or refuse; see [`Compatibility`].
///
/// `Display` gives a sentence that explains the risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompatibilityWarning {
    /// An algorithm other than SHA-1.
    Algorithm(Algorithm),
    /// A number of digits other than 6.
    Digits(u32),
    /// A period other than 30 seconds.
    Period(u64),
    /// Counter-based codes (HOTP), which some apps do not offer at all.
    CounterBased,
    /// The parsed URI had an `image` that was not an https URL, and it was left out: apps
    /// show no logo for this account.
    ImageDropped,
}

impl Compatibility {
    pub(super) fn of(uri: &OtpAuthUri) -> Compatibility {
        let (period, counter_based) = match uri.kind {
            Kind::Totp { period } => ((period != DEFAULT_PERIOD).then_some(period), false),
            Kind::Hotp { .. } => (None, true),
        };
        Compatibility {
            algorithm: (uri.algorithm != DEFAULT_ALGORITHM).then_some(uri.algorithm),
            digits: (uri.digits != DEFAULT_DIGITS).then_some(uri.digits),
            period,
            counter_based,
            image_dropped: uri.image_dropped,
        }
    }

    /// Whether every common authenticator app reads the URI as meant (time-based, SHA-1,
    /// 6 digits, 30 seconds) and nothing was left out: no warnings.
    pub fn is_widely_supported(&self) -> bool {
        self.warnings().next().is_none()
    }

    /// The settings to warn about, in the order algorithm, digits, period, type, image.
    pub fn warnings(&self) -> impl Iterator<Item = CompatibilityWarning> + use<> {
        [
            self.algorithm.map(CompatibilityWarning::Algorithm),
            self.digits.map(CompatibilityWarning::Digits),
            self.period.map(CompatibilityWarning::Period),
            self.counter_based
                .then_some(CompatibilityWarning::CounterBased),
            self.image_dropped
                .then_some(CompatibilityWarning::ImageDropped),
        ]
        .into_iter()
        .flatten()
    }
}

impl fmt::Display for CompatibilityWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Algorithm(algorithm) => write!(
                f,
                "the algorithm is {algorithm}: some authenticator apps ignore it and compute \
                 SHA-1 codes, which will not verify"
            ),
            Self::Digits(digits) => write!(
                f,
                "codes have {digits} digits: some authenticator apps ignore this and show \
                 6-digit codes, which will not verify"
            ),
            Self::Period(period) => write!(
                f,
                "the period is {period} seconds: some authenticator apps ignore it and change \
                 codes every 30 seconds, which will not verify"
            ),
            Self::CounterBased => f.write_str(
                "counter-based (HOTP) codes: some authenticator apps only offer time-based codes",
            ),
            Self::ImageDropped => f.write_str(
                "the image URL was not https and was left out: apps show no logo for this account",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hotp, Secret, Totp};
    use alloc::string::ToString;
    use alloc::vec::Vec;

    #[test]
    fn reports_each_setting_that_differs() {
        let secret = Secret::from_bytes(&[9; 20]).unwrap();
        let totp = Totp::builder(secret.clone())
            .algorithm(Algorithm::Sha512)
            .digits(8)
            .period(15)
            .build()
            .unwrap();
        let report = OtpAuthUri::for_totp(&totp, "b")
            .build()
            .unwrap()
            .compatibility();
        assert!(!report.is_widely_supported());
        assert_eq!(
            report.warnings().collect::<Vec<_>>(),
            [
                CompatibilityWarning::Algorithm(Algorithm::Sha512),
                CompatibilityWarning::Digits(8),
                CompatibilityWarning::Period(15),
            ]
        );
        let hotp = Hotp::new(secret);
        let report = OtpAuthUri::for_hotp(&hotp, 0, "b")
            .build()
            .unwrap()
            .compatibility();
        assert_eq!(
            report.warnings().collect::<Vec<_>>(),
            [CompatibilityWarning::CounterBased]
        );
        assert!(
            CompatibilityWarning::Period(15)
                .to_string()
                .contains("15 seconds")
        );
    }
}
