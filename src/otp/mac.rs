//! The keyed HMAC state shared by HOTP and TOTP, and RFC 4226 dynamic truncation.
//!
//! HMAC (RFC 2104) is `H((K ^ opad) || H((K ^ ipad) || m))`. The two key blocks are the same
//! for every code, so their compressions are done once, at construction, and kept as chaining
//! values. An HOTP message is 8 bytes, so with the hash padding it fills one block, and the
//! inner digest fills one block of the outer hash: each code then costs exactly two calls to
//! the hash's compression function (from the RustCrypto `sha1` and `sha2` crates), with no
//! buffering, no allocation and no copy of a streaming hasher.
//!
//! This is HMAC itself, not a variant: the RFC 4226 and RFC 6238 vectors and thousands of cases
//! against `oathtool` and `pyotp` (with keys longer than a block, which are hashed first)
//! check it in `tests/otp.rs`.
//!
//! # Blocks are written the way the hash reads them
//!
//! The hardware backends of `sha1` and `sha2` (the x86 SHA extensions among them) read a block
//! 16 bytes at a time. A 16-byte load that overlaps several smaller stores still waiting in the
//! store buffer cannot take its bytes from them: it waits until they reach the cache, and the
//! code behind it waits too. Written the obvious way (zeros, then an 8-byte counter, then the
//! `0x80` byte) that wait cost about 40% of a code on the benchmark machine. So every 16-byte
//! piece of a block is written with one 16-byte store: the padding of each block is a constant
//! copied whole ([`BlockHash::INNER_PADDING`], [`BlockHash::OUTER_PADDING`]), and a piece that
//! mixes a value with padding is built by [`piece`] in a vector register. The digest is also
//! truncated from the state words, not written out and read back.

use core::hint::black_box;

use sha1::Digest;
use zeroize::Zeroize;

use super::Algorithm;

/// An HMAC with the key already absorbed; the chaining values are zeroized on drop.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Keyed<Sha1>),
    Sha256(Keyed<Sha256>),
    Sha512(Keyed<Sha512>),
}

impl KeyedMac {
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Keyed::new(key)),
            Algorithm::Sha256 => Self::Sha256(Keyed::new(key)),
            Algorithm::Sha512 => Self::Sha512(Keyed::new(key)),
        }
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        match self {
            Self::Sha1(_) => Algorithm::Sha1,
            Self::Sha256(_) => Algorithm::Sha256,
            Self::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// HOTP(K, C) before reduction modulo 10^digits: the 31-bit value of RFC 4226 section 5.3.
    #[inline]
    pub(crate) fn truncated(&self, counter: u64) -> u32 {
        match self {
            Self::Sha1(keyed) => keyed.truncated(counter),
            Self::Sha256(keyed) => keyed.truncated(counter),
            Self::Sha512(keyed) => keyed.truncated(counter),
        }
    }

    /// [`KeyedMac::truncated`] for the counters `first`, `first + 1`, ... into each slot of
    /// `out`; the caller makes sure the last counter does not overflow.
    ///
    /// Codes of neighbouring counters do not depend on each other, so their compressions are
    /// issued side by side and the processor overlaps them: checking a window of three steps
    /// costs far less than three single codes.
    #[inline]
    pub(crate) fn truncated_range(&self, first: u64, out: &mut [u32]) {
        match self {
            Self::Sha1(keyed) => keyed.truncated_range(first, out),
            Self::Sha256(keyed) => keyed.truncated_range(first, out),
            Self::Sha512(keyed) => keyed.truncated_range(first, out),
        }
    }
}

/// How many codes [`Keyed::truncated_range`] computes side by side.
const LANES: usize = 4;

/// The inner and outer chaining values of an HMAC after the key blocks.
pub(crate) struct Keyed<H: BlockHash> {
    inner: H::State,
    outer: H::State,
}

impl<H: BlockHash> Clone for Keyed<H> {
    fn clone(&self) -> Self {
        Keyed {
            inner: self.inner,
            outer: self.outer,
        }
    }
}

impl<H: BlockHash> Keyed<H> {
    fn new(key: &[u8]) -> Self {
        let mut block = H::ZERO_BLOCK;
        let bytes = block.as_mut();
        if key.len() <= bytes.len() {
            bytes[..key.len()].copy_from_slice(key);
        } else {
            let mut digest = H::Hasher::digest(key);
            bytes[..digest.len()].copy_from_slice(&digest);
            digest.as_mut_slice().zeroize();
        }
        bytes.iter_mut().for_each(|b| *b ^= 0x36);
        let mut inner = H::IV;
        H::compress(&mut inner, &block);
        block.as_mut().iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
        let mut outer = H::IV;
        H::compress(&mut outer, &block);
        block.as_mut().zeroize();
        Keyed { inner, outer }
    }

