//! How an `event-workers` loop runs short handler calls on its own thread
//! without a slow one ever holding the loop: it *lends* its thread to the
//! call, and a watch hands the loop to a new thread when the call keeps it.
//!
//! Sending every call to a worker costs two hand-offs per message: a
//! sleeping worker woken for the call, then the loop woken for the reply.
//! Waking a thread on another CPU is what costs (far more than the call
//! itself for a short handler), so that mode served a fraction of `event`
//! mode's messages a second (figures in `modes/README.md`). Lent, a short
//! call costs what it costs in `event` mode: no wake-up, no mailbox, and
//! the loop writes the reply itself.
//!
//! A loop here is a [`LoopCell`], driven by whichever thread holds its
//! lock ([`drive`]). For each call the loop may make itself (the runner
//! says so: fewer than `workers` calls run and none waits, `try_lend`), the
//! driving thread unlocks the loop, runs the call, and takes the loop back.
//! The watch ([`watch_loops`], thread `loop-watch`) looks every [`HOLD`]
//! while calls are lent; a call seen running at two looks in a row has
//! held its thread too long, and the loop goes on on a new thread (also
//! named `loop-i`). The held thread, once its call ends, finds its loop
//! taken, hands the call back through the loop's mailbox as a worker
//! would, and ends. The new driver queues its loop's calls for the workers
//! for a [`PAUSE`], so a slow handler holds its loop up for at most two
//! looks and a thread start once a pause. Every thread here that drives a
//! loop runs handler calls, so none may wait in a send (`outgoing/`).

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use super::mailbox::Mailbox;
use super::runner::{Done, Job, Runner};
use crate::server::outgoing::never_wait_on_this_thread;
use crate::session::{Step, panic_text};

/// How long a call may hold the thread its loop lent it before the loop
/// goes on on another thread: the watch looks this often, so a call is
/// taken over after one to two of them. Short enough that a slow call
/// delays the loop's other clients about as little as a scheduler's time
/// slice would; long enough that the watch's wake-ups cost next to nothing
/// next to the messages it watches.
const HOLD: Duration = Duration::from_millis(1);

/// After a call held its loop's thread too long, the loop queues its calls
/// for the workers this long before it lends its thread again: a handler
/// that is slow every time then holds up its loop for two looks a pause,
/// not on every call, and costs one thread start a pause.
const PAUSE: Duration = Duration::from_secs(1);

/// Looks in a row that saw no call start or run, after which the watch
/// sleeps until a loop lends its thread again: an idle server's watch
/// does not wake every millisecond.
const IDLE_LOOKS: u32 = 8;

/// [`LoopCell::state`] once the watch gave the loop to a new thread.
const TAKEN: u64 = u64::MAX;

/// A loop as it is driven here: `event_loop.rs`'s event loop, seen through what
/// lending needs, so this file does not depend on it.
pub(super) trait Turns: Send + 'static {
    /// Moves the loop on until a handler call is due or it quits.
    fn turn(&mut self) -> Turned;

    /// A call came back on the thread the loop lent it: the connection goes
    /// on first, at once, as inside `event` mode's own calls.
    fn returned(&mut self, done: Done);

    /// The call of the connection in `slot` went to a worker: the
    /// connection goes on first (its writes), as after a call.
    fn go_on(&mut self, slot: usize);
}

/// Where a turn of a loop stopped.
pub(super) enum Turned {
    /// A handler call to make for the connection in this slot.
    Call(usize, Job),
    /// Told to quit (or its poller failed): its connections are closed.
    Quit,
}

/// The watch over the loops of one server, and what wakes it.
pub(super) struct Watch {
    /// Asleep until a loop lends its thread: a lend then unparks it.
    parked: AtomicBool,
    /// The watch's thread, for unparking it.
    thread: OnceLock<thread::Thread>,
    /// The server is gone: the watch ends.
    stop: AtomicBool,
}

impl Watch {
    /// A watch not yet started ([`Watch::start`]): loops may lend before,
    /// and it looks at them from the start.
    pub fn new() -> Arc<Watch> {
        Arc::new(Watch {
            parked: AtomicBool::new(false),
            thread: OnceLock::new(),
            stop: AtomicBool::new(false),
        })
    }

