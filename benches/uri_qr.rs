//! Build and parse an otpauth URI; encode it as a QR code and render it to SVG (and PNG with
//! the `png` feature); side by side with totp-rs 6.0's `to_url` and `to_qr_png` on the same
//! secret, issuer and account.
// A benchmark whose setup fails should stop loudly.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use twofa::{OtpAuthUri, QrCode, Secret, Totp};

const SEED: &[u8] = b"12345678901234567890";
const ISSUER: &str = "Plausible Analytics";
const ACCOUNT: &str = "alice@example.com";

fn ours() -> Totp {
    Totp::new(Secret::from_bytes(SEED).unwrap())
}

fn theirs() -> totp_rs::Totp {
    totp_rs::Builder::new()
        .with_secret(SEED)
        .with_issuer(Some(ISSUER))
        .with_account_name(ACCOUNT)
        .build()
        .unwrap()
}

fn uri(c: &mut Criterion) {
    let totp = ours();
    let other = theirs();
    let built = OtpAuthUri::for_totp(&totp, ACCOUNT)
        .issuer(ISSUER)
        .build()
        .unwrap();
    let text = built.to_string();
    // Both libraries write the same URI for these settings, so the comparison is like for like.
    assert_eq!(other.to_url().unwrap(), text);

    let mut group = c.benchmark_group("uri");
    group.bench_function("twofa/build+to_string", |b| {
        b.iter(|| {
            OtpAuthUri::for_totp(black_box(&totp), ACCOUNT)
                .issuer(ISSUER)
                .build()
                .unwrap()
                .to_string()
        })
    });
    group.bench_function("totp-rs/to_url", |b| {
        b.iter(|| black_box(&other).to_url().unwrap())
    });
    group.bench_function("twofa/parse", |b| {
        b.iter(|| black_box(text.as_str()).parse::<OtpAuthUri>().unwrap())
    });
    group.bench_function("totp-rs/from_url", |b| {
        b.iter(|| totp_rs::Totp::from_url(black_box(text.as_str())).unwrap())
    });
    group.finish();
}

fn qr(c: &mut Criterion) {
    let totp = ours();
    let uri = OtpAuthUri::for_totp(&totp, ACCOUNT)
        .issuer(ISSUER)
        .build()
        .unwrap();
    let other = theirs();
    let code = QrCode::from_uri(&uri).unwrap();

    let mut group = c.benchmark_group("qr");
    group.bench_function("twofa/encode", |b| {
        b.iter(|| QrCode::from_uri(black_box(&uri)).unwrap())
    });
    group.bench_function("twofa/to_svg", |b| b.iter(|| black_box(&code).to_svg()));
    group.bench_function("twofa/encode+to_svg", |b| {
        b.iter(|| QrCode::from_uri(black_box(&uri)).unwrap().to_svg())
    });
    #[cfg(feature = "png")]
    group.bench_function("twofa/encode+to_png", |b| {
        b.iter(|| {
            QrCode::from_uri(black_box(&uri))
                .unwrap()
                .to_png(8)
                .unwrap()
        })
    });
    group.bench_function("totp-rs/to_qr_png", |b| {
        b.iter(|| black_box(&other).to_qr_png().unwrap())
    });
    group.finish();
}

criterion_group!(benches, uri, qr);
criterion_main!(benches);
