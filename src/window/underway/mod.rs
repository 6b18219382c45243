//! [`Underway`]: a flag an upstream raises while items are on their way to an event-time
//! window, so that the window's idle timeout does not take the wait for quiet.

use std::fmt;

use tokio::time::Instant;

use crate::sync::{Arc, AtomicU64, Ordering};

/// Raised guards, in the low half of the word.
const GUARD: u64 = 1;
const GUARDS: u64 = (1 << 32) - 1;
/// Every raise also adds one to the high half: a count of raises, compared for equality only
/// (it wraps after 2^32 raises). So the word never comes back to a value it had: a raise
/// moves the count on, a lower takes a guard off.
const CHANGE: u64 = 1 << 32;

/// A flag an upstream raises while items are on its way to an event-time window: read from
/// their source, not handed on yet, because they wait for something first (another reader's
/// word on the server, say).
///
/// An [idle timeout](super::EventTimeWindow::idle_timeout) takes the time its upstream has
/// nothing to give for quiet, and advances event time through it: an item that then comes
/// with a timestamp behind the advanced watermark is late. A source that is not quiet but
/// busy would lose its items that way. Given this flag
/// ([`EventTimeWindow::underway`](super::EventTimeWindow::underway),
/// [`KeyedWindow::underway`](super::KeyedWindow::underway)), a window counts no quiet
/// time during which the flag was up: when its idle timer fires and the flag is up, or was
/// raised or lowered since the quiet period began, the quiet period begins again.
///
/// An upstream that can tell quiet from silence makes its flag with
/// [`vouching`](Self::vouching) and says when it [`heard`](Self::heard) that nothing was
/// new: a window then counts as quiet only time up to the latest such instant. A source
/// whose server has stopped answering has heard nothing since its last answer, so its
/// silence is never taken for quiet, however long it lasts and whether or not the flag
/// went up meanwhile.
///
/// Clones share the flag. It is up while any guard [`raise`](Self::raise) returned is alive;
/// one word, updated and read atomically, so the source and the window may be on different
/// threads.
///
/// ```
/// use weir::window::Underway;
///
/// let underway = Underway::new();
/// let waiting = underway.raise();
/// assert!(underway.is_raised());
/// drop(waiting);
/// assert!(!underway.is_raised());
/// ```
#[derive(Clone, Default)]
pub struct Underway {
    word: Arc<AtomicU64>,
    /// With [`vouching`](Self::vouching): what the upstream has heard.
    heard: Option<Arc<Heard>>,
}

/// The latest instant an upstream heard that nothing was new, as microseconds after `base`
/// plus one (0: none yet). It only moves forward.
struct Heard {
    base: Instant,
    at: AtomicU64,
}

impl Underway {
    /// A flag that is down.
    pub fn new() -> Self {
        Underway::default()
    }

    /// A flag that is down, whose upstream vouches for quiet: a window counts as quiet only
    /// time up to the latest instant passed to [`heard`](Self::heard) (none before the first).
    pub fn vouching() -> Self {
        let heard = Heard {
            base: Instant::now(),
            at: AtomicU64::new(0),
        };
        Underway {
            word: Arc::default(),
            heard: Some(Arc::new(heard)),
        }
    }

    /// Raises the flag until the guard is dropped.
    #[must_use = "the flag is down again once the guard is dropped"]
    pub fn raise(&self) -> Raised {
        self.word.fetch_add(CHANGE + GUARD, Ordering::SeqCst);
        Raised(self.word.clone())
    }

    /// Whether a guard is alive.
    pub fn is_raised(&self) -> bool {
        self.word.load(Ordering::SeqCst) & GUARDS != 0
    }

    /// Says that the upstream learned that nothing was on its way as of `at` (the instant
    /// it asked, not the one the answer came: an answer that comes late says nothing of the
    /// time in between). An instant before one heard already changes nothing; so does any
    /// on a flag not made [`vouching`](Self::vouching).
    pub fn heard(&self, at: Instant) {
        if let Some(heard) = &self.heard {
            let micros = at.saturating_duration_since(heard.base).as_micros();
            let micros = u64::try_from(micros).unwrap_or(u64::MAX - 1);
            heard.at.fetch_max(micros + 1, Ordering::SeqCst);
        }
    }

    /// Up to when quiet time counts: `None` for a flag that does not vouch (any time the
    /// upstream has nothing to give), else the latest instant [heard](Self::heard), or the
    /// flag's making before the first.
    pub(crate) fn quiet_until(&self) -> Option<Instant> {
        let heard = self.heard.as_ref()?;
        let micros = heard.at.load(Ordering::SeqCst).saturating_sub(1);
        let since = std::time::Duration::from_micros(micros);
        Some(heard.base.checked_add(since).unwrap_or(heard.base))
    }

    /// The flag's state now, for [`busy_since`](Self::busy_since).
    pub(crate) fn mark(&self) -> u64 {
        self.word.load(Ordering::SeqCst)
    }

    /// Whether the flag is up, or went up or down, since `mark` was taken; `mark` becomes
    /// the state now (one load: a change after it is seen next time).
    pub(crate) fn busy_since(&self, mark: &mut u64) -> bool {
        let now = self.word.load(Ordering::SeqCst);
        let busy = now & GUARDS != 0 || now != *mark;
        *mark = now;
        busy
    }
}

impl fmt::Debug for Underway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Underway")
            .field("raised", &self.is_raised())
            .field("quiet_until", &self.quiet_until())
            .finish()
    }
}

/// Keeps an [`Underway`] flag up until dropped.
pub struct Raised(Arc<AtomicU64>);

impl Drop for Raised {
    fn drop(&mut self) {
        // The low half holds this guard: nothing borrows from the high half.
        self.0.fetch_sub(GUARD, Ordering::SeqCst);
    }
}

impl fmt::Debug for Raised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Raised")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::unit;

    #[test]
    fn quiet_counts_up_to_the_latest_instant_heard() {
        unit(|| {
            assert_eq!(Underway::new().quiet_until(), None, "any quiet counts");
            let underway = Underway::vouching();
            let start = underway.quiet_until().expect("a vouching flag");
            assert!(start <= Instant::now(), "none heard yet: its making");
            let at = |ms| start + std::time::Duration::from_millis(ms);
            underway.clone().heard(at(1_500));
            assert_eq!(underway.quiet_until(), Some(at(1_500)));
            // An answer to an earlier question changes nothing.
            underway.heard(at(1_000));
            assert_eq!(underway.quiet_until(), Some(at(1_500)));
            // Before the flag was made: as if none heard.
            let later = Underway::vouching();
            let made = later.quiet_until().unwrap();
            later.heard(start);
            assert_eq!(later.quiet_until(), Some(made));
        });
    }

    #[test]
    fn a_raise_and_a_lower_are_both_seen_since_a_mark() {
        unit(|| {
            let underway = Underway::new();
            let mut mark = underway.mark();
            assert!(!underway.busy_since(&mut mark));
            let (a, b) = (underway.raise(), underway.clone().raise());
            assert!(underway.busy_since(&mut mark));
            drop(a);
            assert!(underway.is_raised(), "b is still up");
            drop(b);
            assert!(!underway.is_raised());
            // Down again, but it went down since the last look.
            assert!(underway.busy_since(&mut mark));
            assert!(!underway.busy_since(&mut mark), "nothing moved since");
        });
    }
}

#[cfg(all(test, feature = "loom"))]
mod loom;
