//! The sources' names. Each parser numbers the sources it meets in its own
//! [`SourceCache`] (no lock, no sharing) and sends the new names with each block; the run
//! keeps the one numbering of the output in [`SourceNames`] and maps each parser's numbers
//! onto it as it takes the blocks, in the order the parser made them.

use std::collections::HashMap;

use foldhash::fast::RandomState;
use indexmap::IndexSet;

/// The sources' names, by number.
pub(crate) type Names = indexmap::set::Slice<Box<str>>;

/// The run's numbering of the sources, by order of first sight: on the run's thread only.
/// Each name is held once, numbered by its place in the set.
#[derive(Debug, Default)]
pub(crate) struct SourceNames {
    names: IndexSet<Box<str>, RandomState>,
}

impl SourceNames {
    /// The index of `name`, registering it if it is new.
    pub(crate) fn index(&mut self, name: Box<str>) -> u32 {
        let (i, _) = self.names.insert_full(name);
        u32::try_from(i).expect("fewer than 2^32 sources")
    }

    /// The index of `name`, registering (and copying) it only if it is new.
    #[cfg(feature = "redis")]
    pub(crate) fn index_of(&mut self, name: &str) -> u32 {
        match self.names.get_index_of(name) {
            Some(i) => u32::try_from(i).expect("fewer than 2^32 sources"),
            None => self.index(name.into()),
        }
    }

    /// Every name, by index.
    pub(crate) fn all(&self) -> &Names {
        self.names.as_slice()
    }

    /// Takes the names a parser met for the first time in a block (`new`, in the order of
    /// its numbers) into `to_run`, that parser's map from its numbers to the run's.
    pub(crate) fn learn(&mut self, to_run: &mut Vec<u32>, new: Vec<Box<str>>) {
        for name in new {
            to_run.push(self.index(name));
        }
    }
}

/// A parser's own numbering of the sources it meets. Up to [`SCANNED`] names are found by a
/// scan that compares a tag of each name (its length and last 8 bytes, which tell `sensor-3`
/// from `sensor-4` in one comparison) before the name itself: faster than hashing for a
/// handful of sources. Past that, every name is found in a hash map, so a name costs the same
/// whatever the number of sources.
#[derive(Debug, Default)]
pub(crate) struct SourceCache {
    seen: Vec<(u64, usize, Box<[u8]>)>,
    /// Every name and its number, once there are more than [`SCANNED`] (then `seen` is
    /// empty).
    more: HashMap<Name, u32, RandomState>,
    /// Names met since [`take_new`](Self::take_new) was last called.
    new: Vec<Box<str>>,
}

/// How many names [`SourceCache`] scans before it hashes.
const SCANNED: usize = 16;

impl SourceCache {
    /// The parser's number for `name`, which is valid UTF-8.
    pub(crate) fn index(&mut self, name: &[u8]) -> u32 {
        if self.more.is_empty() {
            let tag = tail(name);
            let found = self
                .seen
                .iter()
                .position(|(t, len, n)| *t == tag && *len == name.len() && **n == *name);
            if let Some(i) = found {
                return i as u32;
            }
            if self.seen.len() < SCANNED {
                self.seen.push((tag, name.len(), name.into()));
                self.learned(name);
                return (self.seen.len() - 1) as u32;
            }
            // From now on every name is looked up in the map.
            let seen = self.seen.drain(..).map(|(_, _, seen)| Name::new(&seen));
            self.more.extend(seen.zip(0..));
        } else if let Some(&i) = self.more.get(name) {
            return i;
        }
        let i = u32::try_from(self.more.len()).expect("fewer than 2^32 sources");
        self.more.insert(Name::new(name), i);
        self.learned(name);
        i
    }

    /// Notes `name` as new.
    fn learned(&mut self, name: &[u8]) {
        let text = std::str::from_utf8(name).expect("checked by the parser");
        self.new.push(text.into());
    }

    /// The names met for the first time since the last call, in the order of their numbers.
    pub(crate) fn take_new(&mut self) -> Vec<Box<str>> {
        std::mem::take(&mut self.new)
    }
}

/// A source's name as a parser keeps it: a name of up to 23 bytes (most are) inside the hash
/// map's slot, so that finding it costs no reach into another allocation.
#[derive(Debug, Clone)]
enum Name {
    Short { len: u8, bytes: [u8; 23] },
    Long(Box<[u8]>),
}

impl Name {
    fn new(name: &[u8]) -> Self {
        match u8::try_from(name.len()) {
            Ok(len) if name.len() <= 23 => {
                let mut bytes = [0; 23];
                bytes[..name.len()].copy_from_slice(name);
                Name::Short { len, bytes }
            }
            _ => Name::Long(name.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Short { len, bytes } => &bytes[..usize::from(*len)],
            Name::Long(bytes) => bytes,
        }
    }
}

// Hashed and compared as the bytes they hold, so that the map is searched with a `&[u8]`.
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl std::borrow::Borrow<[u8]> for Name {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// The last 8 bytes of `name` (fewer when it is shorter) as a number.
fn tail(name: &[u8]) -> u64 {
    match name.len().checked_sub(8) {
        Some(start) => u64::from_le_bytes(name[start..].try_into().expect("8 bytes")),
        None => name.iter().fold(0, |t, &b| t << 8 | u64::from(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsers_numbering_sources_apart_map_onto_one_numbering() {
        let inputs = [
            "sensor-1",
            "xsensor-1",
            "sensor-2",
            "",
            "a",
            "b",
            "ab",
            "ba",
            "été",
            "été-2",
            "a-very-long-sensor-1",
            "a-long-sensor-1",
        ];
        let mut run = SourceNames::default();
        // Two parsers meet the same names in opposite orders, a block at a time.
        let (mut a, mut b) = (SourceCache::default(), SourceCache::default());
        let (mut a_to_run, mut b_to_run) = (Vec::new(), Vec::new());
        let a_local: Vec<u32> = inputs.iter().map(|n| a.index(n.as_bytes())).collect();
        run.learn(&mut a_to_run, a.take_new());
        let b_local: Vec<u32> = inputs.iter().rev().map(|n| b.index(n.as_bytes())).collect();
        run.learn(&mut b_to_run, b.take_new());
        // A name met again is not new, and keeps its number.
        assert_eq!(a.index(b"sensor-2"), a_local[2]);
        assert!(a.take_new().is_empty());
        let names = run.all();
        assert_eq!(names.len(), inputs.len());
        for (name, i) in inputs.iter().zip(&a_local) {
            assert_eq!(&*names[a_to_run[*i as usize] as usize], *name);
        }
        for (name, i) in inputs.iter().rev().zip(&b_local) {
            assert_eq!(&*names[b_to_run[*i as usize] as usize], *name);
        }
    }

    #[test]
    fn past_the_scanned_names_the_numbers_go_on() {
        // Short names, and names too long to be held in the map's slot.
        let names: Vec<String> = (0..100)
            .map(|i| format!("sensor-{i}{}", "-long".repeat(i % 7)))
            .collect();
        let mut cache = SourceCache::default();
        let first: Vec<u32> = names.iter().map(|n| cache.index(n.as_bytes())).collect();
        assert_eq!(first, (0..100).collect::<Vec<u32>>());
        let again: Vec<u32> = names
            .iter()
            .rev()
            .map(|n| cache.index(n.as_bytes()))
            .collect();
        assert_eq!(again, (0..100).rev().collect::<Vec<u32>>());
        let new = cache.take_new();
        assert_eq!(new.len(), 100);
        assert!(new.iter().zip(&names).all(|(a, b)| **a == **b));
    }
}