    #[inline]
    fn truncated(&self, counter: u64) -> u32 {
        let mut state = self.inner;
        H::compress(&mut state, &inner_block::<H>(counter));
        let block = outer_block::<H>(&state);
        let mut state = self.outer;
        H::compress(&mut state, &block);
        H::truncate(&state)
    }

    fn truncated_range(&self, first: u64, out: &mut [u32]) {
        let mut base = first;
        for chunk in out.chunks_mut(LANES) {
            let lanes = chunk.len();
            // Build every block before the first compression, so that the compressions follow
            // one another with nothing in between and the processor can overlap them.
            let mut blocks: [H::Block; LANES] =
                core::array::from_fn(|lane| inner_block::<H>(base.wrapping_add(lane as u64)));
            let mut states = [self.inner; LANES];
            for (state, block) in states.iter_mut().zip(&blocks).take(lanes) {
                H::compress(state, block);
            }
            for (block, state) in blocks.iter_mut().zip(&states).take(lanes) {
                *block = outer_block::<H>(state);
            }
            states = [self.outer; LANES];
            for (state, block) in states.iter_mut().zip(&blocks).take(lanes) {
                H::compress(state, block);
            }
            for (slot, state) in chunk.iter_mut().zip(&states) {
                *slot = H::truncate(state);
            }
            // Unused lanes still hold copies of the keyed state.
            states.zeroize();
            base = base.wrapping_add(LANES as u64);
        }
    }
}

/// The inner hash's last block: the 8-byte counter after the ipad block, padded.
#[inline]
fn inner_block<H: BlockHash>(counter: u64) -> H::Block {
    let mut block = H::INNER_PADDING;
    block.as_mut()[..16].copy_from_slice(&piece(counter, &COUNTER_THEN_PADDING));
    block
}

/// The outer hash's last block: the inner digest after the opad block, padded.
#[inline]
fn outer_block<H: BlockHash>(inner: &H::State) -> H::Block {
    let mut block = H::OUTER_PADDING;
    H::write_digest(inner, block.as_mut());
    block
}

/// Where [`piece`] puts its value: per 8-byte lane, the bits of the value kept and the padding
/// added.
struct Layout {
    keep: [u64; 2],
    pad: [u64; 2],
}

/// An 8-byte counter followed by the padding byte `0x80` and zeros: the first 16 bytes of every
/// inner block.
static COUNTER_THEN_PADDING: Layout = Layout {
    keep: [u64::MAX, 0],
    pad: [0, u64::from_ne_bytes([0x80, 0, 0, 0, 0, 0, 0, 0])],
};

/// Eight bytes of value and eight zero bytes: bytes 16..32 of a SHA-1 outer block, where the
/// value is the last digest word and the `0x80` after it.
static VALUE_THEN_ZEROS: Layout = Layout {
    keep: [u64::MAX, 0],
    pad: [0, 0],
};

/// 16 bytes of a block: `value` big-endian in the first eight, then what `layout` says, built
/// so that the compiler writes them with a single 16-byte store (see the module docs).
///
/// The layout is read through [`black_box`] so that the compiler treats its masks as data: as
/// constants they would fold back into two 8-byte stores, the very thing this avoids. Should a
/// compiler see through it anyway, the bytes are the same, only slower.
#[inline(always)]
fn piece(value: u64, layout: &'static Layout) -> [u8; 16] {
    let layout = black_box(layout);
    let mut out = [0u8; 16];
    for ((bytes, keep), pad) in out.chunks_exact_mut(8).zip(layout.keep).zip(layout.pad) {
        bytes.copy_from_slice(&((value.to_be() & keep) | pad).to_ne_bytes());
    }
    out
}

/// A final block before its message bytes: the padding byte `0x80` after `message_len` bytes
/// and, at the end, the length in bits of all that was hashed (the key block, `N` bytes, and
/// the message). The length fits the low 64 bits of SHA-512's 128-bit field.
const fn padded<const N: usize>(message_len: usize) -> [u8; N] {
    let mut block = [0u8; N];
    block[message_len] = 0x80;
    let bits = ((N + message_len) as u64 * 8).to_be_bytes();
    let (_, length) = block.split_at_mut(N - 8);
    length.copy_from_slice(&bits);
    block
}