    /// Starts the watch's thread (`loop-watch`) over `cells`.
    pub fn start<L: Turns>(
        self: &Arc<Watch>,
        cells: Vec<Arc<LoopCell<L>>>,
        stack: usize,
    ) -> io::Result<()> {
        let watch = self.clone();
        let handle = thread::Builder::new()
            .name("loop-watch".into())
            .stack_size(stack)
            .spawn(move || watch_loops(cells, &watch))?;
        let _ = self.thread.set(handle.thread().clone());
        Ok(())
    }

    /// The server is gone: the watch ends at its next look.
    pub fn stop(&self) {
        self.stop.store(true, SeqCst);
        self.wake();
    }

    /// A loop lends its thread: the watch must be awake to look at it.
    /// Costs a wake-up only when it sleeps.
    fn poke(&self) {
        if self.parked.load(SeqCst) {
            self.wake();
        }
    }

    fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }
}

/// One loop of event-workers mode, driven by whichever thread holds
/// `driven`.
pub(super) struct LoopCell<L> {
    /// Its number: the `i` of the `loop-i` threads that drive it.
    index: usize,
    /// `(serial << 1) | 1` while the driving thread is lent to call number
    /// `serial` (`driven` is then unlocked), `serial << 1` otherwise,
    /// [`TAKEN`] once the watch gave the loop to a new thread. A serial
    /// per call, so the watch tells one long call from two short ones, and
    /// the held thread's "I am back" fails once its loop is taken over.
    state: AtomicU64,
    driven: Mutex<Driven<L>>,
    runner: Arc<dyn Runner>,
    /// Its mailbox, where a call taken over comes back.
    home: Arc<Mailbox>,
    watch: Arc<Watch>,
    /// Stack size of the threads that drive it.
    stack: usize,
}

/// What the driving thread of a loop owns, with the loop.
struct Driven<L> {
    lp: L,
    /// Calls this loop lent its thread to (see [`LoopCell::state`]).
    serial: u64,
    /// The loop lends its thread to calls again only from then (see
    /// [`PAUSE`]).
    lend_after: Option<Instant>,
}

impl<L> Driven<L> {
    /// Whether no pause is in force.
    fn may_lend(&mut self) -> bool {
        match self.lend_after {
            Some(t) if Instant::now() < t => false,
            Some(_) => {
                self.lend_after = None;
                true
            }
            None => true,
        }
    }
}

impl<L: Turns> LoopCell<L> {
    /// Loop number `index` (`lp`, whose mailbox is `home`), watched by
    /// `watch`; not yet driven ([`LoopCell::start`]).
    pub fn new(
        index: usize,
        lp: L,
        runner: Arc<dyn Runner>,
        home: Arc<Mailbox>,
        watch: Arc<Watch>,
        stack: usize,
    ) -> Arc<LoopCell<L>> {
        Arc::new(LoopCell {
            index,
            state: AtomicU64::new(0),
            driven: Mutex::new(Driven {
                lp,
                serial: 0,
                lend_after: None,
            }),
            runner,
            home,
            watch,
            stack,
        })
    }

    /// Starts its first thread, `loop-i`.
    pub fn start(self: &Arc<Self>) -> io::Result<()> {
        self.spawn(None)
    }

