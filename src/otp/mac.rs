//! The keyed HMAC state shared by HOTP and TOTP, and RFC 4226 dynamic truncation.

use hmac::digest::FixedOutput;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use zeroize::Zeroize;

use super::Algorithm;

/// An HMAC with the key already absorbed.
///
/// The inner and outer pads are hashed once, here; each code then clones this state and costs
/// one compression for the counter and one for the outer hash (SHA-1 and SHA-256; SHA-512 the
/// same with its larger blocks). The hash cores zeroize themselves on drop.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

impl KeyedMac {
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(keyed(key)),
            Algorithm::Sha256 => Self::Sha256(keyed(key)),
            Algorithm::Sha512 => Self::Sha512(keyed(key)),
        }
    }

    /// HOTP(K, C) before reduction modulo 10^digits: the 31-bit value of RFC 4226 section 5.3.
    #[inline]
    pub(crate) fn truncated(&self, counter: u64) -> u32 {
        let message = counter.to_be_bytes();
        match self {
            Self::Sha1(mac) => truncate(&finish(mac, &message)),
            Self::Sha256(mac) => truncate(&finish(mac, &message)),
            Self::Sha512(mac) => truncate(&finish(mac, &message)),
        }
    }
}

/// Keys an HMAC without the fallible slice constructor: a key up to one block is padded with
/// zeros and a longer one is hashed first (RFC 2104 section 2), which is what HMAC does anyway.
fn keyed<D: EagerHash>(key: &[u8]) -> Hmac<D> {
    let mut block = hmac::digest::Key::<Hmac<D>>::default();
    if key.len() <= block.len() {
        block[..key.len()].copy_from_slice(key);
    } else {
        let mut hash = D::digest(key);
        block[..hash.len()].copy_from_slice(&hash);
        hash.as_mut_slice().zeroize();
    }
    let mac = <Hmac<D> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

#[inline]
fn finish<D: EagerHash>(keyed: &Hmac<D>, message: &[u8]) -> hmac::digest::Output<Hmac<D>> {
    let mut mac = keyed.clone();
    mac.update(message);
    mac.finalize_fixed()
}

/// Dynamic truncation (RFC 4226 section 5.3): four bytes at the offset named by the low nibble
/// of the last byte, with the top bit cleared.
#[inline]
fn truncate(hash: &[u8]) -> u32 {
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let word = [
        hash[offset],
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ];
    u32::from_be_bytes(word) & 0x7fff_ffff
}
