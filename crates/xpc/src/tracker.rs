//! The object tracker: which local object stands for an object of the
//! other domain.
//!
//! ```text
//!   other domain                      this domain
//!   (0x1000, Device)  ───────────▶  slot 0: Device { .. }
//!   (0x1000, Stats)   ───────────▶  slot 1: Stats { .. }   an embedded struct
//!                                                         at its container's
//!                                                         address: told apart
//!                                                         by type
//!   (0x2000, Queue)   ───────────▶  slot 2: Queue { .. }
//! ```
//!
//! An object that crosses again is found and updated in place, so both
//! domains keep one object each, not one per crossing. Objects leave on
//! explicit release, or all at once when the peer crashes.

use std::collections::HashMap;

/// An object of the other domain: its address there and its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Remote {
    /// The object's address in the other domain.
    pub address: u64,
    /// Its type (a number both sides agree on, e.g. from the XDR spec).
    pub type_id: u32,
}

/// A local object's handle in the tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalId(usize);

/// Maps remote objects to local ones of type `V`.
pub struct ObjectTracker<V> {
    by_remote: HashMap<Remote, LocalId>,
    slots: Vec<Option<(Remote, V)>>,
    free: Vec<usize>,
}

impl<V> Default for ObjectTracker<V> {
    fn default() -> Self {
        ObjectTracker {
            by_remote: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<V> ObjectTracker<V> {
    /// An empty tracker.
    pub fn new() -> ObjectTracker<V> {
        ObjectTracker::default()
    }

    /// The local object for `remote`, made with `make` the first time it
    /// crosses. Returns its id and whether it was new.
    pub fn get_or_insert_with(
        &mut self,
        remote: Remote,
        make: impl FnOnce() -> V,
    ) -> (LocalId, bool) {
        if let Some(&id) = self.by_remote.get(&remote) {
            return (id, false);
        }
        let entry = Some((remote, make()));
        let id = match self.free.pop() {
            Some(i) => {
                self.slots[i] = entry;
                LocalId(i)
            }
            None => {
                self.slots.push(entry);
                LocalId(self.slots.len() - 1)
            }
        };
        self.by_remote.insert(remote, id);
        (id, true)
    }

    /// The local object for `remote`, if it has crossed.
    pub fn find(&self, remote: Remote) -> Option<LocalId> {
        self.by_remote.get(&remote).copied()
    }

    /// The object.
    pub fn get(&self, id: LocalId) -> Option<&V> {
        self.slots.get(id.0)?.as_ref().map(|(_, v)| v)
    }

    /// The object, to update in place.
    pub fn get_mut(&mut self, id: LocalId) -> Option<&mut V> {
        self.slots.get_mut(id.0)?.as_mut().map(|(_, v)| v)
    }

    /// The remote object a local one stands for (to send it back).
    pub fn remote_of(&self, id: LocalId) -> Option<Remote> {
        self.slots.get(id.0)?.as_ref().map(|(r, _)| *r)
    }

    /// Forgets `remote`'s object and returns it.
    pub fn release(&mut self, remote: Remote) -> Option<V> {
        let id = self.by_remote.remove(&remote)?;
        let (_, v) = self.slots.get_mut(id.0)?.take()?;
        self.free.push(id.0);
        Some(v)
    }

    /// Forgets every object (the peer crashed or restarted); returns how
    /// many there were.
    pub fn release_all(&mut self) -> usize {
        let n = self.by_remote.len();
        self.by_remote.clear();
        self.slots.clear();
        self.free.clear();
        n
    }

    /// How many objects are tracked.
    pub fn len(&self) -> usize {
        self.by_remote.len()
    }

    /// Whether no object is tracked.
    pub fn is_empty(&self) -> bool {
        self.by_remote.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEVICE: u32 = 1;
    const STATS: u32 = 2;

    fn r(address: u64, type_id: u32) -> Remote {
        Remote { address, type_id }
    }

    #[test]
    fn an_object_crossing_twice_is_one_object_updated_in_place() {
        let mut t = ObjectTracker::new();
        let (a, new) = t.get_or_insert_with(r(0x1000, DEVICE), || vec![1]);
        assert!(new);
        let (b, new) = t.get_or_insert_with(r(0x1000, DEVICE), || vec![99]);
        assert!(!new);
        assert_eq!(a, b);
        t.get_mut(b).unwrap().push(2);
        assert_eq!(t.get(a).unwrap(), &[1, 2]);
        assert_eq!(t.len(), 1);
        assert_eq!(t.remote_of(a), Some(r(0x1000, DEVICE)));
    }

    #[test]
    fn an_embedded_struct_and_its_container_are_distinct() {
        let mut t = ObjectTracker::new();
        let (dev, _) = t.get_or_insert_with(r(0x1000, DEVICE), || "device");
        let (stats, new) = t.get_or_insert_with(r(0x1000, STATS), || "stats");
        assert!(new);
        assert_ne!(dev, stats);
        assert_eq!(t.get(dev), Some(&"device"));
        assert_eq!(t.get(stats), Some(&"stats"));
    }

    #[test]
    fn release_frees_and_release_all_forgets_a_crashed_peer() {
        let mut t = ObjectTracker::new();
        let (a, _) = t.get_or_insert_with(r(1, DEVICE), || 1);
        t.get_or_insert_with(r(2, DEVICE), || 2);
        assert_eq!(t.release(r(1, DEVICE)), Some(1));
        assert_eq!(t.get(a), None);
        assert_eq!(t.release(r(1, DEVICE)), None);
        // The slot is reused.
        let (c, new) = t.get_or_insert_with(r(3, DEVICE), || 3);
        assert!(new);
        assert_eq!(c, a);
        assert_eq!(t.release_all(), 2);
        assert!(t.is_empty());
        assert_eq!(t.find(r(2, DEVICE)), None);
    }
}
