//! The operators, one per file. Each is a `pin_project!` struct with a hand-written `poll_next`.
//!
//! Every operator follows the same rules, written up in `docs/ARCHITECTURE.md`:
//! - it never polls its upstream again after the upstream returned `None` (each holds its
//!   upstream in a [`Fuse`]), so every operator is a [`FusedStream`](futures_core::FusedStream);
//! - it returns `Pending` only after a waker was registered, by the upstream (which returned
//!   `Pending` to it), by a timer it polled, or by waking itself;
//! - an operator that loops while its upstream is ready takes at most [`POLL_BUDGET`] upstream
//!   items in one poll, then wakes its own task and returns `Pending`, so an endless ready
//!   upstream cannot starve the other tasks of its executor.

/// Accessors to the upstream of an operator whose upstream field is `stream: Fuse<St>`.
macro_rules! upstream_accessors {
    () => {
        /// The upstream stream.
        pub fn get_ref(&self) -> &St {
            self.stream.get_ref()
        }

        /// The upstream stream, mutably. Taking items from it directly bypasses this operator.
        pub fn get_mut(&mut self) -> &mut St {
            self.stream.get_mut()
        }

        /// The pinned upstream stream, mutably. Taking items from it directly bypasses this
        /// operator.
        pub fn get_pin_mut(self: core::pin::Pin<&mut Self>) -> core::pin::Pin<&mut St> {
            self.project().stream.get_pin_mut()
        }

        /// The upstream stream, by value. Whatever state this operator held is dropped.
        pub fn into_inner(self) -> St {
            self.stream.into_inner()
        }
    };
}

pub mod chunks_timeout;
pub mod filter;
pub mod filter_map;
pub mod fuse;
pub mod iter;
pub mod map;
pub mod recv;
pub mod ring_buffer;
pub mod sample;

pub use chunks_timeout::{ChunksTimeout, TimerStart};
pub use filter::Filter;
pub use filter_map::FilterMap;
pub use fuse::Fuse;
pub use iter::{Iter, iter};
pub use map::Map;
pub use recv::{Recv, from_receiver};
pub use ring_buffer::{Overflow, RingBuffer};
pub use sample::Sample;

/// How many upstream items an operator (or a consuming future) takes in one poll before it
/// yields control.
///
/// 128 is tokio's cooperative budget per task tick: large enough that the wake-and-requeue
/// round trip it costs is spread over many items, small enough that a task running an endless
/// ready stream still lets the other tasks of its executor run every few microseconds.
pub const POLL_BUDGET: usize = 128;
