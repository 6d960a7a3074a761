//! Generate and verify, per algorithm; side by side with totp-rs 6.0; and the floor of two
//! raw SHA-1 compressions, which is what one HMAC-SHA-1 code costs once the key is absorbed.
#![allow(clippy::unwrap_used)] // benchmark setup: failing loudly is the point

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sha1::block_api::compress;
use twofa::{Algorithm, Secret, Totp};

const SEED: &[u8] = b"12345678901234567890123456789012345678901234567890123456789012345";
const TIME: u64 = 1_700_000_000;

fn ours(algorithm: Algorithm) -> Totp {
    let len = match algorithm {
        Algorithm::Sha1 => 20,
        Algorithm::Sha256 => 32,
        Algorithm::Sha512 => 64,
    };
    Totp::builder(Secret::from_bytes(&SEED[..len]).unwrap())
        .algorithm(algorithm)
        .window(1, 1)
        .build()
        .unwrap()
}

fn theirs(algorithm: totp_rs::Algorithm, len: usize) -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_algorithm(algorithm)
        .with_secret(&SEED[..len])
        .with_skew(1)
        .with_account_name("bench")
        .build()
        .unwrap()
}

/// A code guaranteed to match no step of the window, so verify checks all three.
fn wrong_code(totp: &Totp) -> String {
    let window: Vec<String> = [TIME - 30, TIME, TIME + 30]
        .iter()
        .map(|&t| totp.generate(t).to_string())
        .collect();
    (0..10)
        .map(|n| format!("00000{n}"))
        .find(|c| !window.contains(c))
        .unwrap()
}

/// The floor: two SHA-1 compressions from two saved chaining values (as HMAC starts from its
/// absorbed key blocks), the second block made from the first result (so they cannot
/// overlap). Both blocks are one byte repeated, which the compiler writes with whole 16-byte
/// stores, so nothing but the two compressions is measured. Out of line, like the library
/// calls it is compared with, and returning one word: handing a 20-byte array to the harness
/// costs a store-forwarding stall of its own (about 18 ns here), which is not the hash's.
#[inline(never)]
fn two_compressions(saved: &[[u32; 5]; 2], byte: u8) -> u32 {
    let mut inner = saved[0];
    compress(&mut inner, &[[byte; 64]]);
    let mut outer = saved[1];
    compress(&mut outer, &[[inner[0] as u8; 64]]);
    outer[0]
}

fn generate(c: &mut Criterion) {
    let mut group = c.benchmark_group("generate");
    for (name, algorithm, theirs_alg, len) in [
        ("sha1", Algorithm::Sha1, totp_rs::Algorithm::SHA1, 20),
        ("sha256", Algorithm::Sha256, totp_rs::Algorithm::SHA256, 32),
        ("sha512", Algorithm::Sha512, totp_rs::Algorithm::SHA512, 64),
    ] {
        let totp = ours(algorithm);
        group.bench_function(format!("twofa/{name}"), |b| {
            b.iter(|| totp.generate(black_box(TIME)))
        });
        let other = theirs(theirs_alg, len);
        assert_eq!(
            other.generate(TIME).to_string(),
            totp.generate(TIME).to_string()
        );
        group.bench_function(format!("totp-rs/{name}"), |b| {
            b.iter(|| other.generate(black_box(TIME)))
        });
    }
    group.bench_function("floor/two-sha1-compressions", |b| {
        let saved = [[0x6745_2301; 5], [0xefcd_ab89; 5]];
        b.iter(|| two_compressions(&saved, black_box(0x36)))
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    for (name, algorithm, theirs_alg, len) in [
        ("sha1", Algorithm::Sha1, totp_rs::Algorithm::SHA1, 20),
        ("sha256", Algorithm::Sha256, totp_rs::Algorithm::SHA256, 32),
        ("sha512", Algorithm::Sha512, totp_rs::Algorithm::SHA512, 64),
    ] {
        let totp = ours(algorithm);
        let right = totp.generate(TIME).to_string();
        let wrong = wrong_code(&totp);
        assert!(totp.verify(&right, TIME).is_ok());
        assert!(totp.verify(&wrong, TIME).is_err());
        group.bench_function(format!("twofa/{name}/right"), |b| {
            b.iter(|| totp.verify(black_box(&right), black_box(TIME)))
        });
        group.bench_function(format!("twofa/{name}/wrong"), |b| {
            b.iter(|| totp.verify(black_box(&wrong), black_box(TIME)))
        });
        let other = theirs(theirs_alg, len);
        assert!(other.check(&right, TIME).is_some());
        assert!(other.check(&wrong, TIME).is_none());
        group.bench_function(format!("totp-rs/{name}/right"), |b| {
            b.iter(|| other.check(black_box(&right), black_box(TIME)))
        });
        group.bench_function(format!("totp-rs/{name}/wrong"), |b| {
            b.iter(|| other.check(black_box(&wrong), black_box(TIME)))
        });
    }
    group.finish();
}

criterion_group!(benches, generate, verify);
criterion_main!(benches);
