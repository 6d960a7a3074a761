//! Recovery codes: generating a set, and checking a right and a wrong code against sets of
//! 1, 10 and 16 codes. With one salt per set, a check costs one key derivation whatever the
//! size of the set, so the three sizes should cost the same; the bare derivation is measured
//! alongside as the floor.
#![allow(clippy::unwrap_used)] // a benchmark that cannot set up should stop at once

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use twofa::recovery::{CodeHasher, Pbkdf2Hasher, RecoveryCodeSet};

const USER: &str = "user-42";

fn generate(c: &mut Criterion) {
    let hasher = Pbkdf2Hasher::new();
    let mut group = c.benchmark_group("recovery/generate");
    // Ten derivations per set: a few dozen milliseconds, so fewer samples.
    group.sample_size(10);
    group.bench_function(format!("10-codes/i={}", hasher.iterations()), |b| {
        b.iter(|| RecoveryCodeSet::generate(black_box(&hasher), USER).unwrap())
    });
    group.finish();
}

fn check(c: &mut Criterion) {
    let hasher = Pbkdf2Hasher::new();
    let mut rng = twofa::os_rng();
    let mut group = c.benchmark_group("recovery/check");
    group.sample_size(20);

    group.bench_function("floor/one-derivation", |b| {
        let parameters = hasher.parameters();
        b.iter(|| hasher.hash(black_box(b"ABCDE12345"), black_box(&[7; 16]), &parameters))
    });

    for count in [1, 10, 16] {
        let (codes, set) = RecoveryCodeSet::generate_with(&hasher, USER, &mut rng, count).unwrap();
        // The last code, so that a comparison that stopped early would show.
        let right = codes.iter().last().unwrap().to_owned();
        let (others, _) = RecoveryCodeSet::generate_with(&hasher, USER, &mut rng, 1).unwrap();
        let wrong = others.iter().next().unwrap().to_owned();
        assert_eq!(
            set.clone().use_code(&right, USER, &hasher).unwrap(),
            count - 1
        );
        assert!(set.clone().use_code(&wrong, USER, &hasher).is_err());

        group.bench_function(format!("right/{count}"), |b| {
            b.iter_batched_ref(
                || set.clone(),
                |set| set.use_code(black_box(&right), USER, &hasher),
                BatchSize::SmallInput,
            )
        });
        let mut unchanged = set.clone();
        group.bench_function(format!("wrong/{count}"), |b| {
            b.iter(|| unchanged.use_code(black_box(&wrong), USER, &hasher))
        });
    }
    group.finish();
}

criterion_group!(benches, generate, check);
criterion_main!(benches);