impl<H: BlockHash> Drop for Keyed<H> {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// The block-level view of a Merkle-Damgard hash (FIPS 180-4) that HMAC needs.
pub(crate) trait BlockHash {
    type State: Copy + Zeroize;
    type Block: Copy + AsMut<[u8]>;
    /// The whole-message hash, for keys longer than a block.
    type Hasher: Digest;
    const ZERO_BLOCK: Self::Block;
    const IV: Self::State;
    /// The inner hash's last block without the counter: [`padded`] for an 8-byte message.
    const INNER_PADDING: Self::Block;
    /// The outer hash's last block without the inner digest.
    const OUTER_PADDING: Self::Block;

    fn compress(state: &mut Self::State, block: &Self::Block);
    /// Writes the state as big-endian bytes (the digest, once the last block is compressed)
    /// at the start of `block`, which holds [`BlockHash::OUTER_PADDING`].
    fn write_digest(state: &Self::State, block: &mut [u8]);
    /// Dynamic truncation (RFC 4226 section 5.3) of the digest held in `state`: the 31 bits
    /// at the offset named by the low nibble of the digest's last byte.
    fn truncate(state: &Self::State) -> u32;
}

pub(crate) enum Sha1 {}
pub(crate) enum Sha256 {}
pub(crate) enum Sha512 {}

impl BlockHash for Sha1 {
    type State = [u32; 5];
    type Block = [u8; 64];
    type Hasher = sha1::Sha1;
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const IV: [u32; 5] = [
        0x6745_2301,
        0xefcd_ab89,
        0x98ba_dcfe,
        0x1032_5476,
        0xc3d2_e1f0,
    ];
    const INNER_PADDING: [u8; 64] = padded(8);
    const OUTER_PADDING: [u8; 64] = padded(20);

    #[inline]
    fn compress(state: &mut [u32; 5], block: &[u8; 64]) {
        sha1::block_api::compress(state, core::slice::from_ref(block));
    }

    fn write_digest(state: &[u32; 5], block: &mut [u8]) {
        let [a, b, c, d, e] = *state;
        write_words(&[a, b, c, d], &mut block[..16]);
        // The fifth word shares its 16 bytes with the padding byte after the digest.
        let last = (u64::from(e) << 32) | 0x8000_0000;
        block[16..32].copy_from_slice(&piece(last, &VALUE_THEN_ZEROS));
    }

    fn truncate(state: &[u32; 5]) -> u32 {
        truncate_words(state)
    }
}

impl BlockHash for Sha256 {
    type State = [u32; 8];
    type Block = [u8; 64];
    type Hasher = sha2::Sha256;
    const ZERO_BLOCK: [u8; 64] = [0; 64];
    const IV: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    const INNER_PADDING: [u8; 64] = padded(8);
    const OUTER_PADDING: [u8; 64] = padded(32);

    #[inline]
    fn compress(state: &mut [u32; 8], block: &[u8; 64]) {
        sha2::block_api::compress256(state, core::slice::from_ref(block));
    }

    fn write_digest(state: &[u32; 8], block: &mut [u8]) {
        write_words(state, &mut block[..32]);
    }

    fn truncate(state: &[u32; 8]) -> u32 {
        truncate_words(state)
    }
}

impl BlockHash for Sha512 {
    type State = [u64; 8];
    type Block = [u8; 128];
    type Hasher = sha2::Sha512;
    const ZERO_BLOCK: [u8; 128] = [0; 128];
    const IV: [u64; 8] = [
        0x6a09_e667_f3bc_c908,
        0xbb67_ae85_84ca_a73b,
        0x3c6e_f372_fe94_f82b,
        0xa54f_f53a_5f1d_36f1,
        0x510e_527f_ade6_82d1,
        0x9b05_688c_2b3e_6c1f,
        0x1f83_d9ab_fb41_bd6b,
        0x5be0_cd19_137e_2179,
    ];
    const INNER_PADDING: [u8; 128] = padded(8);
    const OUTER_PADDING: [u8; 128] = padded(64);

    #[inline]
    fn compress(state: &mut [u64; 8], block: &[u8; 128]) {
        sha2::block_api::compress512(state, core::slice::from_ref(block));
    }

