//! Graceful shutdown: one [`Shutdown`] handle, triggered by Ctrl+C, SIGTERM,
//! a test, or an embedding program.
//!
//! Triggering never relies on anyone polling a flag with sleeps: it wakes
//! whatever is blocked. The server registers a wake-up for each place that
//! can block (the accept loop's poller, the threads mode's wait for a free
//! slot, every connection's read), and `trigger` runs them all. What each
//! does is described where it is registered; the contract is in
//! [`Server::run`](crate::Server::run).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

type Hook = Box<dyn Fn() + Send + Sync>;

/// A cloneable trigger for stopping a server gracefully.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    hooks: Mutex<Vec<Hook>>,
}

impl Shutdown {
    /// A handle not triggered yet.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Starts the shutdown: stop accepting, answer what was received, close
    /// idle connections. Safe to call from any thread, any number of times.
    pub fn trigger(&self) {
        if self.inner.triggered.swap(true, SeqCst) {
            return;
        }
        for hook in self.hooks().iter() {
            hook();
        }
    }

    /// Whether [`trigger`](Shutdown::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(SeqCst)
    }

    /// Registers a wake-up to run on trigger (at once if already triggered).
    /// Hooks must be quick and must not call `trigger`.
    pub(crate) fn on_trigger(&self, hook: impl Fn() + Send + Sync + 'static) {
        let mut hooks = self.hooks();
        // Checked under the lock: `trigger` sets the flag before taking it,
        // so a hook added now either runs here or in `trigger`, never twice
        // and never not at all.
        if self.is_triggered() {
            drop(hooks);
            hook();
        } else {
            hooks.push(Box::new(hook));
        }
    }

    fn hooks(&self) -> std::sync::MutexGuard<'_, Vec<Hook>> {
        self.inner.hooks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes Ctrl+C (SIGINT) and SIGTERM trigger this handle; a second
    /// signal exits the process at once with status 130, for when a client
    /// holds the graceful path up. A process has only one such handler, so
    /// this fails if one is already installed.
    #[cfg(feature = "signals")]
    pub fn trigger_on_signals(&self) -> Result<(), ctrlc::Error> {
        let shutdown = self.clone();
        let count = std::sync::atomic::AtomicUsize::new(0);
        ctrlc::set_handler(move || {
            if count.fetch_add(1, SeqCst) == 0 {
                log::warn!(
                    "Shutting down: answering messages in flight (Ctrl+C again to quit now)"
                );
                shutdown.trigger();
            } else {
                log::error!("Second signal: quitting without waiting");
                std::process::exit(130);
            }
        })
    }
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn hooks_run_once_whether_added_before_or_after_trigger() {
        let s = Shutdown::new();
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        s.on_trigger(move || {
            r.fetch_add(1, SeqCst);
        });
        s.trigger();
        s.trigger();
        let r = runs.clone();
        s.on_trigger(move || {
            r.fetch_add(10, SeqCst);
        });
        assert_eq!(runs.load(SeqCst), 11);
        assert!(s.is_triggered());
    }
}
