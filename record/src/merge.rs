//! Merging repeated sightings of one thing in a record, in O(n log n) time
//! whatever the record holds, and without allocating.
//!
//! A record may name one distribution many times (a native library, then its
//! extension modules, then its Python modules), and a hostile one may hold
//! millions of entries. The renderer therefore never compares every sighting
//! with every earlier one. It puts one fixed-size [`Slot`] per sighting into
//! scratch space the caller lends it, sorts the slots so that sightings of the
//! same thing are adjacent (`core`'s unstable sort: no allocation, O(n log n)
//! comparisons in the worst case), folds each run of equal slots into its
//! first one, and sorts those back into record order. The sort compares
//! integers only (hash, then offset); entries are looked at once per slot to
//! confirm that equal hashes are equal keys, and again only inside a run of
//! colliding hashes, which is sorted by the real key.
//!
//! A slot is three native-endian `u32` words:
//!
//! | word | while sorting | after [`fold`] (group leaders only) |
//! |---|---|---|
//! | 0 | hash of what makes two sightings the same | what the caller folded in |
//! | 1 | offset of the sighting's entry in the body | same |
//! | 2 | caller's data (the map's distribution id) | same |
//!
//! The hash only orders the sort; equal hashes are compared on the real key,
//! so a crafted collision costs time within the same O(n log n) bound (a few
//! times slower: comparisons then parse entries), never a wrong merge.

use core::cmp::Ordering;

/// Bytes of scratch space one sighting takes.
pub const SLOT_BYTES: usize = 12;

/// One sighting: see the module documentation.
pub type Slot = [u8; SLOT_BYTES];

fn word(s: &Slot, i: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[4 * i..4 * i + 4]);
    u32::from_ne_bytes(w)
}

/// Builds a slot.
pub fn slot(key: u32, at: u32, aux: u32) -> Slot {
    let mut s = [0u8; SLOT_BYTES];
    s[0..4].copy_from_slice(&key.to_ne_bytes());
    s[4..8].copy_from_slice(&at.to_ne_bytes());
    s[8..12].copy_from_slice(&aux.to_ne_bytes());
    s
}

/// Word 0: the hash, or after [`fold`], the folded value.
pub fn key(s: &Slot) -> u32 {
    word(s, 0)
}

/// Word 1: the entry's offset in the body.
pub fn at(s: &Slot) -> u32 {
    word(s, 1)
}

/// Word 2: the caller's data.
pub fn aux(s: &Slot) -> u32 {
    word(s, 2)
}

/// A total order on byte strings (by length, then bytes) for telling keys
/// apart. Short strings are compared in a plain loop: the record's keys are
/// mostly a few bytes long, and libc's vectorised `memcmp` was measured here
/// to cost ~100 ns per call on them (masked loads), dominating the render.
pub fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| {
        if a.len() < 32 {
            a.iter().cmp(b.iter())
        } else {
            a.cmp(b)
        }
    })
}

/// [`cmp_bytes`] over several fields in turn.
pub fn cmp_fields(a: &[&[u8]], b: &[&[u8]]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| cmp_bytes(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(a.len().cmp(&b.len()))
}

/// 32-bit FNV-1a over `parts`, each followed by a 0 byte so that
/// `("ab", "c")` and `("a", "bc")` differ.
pub fn hash(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for part in parts {
        for &b in part.iter().chain(&[0u8]) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// Groups equal sightings and returns how many distinct ones there are; their
/// leaders (the first sighting of each, in record order) are then
/// `slots[..n]`, in record order.
///
/// `same` orders two slots by their real key (called only when hashes are
/// equal). For each group, `fold(leader, member)` is called for every member
/// in record order, the leader included, starting from `0`; its result is
/// stored in the leader's word 0.
pub fn fold(
    slots: &mut [Slot],
    mut same: impl FnMut(&Slot, &Slot) -> Ordering,
    mut fold: impl FnMut(u32, &Slot) -> u32,
) -> usize {
    sort_by_hash(slots);
    let mut i = 0;
    while i < slots.len() {
        let h = key(&slots[i]);
        let run = slots[i..].iter().take_while(|s| key(s) == h).count();
        // Equal hashes are nearly always equal keys: one linear check. A
        // run that mixes keys (a collision) is sorted by the real key, which
        // costs O(k log k) comparisons of k entries, never more.
        let first = slots[i];
        if slots[i + 1..i + run]
            .iter()
            .any(|s| same(s, &first).is_ne())
        {
            sort_by_key(&mut slots[i..i + run], &mut same);
        }
        i += run;
    }
    let mut leaders = 0;
    let mut i = 0;
    while i < slots.len() {
        let first = slots[i];
        let mut acc = fold(0, &first);
        let mut j = i + 1;
        while j < slots.len() && key(&slots[j]) == key(&first) && same(&slots[j], &first).is_eq() {
            acc = fold(acc, &slots[j]);
            j += 1;
        }
        slots[leaders] = slot(acc, at(&first), aux(&first));
        leaders += 1;
        i = j;
    }
    sort_by_at(&mut slots[..leaders]);
    leaders
}

/// Integer keys only: no entry is looked at while sorting. Not generic, so
/// that the tracer carries one copy of the sort, not one per caller.
#[inline(never)]
fn sort_by_hash(slots: &mut [Slot]) {
    slots.sort_unstable_by_key(|s| (u64::from(key(s)) << 32) | u64::from(at(s)));
}

/// By the real key, then offset; through `dyn` so that one copy serves
/// every caller.
#[inline(never)]
fn sort_by_key(slots: &mut [Slot], same: &mut dyn FnMut(&Slot, &Slot) -> Ordering) {
    slots.sort_unstable_by(|a, b| same(a, b).then_with(|| at(a).cmp(&at(b))));
}

#[inline(never)]
fn sort_by_at(slots: &mut [Slot]) {
    slots.sort_unstable_by_key(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_equal_keys_and_keeps_record_order() {
        // (name, at): "b" first seen at 0, "a" at 4, "c" at 12.
        let names: [&[u8]; 5] = [b"b", b"a", b"b", b"c", b"a"];
        let mut slots: Vec<Slot> = names
            .iter()
            .enumerate()
            .map(|(i, n)| slot(hash(&[n]), 4 * i as u32, i as u32))
            .collect();
        let name = |s: &Slot| names[aux(s) as usize];
        let n = fold(&mut slots, |a, b| name(a).cmp(name(b)), |acc, _| acc + 1);
        let got: Vec<_> = slots[..n]
            .iter()
            .map(|s| (name(s), at(s), key(s)))
            .collect();
        assert_eq!(
            got,
            vec![(&b"b"[..], 0, 2), (&b"a"[..], 4, 2), (&b"c"[..], 12, 1)]
        );
    }

    #[test]
    fn colliding_hashes_are_not_merged() {
        let names: [&[u8]; 4] = [b"x", b"y", b"x", b"z"];
        // Every slot has the same hash: only the real key separates them.
        let mut slots: Vec<Slot> = (0..names.len())
            .map(|i| slot(7, 4 * i as u32, i as u32))
            .collect();
        let name = |s: &Slot| names[aux(s) as usize];
        let n = fold(&mut slots, |a, b| name(a).cmp(name(b)), |acc, _| acc + 1);
        let got: Vec<_> = slots[..n].iter().map(|s| (name(s), key(s))).collect();
        assert_eq!(got, vec![(&b"x"[..], 2), (&b"y"[..], 1), (&b"z"[..], 1)]);
    }

    #[test]
    fn hash_separates_fields() {
        assert_ne!(hash(&[b"ab", b"c"]), hash(&[b"a", b"bc"]));
    }
}