    fn write_digest(state: &[u64; 8], block: &mut [u8]) {
        for (chunk, word) in block.chunks_exact_mut(8).zip(state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
    }

    /// As [`truncate_words`], over 64-bit words: the offset is at most 15, so the four bytes
    /// lie in the first three words.
    fn truncate(state: &[u64; 8]) -> u32 {
        let offset = (state[7] & 0x0f) as usize;
        let pair = (u128::from(state[offset / 8]) << 64) | u128::from(state[offset / 8 + 1]);
        (pair >> (96 - 8 * (offset % 8))) as u32 & 0x7fff_ffff
    }
}

fn write_words(state: &[u32], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// [`BlockHash::truncate`] for a digest of big-endian 32-bit words: the last byte is the low
/// byte of the last word, and the four bytes at the offset (at most 15) lie in the word it
/// falls in and the next one, both within the 20 bytes every digest has.
#[inline]
fn truncate_words<const N: usize>(state: &[u32; N]) -> u32 {
    let offset = (state[N - 1] & 0x0f) as usize;
    let pair = (u64::from(state[offset / 4]) << 32) | u64::from(state[offset / 4 + 1]);
    (pair >> (32 - 8 * (offset % 4))) as u32 & 0x7fff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};

    /// Our block-level HMAC against the `hmac` crate's, for key lengths on both sides of each
    /// block size (where the key is hashed first) and a spread of counters.
    #[test]
    fn matches_the_hmac_crate() {
        fn reference<M: Mac + KeyInit>(key: &[u8], counter: u64) -> u32 {
            reference_with_offset::<M>(key, counter).0
        }
        let key: alloc::vec::Vec<u8> = (0..=255u8).map(|i| i.wrapping_mul(37)).collect();
        for len in [0, 1, 16, 20, 63, 64, 65, 127, 128, 129, 200] {
            let key = &key[..len];
            for counter in [0, 1, 0x1234_5678, u64::MAX] {
                assert_eq!(
                    KeyedMac::new(Algorithm::Sha1, key).truncated(counter),
                    reference::<Hmac<sha1::Sha1>>(key, counter)
                );
                assert_eq!(
                    KeyedMac::new(Algorithm::Sha256, key).truncated(counter),
                    reference::<Hmac<sha2::Sha256>>(key, counter)
                );
                assert_eq!(
                    KeyedMac::new(Algorithm::Sha512, key).truncated(counter),
                    reference::<Hmac<sha2::Sha512>>(key, counter)
                );
            }
        }
    }

    /// HMAC by the `hmac` crate, truncated; with the truncation offset it used.
    fn reference_with_offset<M: Mac + KeyInit>(key: &[u8], counter: u64) -> (u32, usize) {
        let mut mac = <M as KeyInit>::new_from_slice(key).unwrap();
        mac.update(&counter.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let offset = usize::from(digest[digest.len() - 1] & 0x0f);
        let word = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap());
        (word & 0x7fff_ffff, offset)
    }

    /// Truncation reads the state words, so every one of the 16 offsets (each a different
    /// pair of words and shift) is checked against the bytes of a real digest.
    #[test]
    fn truncation_is_right_at_every_offset() {
        fn check<M: Mac + KeyInit>(algorithm: Algorithm) {
            let key = b"12345678901234567890";
            let mac = KeyedMac::new(algorithm, key);
            let mut seen = [false; 16];
            for counter in 0..2_000 {
                let (expected, offset) = reference_with_offset::<M>(key, counter);
                assert_eq!(mac.truncated(counter), expected, "{algorithm} {counter}");
                seen[offset] = true;
            }
            assert!(
                seen.iter().all(|&s| s),
                "{algorithm}: offsets seen {seen:?}"
            );
        }
        check::<Hmac<sha1::Sha1>>(Algorithm::Sha1);
        check::<Hmac<sha2::Sha256>>(Algorithm::Sha256);
        check::<Hmac<sha2::Sha512>>(Algorithm::Sha512);
    }

    #[test]
    fn a_range_equals_single_codes() {
        for algorithm in [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512] {
            let mac = KeyedMac::new(algorithm, b"12345678901234567890");
            for len in [0, 1, 3, 4, 5, 9, 21] {
                let mut out = [0u32; 21];
                mac.truncated_range(1000, &mut out[..len]);
                for (i, value) in out[..len].iter().enumerate() {
                    assert_eq!(
                        *value,
                        mac.truncated(1000 + i as u64),
                        "{algorithm} {len} {i}"
                    );
                }
            }
        }
    }
}
