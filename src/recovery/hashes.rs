//! The hashes of a set's unused codes, kept end to end in one buffer: a record read at every
//! sign-in holds them, and one allocation for all of them is cheaper than one per hash.

use alloc::vec::Vec;

use super::RecoveryCodeSet;

/// The shortest hash a set may hold, in bytes.
pub(super) const MIN_HASH_LEN: usize = 16;
/// The longest hash a set may hold, in bytes.
pub(super) const MAX_HASH_LEN: usize = 64;

/// Hashes of one length, none repeated, at most
/// [`MAX_COUNT`](RecoveryCodeSet::MAX_COUNT) of them, in the order they were made.
///
/// An empty list has hash length 0, so that it has one form only.
#[derive(Clone, PartialEq, Eq, Default)]
pub(super) struct Hashes {
    /// The hashes, each `hash_len` bytes, one after another.
    bytes: Vec<u8>,
    hash_len: usize,
}

impl Hashes {
    /// The hashes of `list`, or `None` if they break a rule of the type (see [`Hashes`]).
    /// Generation and the text form read their hashes through here.
    pub(super) fn from_list<H: AsRef<[u8]>>(list: impl IntoIterator<Item = H>) -> Option<Hashes> {
        let mut bytes = Vec::new();
        let mut hash_len = 0;
        for (index, hash) in list.into_iter().enumerate() {
            let hash = hash.as_ref();
            if index == 0 {
                hash_len = hash.len();
            }
            // The rules an item can break are checked before it is copied, so that neither a
            // broken hasher nor hostile text grows the buffer: one length for all, within the
            // bounds (an empty item would add nothing and vanish, a second spelling of the
            // list: found by the recovery_set fuzzer), and no more than a set holds.
            if hash.len() != hash_len
                || !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&hash_len)
                || index >= RecoveryCodeSet::MAX_COUNT
            {
                return None;
            }
            if index == 0 {
                bytes.reserve(hash_len * RecoveryCodeSet::DEFAULT_COUNT);
            }
            bytes.extend_from_slice(hash);
        }
        Self::checked(bytes, hash_len)
    }

    /// The hashes of `bytes`, `hash_len` bytes each, or `None` if they break a rule of the
    /// type. The binary form reads its hashes through here, in one copy.
    pub(super) fn from_concatenated(bytes: &[u8], hash_len: usize) -> Option<Hashes> {
        if bytes.len() > MAX_HASH_LEN * RecoveryCodeSet::MAX_COUNT {
            return None;
        }
        Self::checked(bytes.to_vec(), hash_len)
    }

    /// The one place the rules are checked.
    fn checked(bytes: Vec<u8>, hash_len: usize) -> Option<Hashes> {
        if bytes.is_empty() {
            return (hash_len == 0).then(Hashes::default);
        }
        if !(MIN_HASH_LEN..=MAX_HASH_LEN).contains(&hash_len)
            || !bytes.len().is_multiple_of(hash_len)
        {
            return None;
        }
        let hashes = Hashes { bytes, hash_len };
        let count = hashes.count();
        if count > RecoveryCodeSet::MAX_COUNT {
            return None;
        }
        // Every pair once, by the first eight bytes (every hash has at least 16), and in full
        // only when those agree: a record is read at every sign-in.
        let mut firsts = [0u64; RecoveryCodeSet::MAX_COUNT];
        for (first, hash) in firsts.iter_mut().zip(hashes.iter()) {
            let mut word = [0u8; 8];
            word.copy_from_slice(&hash[..8]);
            *first = u64::from_ne_bytes(word);
        }
        for (i, hash) in hashes.iter().enumerate() {
            let later = hashes.iter().zip(&firsts).skip(i + 1);
            if later
                .filter(|&(_, first)| *first == firsts[i])
                .any(|(other, _)| other == hash)
            {
                return None;
            }
        }
        Some(hashes)
    }

    /// How many hashes.
    pub(super) fn count(&self) -> usize {
        self.bytes.len().checked_div(self.hash_len).unwrap_or(0)
    }

    /// The length of each hash, in bytes; 0 when there is none.
    pub(super) fn hash_len(&self) -> usize {
        self.hash_len
    }

    /// The hashes in order.
    pub(super) fn iter(&self) -> core::slice::ChunksExact<'_, u8> {
        // `max(1)`: an empty list has no chunks whatever the size.
        self.bytes.chunks_exact(self.hash_len.max(1))
    }

    /// Every hash, one after another.
    pub(super) fn as_concatenated(&self) -> &[u8] {
        &self.bytes
    }

    /// Removes hash `index` (nothing when out of range); the list keeps its one form, so the
    /// hash length becomes 0 with the last hash gone.
    pub(super) fn remove(&mut self, index: usize) {
        let start = index.saturating_mul(self.hash_len);
        if start >= self.bytes.len() {
            return;
        }
        self.bytes.drain(start..start + self.hash_len);
        if self.bytes.is_empty() {
            self.hash_len = 0;
        }
    }
}