    /// Starts a thread that drives the loop (`taken`: to take it over from
    /// a thread held by the call lent as this [`state`](LoopCell::state)).
    fn spawn(self: &Arc<Self>, taken: Option<u64>) -> io::Result<()> {
        let cell = self.clone();
        thread::Builder::new()
            .name(format!("loop-{}", self.index))
            .stack_size(self.stack)
            .spawn(move || drive(cell, taken))?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Driven<L>> {
        // Only its driving thread locks it, one at a time; a panic there
        // ends the loop anyway.
        self.driven.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Drives a loop until it quits (`taken`: on a thread the watch started
/// because the loop's last thread was held by the call lent as this
/// state; it drives only if that call is still out). Each call the runner lets run
/// here runs on this thread, with the loop unlocked meanwhile, and comes
/// back directly, as in `event` mode. A call that holds the thread past
/// [`HOLD`] loses the loop to a new thread and goes back through the
/// mailbox, as from a worker; this thread then ends. Any other call is
/// queued for a worker.
fn drive<L: Turns>(cell: Arc<LoopCell<L>>, taken: Option<u64>) {
    if let Some(lent) = taken {
        // Taken from the held thread only now, once this one runs: a
        // thread that could not start leaves the loop to its call.
        if cell
            .state
            .compare_exchange(lent, TAKEN, SeqCst, SeqCst)
            .is_err()
        {
            // The call came back meanwhile: its thread drives on.
            return;
        }
        log::debug!(
            "loop-{}: a handler call has held its thread for over {} ms; the loop goes on on a new thread.",
            cell.index,
            HOLD.as_millis()
        );
    }
    // It runs handler calls, as every loop thread does.
    never_wait_on_this_thread();
    let mut driven = cell.lock();
    cell.state.store(driven.serial << 1, SeqCst);
    if taken.is_some() {
        driven.lend_after = Some(Instant::now() + PAUSE);
    }
    loop {
        let (slot, job) = match driven.lp.turn() {
            Turned::Quit => return,
            Turned::Call(slot, job) => (slot, job),
        };
        if !driven.may_lend() || !cell.runner.try_lend() {
            match cell.runner.run(job) {
                Some(done) => driven.lp.returned(done),
                None => driven.lp.go_on(slot),
            }
            continue;
        }
        driven.serial += 1;
        let lent = (driven.serial << 1) | 1;
        cell.state.store(lent, SeqCst);
        cell.watch.poke();
        drop(driven);
        let done = call(job);
        if cell
            .state
            .compare_exchange(lent, lent & !1, SeqCst, SeqCst)
            .is_err()
        {
            cell.runner.taken_over(done, cell.home.clone());
            return;
        }
        cell.runner.lent_back();
        driven = cell.lock();
        driven.lp.returned(done);
    }
}

/// Runs a call on a lent thread. Handler panics are caught inside the
/// call; this is the last line for a bug elsewhere, as on a worker: the
/// call is lost (its connection is closed), the loop goes on.
fn call(job: Job) -> Done {
    let (slot, id) = (job.slot, job.id);
    catch_unwind(AssertUnwindSafe(|| job.handle())).unwrap_or_else(|p| {
        log::error!(
            "A lent call panicked outside any handler: {}; the loop goes on.",
            panic_text(p.as_ref())
        );
        Done {
            session: None,
            step: Step::Continue,
            slot,
            id,
        }
    })
}

/// The watch: while loops lend their threads, looks every [`HOLD`]; a call
/// seen running at two looks in a row has held its thread too long, and
/// its loop goes on on a new thread. Sleeps while nothing is lent.
fn watch_loops<L: Turns>(cells: Vec<Arc<LoopCell<L>>>, watch: &Watch) {
    let lent = |v: u64| v != TAKEN && v & 1 == 1;
    let mut seen: Vec<u64> = cells.iter().map(|c| c.state.load(SeqCst)).collect();
    // The lend a take-over was started for: not again, whether its thread
    // started (and takes over at its own pace) or could not.
    let mut tried: Vec<u64> = vec![TAKEN; cells.len()];
    let mut idle = 0;
    while !watch.stop.load(SeqCst) {
        let mut active = false;
        for ((cell, seen), tried) in cells.iter().zip(&mut seen).zip(&mut tried) {
            let now = cell.state.load(SeqCst);
            if now != *seen || lent(now) {
                active = true;
            }
            if lent(now) && now == *seen && now != *tried {
                *tried = now;
                take_over(cell, now);
            }
            *seen = cell.state.load(SeqCst);
        }
        idle = if active { 0 } else { idle + 1 };
        if idle < IDLE_LOOKS {
            thread::sleep(HOLD);
            continue;
        }
        // Sleep until poked. A loop that lent its thread before `parked`
        // was set is seen here; one after, pokes (both sides SeqCst).
        watch.parked.store(true, SeqCst);
        if !cells.iter().any(|c| lent(c.state.load(SeqCst))) && !watch.stop.load(SeqCst) {
            thread::park();
        }
        watch.parked.store(false, SeqCst);
        idle = 0;
    }
}

/// Starts a thread to take over a held loop (its call `lent`); if none
/// can start, the loop waits for its call.
fn take_over<L: Turns>(cell: &Arc<LoopCell<L>>, lent: u64) {
    if let Err(e) = cell.spawn(Some(lent)) {
        log::error!(
            "Cannot start a thread for loop-{}: {e}; it waits for its handler call.",
            cell.index
        );
    }
}
