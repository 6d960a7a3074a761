//! Generating and verifying codes allocates nothing on the heap (DESIGN: "No heap allocation
//! on generate or verify"). Counted with a counting global allocator, per thread.
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use std::hint::black_box;

use allocation_counter::measure;
use twofa::{Algorithm, Hotp, Secret, Totp};

const NOW: u64 = 1_700_000_000;

fn totps() -> Vec<Totp> {
    [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
        .into_iter()
        .map(|algorithm| {
            Totp::builder(Secret::from_bytes(&[7; 64]).unwrap())
                .algorithm(algorithm)
                .digits(8)
                .window(10, 10)
                .build()
                .unwrap()
        })
        .collect()
}

#[test]
fn the_counter_sees_allocations() {
    // Without this, a broken counter would make the tests below pass vacuously.
    let totp = Totp::new(Secret::from_bytes(&[7; 20]).unwrap());
    let counted = measure(|| {
        black_box(totp.generate(NOW).to_string());
    });
    assert!(counted.count_total >= 1);
}

#[test]
fn generate_does_not_allocate() {
    for totp in totps() {
        let counted = measure(|| {
            let code = totp.generate(black_box(NOW));
            black_box(code.as_str());
            black_box(totp.generate_at_step(black_box(u64::MAX)));
            black_box(totp.try_generate(black_box(NOW)).unwrap());
        });
        assert_eq!(counted.count_total, 0, "{:?}", totp.algorithm());
    }
    let hotp = Hotp::new(Secret::from_bytes(&[7; 20]).unwrap());
    assert_eq!(measure(|| drop(black_box(hotp.generate(1)))).count_total, 0);
}

#[test]
fn verify_does_not_allocate_whatever_the_outcome() {
    for totp in totps() {
        let right = totp.generate(NOW).to_string();
        let counted = measure(|| {
            let accepted = totp.verify_after(black_box(&right), NOW, None).unwrap();
            black_box(
                totp.verify_after(&right, NOW, Some(accepted.step))
                    .unwrap_err(),
            );
            black_box(totp.verify(black_box("00000000"), NOW).ok());
            black_box(totp.verify(black_box("not a code"), NOW).unwrap_err());
        });
        assert_eq!(counted.count_total, 0, "{:?}", totp.algorithm());
    }
    // RFC 4226 Appendix D: "359152" is counter 2 of this secret.
    let hotp = Hotp::new(Secret::from_bytes(b"12345678901234567890").unwrap());
    let counted = measure(|| {
        black_box(
            hotp.verify(black_box("359152"), 0, Hotp::MAX_LOOK_AHEAD)
                .unwrap(),
        );
    });
    assert_eq!(counted.count_total, 0);
}
