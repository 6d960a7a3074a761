//! The cases of `cases.tsv`, shared by `tests/uri.rs` and `tests/qr.rs`
//! (included with `#[path = "data/uri/cases.rs"] mod cases;`).
#![allow(dead_code, clippy::unwrap_used)]

use twofa::uri::OtpAuthUriBuilder;
use twofa::{Algorithm, Hotp, OtpAuthUri, Secret, Totp};

/// One line of `cases.tsv`, with a secret of its own.
#[derive(Debug, Clone)]
pub struct Case {
    pub issuer: Option<String>,
    pub account: String,
    pub algorithm: Algorithm,
    pub digits: u32,
    pub hotp: bool,
    /// The period of a TOTP or the counter of an HOTP.
    pub number: u64,
    pub secret: Secret,
    pub image: Option<String>,
}

/// Every case of `cases.tsv`. Secret lengths cycle through 16, 20, 32, 64 and 128 bytes, and
/// every fifth case has an `image`.
pub fn cases() -> Vec<Case> {
    include_str!("cases.tsv")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .enumerate()
        .map(|(n, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 6, "line {n}: {line}");
            let len = [16, 20, 32, 64, 128][n % 5];
            let bytes: Vec<u8> = (0..len).map(|j| (n * 31 + j * 7 + 1) as u8).collect();
            Case {
                issuer: Some(fields[0].to_string()).filter(|i| !i.is_empty()),
                account: fields[1].to_string(),
                algorithm: fields[2].parse().unwrap(),
                digits: fields[3].parse().unwrap(),
                hotp: fields[4] == "hotp",
                number: fields[5].parse().unwrap(),
                secret: Secret::from_bytes(&bytes).unwrap(),
                image: (n % 5 == 2).then(|| format!("https://example.com/logo-{n}.png")),
            }
        })
        .collect()
}

impl Case {
    /// The URI this crate builds for the case.
    pub fn uri(&self) -> OtpAuthUri {
        if self.hotp {
            let hotp = Hotp::builder(self.secret.clone())
                .algorithm(self.algorithm)
                .digits(self.digits)
                .build()
                .unwrap();
            self.finish(OtpAuthUri::for_hotp(&hotp, self.number, &self.account))
        } else {
            let totp = Totp::builder(self.secret.clone())
                .algorithm(self.algorithm)
                .digits(self.digits)
                .period(self.number)
                .build()
                .unwrap();
            self.finish(OtpAuthUri::for_totp(&totp, &self.account))
        }
    }

    fn finish<'a>(&'a self, builder: OtpAuthUriBuilder<'a>) -> OtpAuthUri {
        let builder = builder.issuer(self.issuer.as_deref());
        match &self.image {
            Some(image) => builder.image(image),
            None => builder,
        }
        .build()
        .unwrap()
    }
}
