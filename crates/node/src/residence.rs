//! Which towns' replicas hold a record of each resident code, at a prefecture or national
//! node: a lookup by code reads only those replicas, not every one (the national node keeps
//! 1,741). It is built from the replicas when the node starts and extended, under a replica's
//! lock, by each batch applied to it, so it never lacks a town that holds a code; a town it
//! names that holds nothing of the code costs one read, never a wrong answer. Pure: the node
//! feeds it codes. Eight bytes per resident: about 80 MB at 10 million, 1 GB at 125 million.

use std::collections::BTreeSet;

use registry_domain::ResidentCode;

/// A town's position among the node's replicas (in the order of their codes).
pub type TownSlot = u16;

/// How many entries are added one by one before they are merged into the sorted bulk.
const MERGE_AT: usize = 1 << 16;

/// The towns holding each resident code: one 64-bit entry per code and town, the code's value
/// above the town's slot, so that a code's towns are adjacent and in slot order. Eight bytes
/// per resident (and per further town of a resident who moved) in a sorted array, plus the
/// entries added since the last merge.
#[derive(Debug, Default)]
pub struct Residence {
    /// The bulk, sorted.
    sorted: Vec<u64>,
    /// The entries added since the last merge into `sorted`.
    recent: BTreeSet<u64>,
}

fn entry(code: ResidentCode, town: TownSlot) -> u64 {
    // An 11-digit code is below 2^37: the entry fits with room to spare.
    (code.number() << TownSlot::BITS) | u64::from(town)
}

impl Residence {
    /// The index of `entries` (each a code and a town whose replica holds a record of it),
    /// sorted once: how a node builds it when it starts.
    pub fn build(entries: impl IntoIterator<Item = (ResidentCode, TownSlot)>) -> Residence {
        let mut sorted: Vec<u64> =
            entries.into_iter().map(|(code, town)| entry(code, town)).collect();
        sorted.sort_unstable();
        sorted.dedup();
        Residence { sorted, recent: BTreeSet::new() }
    }

    /// Notes that `town`'s replica holds a record of `code`.
    pub fn insert(&mut self, code: ResidentCode, town: TownSlot) {
        let entry = entry(code, town);
        if self.sorted.binary_search(&entry).is_ok() {
            return;
        }
        self.recent.insert(entry);
        if self.recent.len() >= MERGE_AT {
            self.merge();
        }
    }

    /// Merges the recent entries into the sorted bulk.
    fn merge(&mut self) {
        let recent = std::mem::take(&mut self.recent);
        let mut merged = Vec::with_capacity(self.sorted.len() + recent.len());
        let mut bulk = std::mem::take(&mut self.sorted).into_iter().peekable();
        for added in recent {
            while let Some(&next) = bulk.peek().filter(|&&next| next < added) {
                merged.push(next);
                bulk.next();
            }
            merged.push(added);
        }
        merged.extend(bulk);
        self.sorted = merged;
    }

    /// The towns holding `code`, in slot order (none when no town here holds it).
    pub fn towns(&self, code: ResidentCode) -> Vec<TownSlot> {
        let (first, last) = (entry(code, 0), entry(code, TownSlot::MAX));
        let start = self.sorted.partition_point(|&e| e < first);
        let bulk = self.sorted[start..].iter().take_while(|&&e| e <= last);
        let mut towns: Vec<TownSlot> = bulk
            .chain(self.recent.range(first..=last))
            .map(|&e| (e & u64::from(TownSlot::MAX)) as TownSlot)
            .collect();
        towns.sort_unstable();
        towns
    }

    /// How many (code, town) entries it holds.
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(ten: u64) -> ResidentCode {
        ResidentCode::from_ten_digits(ten).unwrap()
    }

    #[test]
    fn a_code_is_found_in_every_town_that_holds_it_in_slot_order_and_nowhere_else() {
        let mut residence = Residence::default();
        assert!(residence.is_empty());
        residence.insert(code(1_234_567_890), 3);
        residence.insert(code(1_234_567_890), 3);
        residence.insert(code(2_000_000_001), 0);
        assert_eq!(residence.towns(code(1_234_567_890)), vec![3]);
        assert_eq!(residence.towns(code(2_000_000_001)), vec![0]);
        assert_eq!(residence.towns(code(2_000_000_002)), Vec::<TownSlot>::new());
        // A resident who moved: held by the town they left and the one they joined.
        residence.insert(code(1_234_567_890), 1);
        residence.insert(code(1_234_567_890), 7);
        residence.insert(code(1_234_567_890), 1);
        assert_eq!(residence.towns(code(1_234_567_890)), vec![1, 3, 7]);
        assert_eq!(residence.len(), 4);
        assert!(!residence.is_empty());
        // The first town's slot is 0, in the sorted bulk as in the recent entries.
        let built = Residence::build([(code(1_234_567_890), 0), (code(1_234_567_890), 5)]);
        assert_eq!(built.towns(code(1_234_567_890)), vec![0, 5]);
    }

    #[test]
    fn entries_built_at_start_added_later_and_merged_are_all_found() {
        // Every fifth code of a run, held by town 2; the rest arrive one by one, past a merge.
        let codes: Vec<ResidentCode> =
            (0..(MERGE_AT as u64 * 3)).map(|i| code(1_000_000 + i * 3)).collect();
        let mut residence =
            Residence::build(codes.iter().step_by(5).map(|&code| (code, 2)).chain([(codes[0], 2)]));
        assert_eq!(residence.len(), codes.len().div_ceil(5));
        for (i, &code) in codes.iter().enumerate() {
            residence.insert(code, if i % 5 == 0 { 9 } else { 2 });
        }
        assert!(residence.recent.len() < MERGE_AT, "merged on the way");
        for (i, &code) in codes.iter().enumerate() {
            let expected: Vec<TownSlot> = if i % 5 == 0 { vec![2, 9] } else { vec![2] };
            assert_eq!(residence.towns(code), expected, "code {i}");
        }
        // Neighbouring values held by nobody.
        assert!(residence.towns(code(1_000_001)).is_empty());
        assert!(residence.towns(code(999_999)).is_empty());
        assert!(residence.sorted.is_sorted());
    }
}
