//! [`SourceNames`]: the sources' names by index, shared by every parser of every input, and
//! [`SourceCache`], a parser's own view of them. The one file of the command that names
//! `std::sync`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The names of the sources seen so far, by index: a handle shared by every parser of every
/// input and the run (cloning it shares the same names).
#[derive(Debug, Clone, Default)]
pub(super) struct SourceNames {
    names: Arc<Mutex<Registry>>,
}

/// Names by index, and indexes by name.
#[derive(Debug, Default)]
struct Registry {
    by_index: Vec<Box<str>>,
    by_name: HashMap<Box<str>, u32>,
}

impl SourceNames {
    /// The index of `name`, registering it if it is new.
    fn index(&self, name: &str) -> u32 {
        let mut registry = self.names.lock().expect("no parser panics holding it");
        if let Some(&i) = registry.by_name.get(name) {
            return i;
        }
        let i = u32::try_from(registry.by_index.len()).expect("fewer than 2^32 sources");
        registry.by_index.push(name.into());
        registry.by_name.insert(name.into(), i);
        i
    }

    /// Every name, by index.
    pub(super) fn all(&self) -> Vec<Box<str>> {
        let registry = self.names.lock().expect("no parser panics holding it");
        registry.by_index.clone()
    }

    /// A cache of these names for one parser.
    pub(super) fn cache(&self) -> SourceCache {
        SourceCache {
            names: self.clone(),
            seen: Vec::new(),
        }
    }
}

/// A parser's own cache of [`SourceNames`]: the few sources of an input are found by a scan
/// without a lock, comparing a tag of each name (its length and last 8 bytes, which tell
/// `sensor-3` from `sensor-4` in one comparison) before the name itself.
pub(super) struct SourceCache {
    names: SourceNames,
    seen: Vec<(u64, usize, Box<[u8]>, u32)>,
}

impl SourceCache {
    /// The index of `name`, which is valid UTF-8.
    pub(super) fn index(&mut self, name: &[u8]) -> u32 {
        let tag = tail(name);
        if let Some((.., i)) = self
            .seen
            .iter()
            .find(|(t, len, n, _)| *t == tag && *len == name.len() && **n == *name)
        {
            return *i;
        }
        let text = std::str::from_utf8(name).expect("checked by the parser");
        let i = self.names.index(text);
        self.seen.push((tag, name.len(), name.into(), i));
        i
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
    fn sources_keep_their_own_index_whatever_their_tails() {
        let names = SourceNames::default();
        let (mut a, mut b) = (names.cache(), names.cache());
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
        let first: Vec<u32> = inputs.iter().map(|n| a.index(n.as_bytes())).collect();
        // Again, in another order and from another parser: the same indexes.
        for (name, i) in inputs.iter().zip(&first).rev() {
            assert_eq!(b.index(name.as_bytes()), *i, "{name}");
            assert_eq!(a.index(name.as_bytes()), *i, "{name}");
        }
        let all = names.all();
        for (name, &i) in inputs.iter().zip(&first) {
            assert_eq!(&*all[i as usize], *name);
        }
        assert_eq!(all.len(), inputs.len());
    }
}
