//! Who is sending: the threads that must never wait in a send (event
//! loops and event-workers' workers) and the connection whose handler
//! call runs on this thread now, which is paused, rather than its thread,
//! when its sends fill a queue (see the folder's docs).

use std::cell::Cell;
use std::sync::Arc;

/// A connection that can be paused as a producer (event modes): held once
/// per queue it filled, let go as each drains.
pub(crate) trait Pausable: Send + Sync {
    fn hold(&self);
    fn release(&self);
}

thread_local! {
    /// Set on event loop and event-workers threads: a send there must
    /// never wait (see the folder's docs).
    // Already `const`: see `IN_HANDLER` in `session.rs` for this allow.
    #[cfg_attr(windows, allow(clippy::missing_const_for_thread_local))]
    static NEVER_WAIT: Cell<bool> = const { Cell::new(false) };
    /// The connection whose handler call runs on this thread now, paused
    /// when its sends fill a queue.
    #[cfg_attr(windows, allow(clippy::missing_const_for_thread_local))]
    static PRODUCER: Cell<Option<Arc<dyn Pausable>>> = const { Cell::new(None) };
}

/// Marks the calling thread as one that must never wait in a send: an
/// event loop, or a worker of the event-workers mode.
pub(crate) fn never_wait_on_this_thread() {
    NEVER_WAIT.set(true);
}

/// Runs a handler call of `producer`'s connection: what it sends to a full
/// queue pauses that connection rather than this thread.
pub(crate) fn producing<T>(producer: Arc<dyn Pausable>, call: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<dyn Pausable>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            PRODUCER.set(self.0.take());
        }
    }
    let _restore = Restore(PRODUCER.replace(Some(producer)));
    call()
}

/// Whether a send on this thread may wait for room.
pub(super) fn may_wait() -> bool {
    !NEVER_WAIT.get()
}

/// The connection whose handler call runs on this thread now, if any.
pub(super) fn current() -> Option<Arc<dyn Pausable>> {
    let current = PRODUCER.take();
    PRODUCER.set(current.clone());
    current
}