impl core::fmt::Debug for Hashes {
    /// Counts only: hashes are not for logs.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hashes")
            .field("count", &self.count())
            .field("hash_len", &self.hash_len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn list(hashes: &Hashes) -> Vec<Vec<u8>> {
        hashes.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn both_ways_in_agree_on_every_case() {
        let cases: Vec<(Vec<Vec<u8>>, bool)> = vec![
            (vec![], true),
            (vec![vec![1; 16]], true),
            (vec![vec![1; 64], vec![2; 64]], true),
            (vec![vec![1; 15]], false),
            (vec![vec![]], false),
            (vec![vec![], vec![1; 16]], false),
            (vec![vec![1; 16], vec![]], false),
            (vec![vec![1; 65]], false),
            (vec![vec![1; 32], vec![2; 31]], false),
            (vec![vec![1; 32], vec![2; 32], vec![1; 32]], false),
            ((0..32u8).map(|i| vec![i; 16]).collect(), true),
            // Alike in the first eight bytes, the quick comparison, and not after them.
            (
                vec![
                    [vec![9; 8], vec![1; 8]].concat(),
                    [vec![9; 8], vec![2; 8]].concat(),
                ],
                true,
            ),
            (
                vec![
                    [vec![9; 8], vec![1; 8]].concat(),
                    [vec![9; 8], vec![1; 8]].concat(),
                ],
                false,
            ),
            (
                vec![
                    [vec![9; 15], vec![1]].concat(),
                    [vec![9; 15], vec![2]].concat(),
                ],
                true,
            ),
            ((0..33u8).map(|i| vec![i; 16]).collect(), false),
        ];
        for (hashes, valid) in cases {
            let from_list = Hashes::from_list(&hashes);
            assert_eq!(from_list.is_some(), valid, "{hashes:?}");
            if let Some(read) = &from_list {
                assert_eq!(list(read), hashes);
                assert_eq!(read.count(), hashes.len());
            }
            // Same-length lists only: the concatenated form cannot express mixed lengths.
            let len = hashes.first().map_or(0, Vec::len);
            // Nor empty items, which it has no way to write.
            if hashes.iter().all(|h| h.len() == len) && (hashes.is_empty() || len > 0) {
                let joined = hashes.concat();
                assert_eq!(Hashes::from_concatenated(&joined, len), from_list);
            }
        }
    }

    #[test]
    fn a_long_list_is_refused_after_one_more_hash_than_a_set_holds() {
        let mut pulled = 0;
        let endless = (0..1000u16).map(|i| {
            pulled += 1;
            [i.to_be_bytes(); 8].concat()
        });
        assert_eq!(Hashes::from_list(endless), None);
        assert_eq!(pulled, RecoveryCodeSet::MAX_COUNT + 1);
    }

    #[test]
    fn debug_shows_the_count_and_length_only() {
        let hashes = Hashes::from_list([[0xab; 16], [0xcd; 16]]).unwrap();
        assert_eq!(
            alloc::format!("{hashes:?}"),
            "Hashes { count: 2, hash_len: 16 }"
        );
    }

    #[test]
    fn an_over_long_hash_is_refused_before_anything_is_reserved() {
        // What a broken hasher might return: nothing is reserved for ten of it.
        let list = [vec![7u8; 1 << 20]];
        let mut read = Some(Hashes::default());
        let counted = allocation_counter::measure(|| read = Hashes::from_list(&list));
        assert_eq!((read, counted.count_total), (None, 0));
    }

    #[test]
    fn a_set_of_the_usual_size_is_read_in_one_allocation() {
        let list: Vec<[u8; 32]> = (0..10u8).map(|i| [i; 32]).collect();
        let mut read = None;
        let counted = allocation_counter::measure(|| read = Hashes::from_list(&list));
        assert_eq!(counted.count_total, 1);
        assert_eq!(read.unwrap().count(), 10);
    }

    #[test]
    fn the_concatenated_form_refuses_what_does_not_divide_or_is_not_canonical() {
        assert!(Hashes::from_concatenated(&[7; 33], 16).is_none());
        assert!(Hashes::from_concatenated(&[7; 32], 0).is_none());
        assert!(
            Hashes::from_concatenated(&[], 16).is_none(),
            "empty with a length"
        );
        assert!(Hashes::from_concatenated(&[], 0).is_some());
        assert!(Hashes::from_concatenated(&[7; 64 * 33], 64).is_none());
        let many: Vec<u8> = (0..32u8).flat_map(|i| [i; 64]).collect();
        assert_eq!(Hashes::from_concatenated(&many, 64).unwrap().count(), 32);
    }

    #[test]
    fn removing_keeps_the_order_and_the_one_empty_form() {
        let mut hashes = Hashes::from_list([[1u8; 16], [2; 16], [3; 16]]).unwrap();
        hashes.remove(3);
        assert_eq!(hashes.count(), 3);
        hashes.remove(1);
        assert_eq!(list(&hashes), [[1; 16], [3; 16]]);
        hashes.remove(0);
        hashes.remove(0);
        assert_eq!(hashes, Hashes::default());
        assert_eq!((hashes.count(), hashes.hash_len()), (0, 0));
        assert_eq!(hashes.iter().count(), 0);
    }
}
