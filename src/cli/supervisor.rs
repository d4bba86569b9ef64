//! `processes = N`: the first process starts N-1 copies of this program on
//! the same port and looks after them.
//!
//! Each copy binds its own listener on the address the first process
//! bound (with the real port when 0 was asked) with SO_REUSEPORT, so the
//! kernel spreads new connections over N accept queues: N processes that
//! share nothing, as nginx runs its workers, and no process waits for
//! another. The copies are the same executable with the same command line,
//! plus `--addr ADDR --reuse-port --processes 1 --child` at its end (later
//! flags win), so they read the same config file and serve the same
//! handler.
//!
//! The first process (the parent) talks to each child through two pipes
//! (`child.rs`): it closes the child's stdin to stop it, and reads its
//! `ready` and `summary` lines from its stdout. A child that dies while
//! the server runs is logged and started again after a pause that doubles
//! while it keeps dying young, so a child that cannot start never spins a
//! core. At shutdown the parent stops every child the same way and waits
//! for each to answer what it received, then adds their summaries to its
//! own.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::child::{READY, SUMMARY};
use crate::server::Summary;

/// How long a child may take from its start to listening, at start-up;
/// far more than starting a process and binding take, so only a child
/// that hangs reaches it.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The first pause before a dead child is started again; doubled at each
/// death of a child that lived less than [`STABLE`], up to
/// [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest pause before a restart: a child that can never start is
/// tried again every 10 s, not every few milliseconds.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// A child that ran this long before it died was not failing at start-up:
/// it is restarted after [`FIRST_BACKOFF`] again.
const STABLE: Duration = Duration::from_secs(10);

/// At shutdown, how much longer than `shutdown_timeout_ms` a child gets to
/// exit before it is killed: by then it has cut its own connections, so
/// one still running is stuck.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the reader threads and the shutdown hook tell the supervisor.
enum Event {
    /// The child in this slot listens.
    Ready(usize),
    /// The child in this slot closed its stdout, so it exited; with the
    /// summary it sent, if it sent one.
    Exited(usize, Option<Summary>),
    /// The server is shutting down: stop every child.
    Stop,
}

/// The children of a running server, looked after on a thread of their own.
pub(super) struct Supervisor {
    /// How the shutdown hook and [`finish`](Supervisor::finish) reach the
    /// supervisor thread.
    events: Sender<Event>,
    /// The supervisor thread; it returns the children's summaries.
    thread: JoinHandle<Vec<Summary>>,
}

impl Supervisor {
    /// Starts processes 2 to `total`, each listening on `addr`, and waits
    /// until all of them listen. On failure every child started is stopped
    /// and the error is one line for the user.
    pub fn start(
        total: usize,
        addr: SocketAddr,
        shutdown_timeout: Duration,
    ) -> Result<Supervisor, String> {
        let exe = std::env::current_exe().map_err(|e| {
            format!("processes: cannot find this program's executable to start copies: {e}")
        })?;
        let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
        let addr = addr.to_string();
        for arg in [
            "--addr",
            &addr,
            "--reuse-port",
            "--processes",
            "1",
            "--child",
        ] {
            args.push(arg.into());
        }
        let (tx, events) = mpsc::channel();
        let mut children = Children {
            exe,
            args,
            total,
            tx: tx.clone(),
            events,
            slots: (0..total - 1).map(|_| Slot::default()).collect(),
            summaries: Vec::new(),
            shutdown_timeout,
        };
        if let Err(e) = children.start_all() {
            children.stop_all();
            return Err(e);
        }
        let thread = thread::Builder::new()
            .name("tcpmodes-supervisor".into())
            .spawn(move || children.supervise())
            .map_err(|e| format!("processes: cannot start the supervisor thread: {e}"))?;
        Ok(Supervisor { events: tx, thread })
    }

    /// What the server's shutdown runs: tells the supervisor to stop every
    /// child. Quick, as a shutdown hook must be.
    pub fn stopper(&self) -> impl Fn() + Send + Sync + 'static {
        let tx = self.events.clone();
        move || {
            let _ = tx.send(Event::Stop);
        }
    }

    /// Stops the children (if the shutdown has not already) and waits for
    /// them; returns the summaries they sent.
    pub fn finish(self) -> Vec<Summary> {
        let _ = self.events.send(Event::Stop);
        self.thread.join().unwrap_or_else(|_| {
            log::error!("the supervisor thread panicked; the children's counts are missing");
            Vec::new()
        })
    }
}

/// One child's place: the child running in it, or when the next one
/// starts.
#[derive(Default)]
struct Slot {
    /// The child serving in this slot; `None` while it waits for a restart.
    running: Option<Running>,
    /// The pause before the next restart, once this slot's child dies.
    backoff: Duration,
    /// When the next child of this slot starts, if one is due.
    restart_at: Option<Instant>,
}

/// A child process and the parent's end of its stdin, whose closing stops
/// it.
struct Running {
    /// The process, to wait for its exit (or kill it if it is stuck).
    child: Child,
    /// Never written: dropping it is the signal to stop.
    stdin: Option<ChildStdin>,
    /// When it started: a child that dies young waits longer to restart.
    started: Instant,
}

/// Everything the supervisor thread owns.
struct Children {
    /// This program's executable, which every child runs.
    exe: PathBuf,
    /// The user's arguments, then the child's own (see the module docs).
    args: Vec<OsString>,
    /// N: the parent and its children.
    total: usize,
    /// Handed to each child's reader thread.
    tx: Sender<Event>,
    /// What the reader threads and the shutdown hook report.
    events: Receiver<Event>,
    /// Slot `i` holds process number `i + 2`: the parent is process 1.
    slots: Vec<Slot>,
    /// The summaries children sent as they exited.
    summaries: Vec<Summary>,
    /// The server's `shutdown_timeout_ms`, which children get to stop.
    shutdown_timeout: Duration,
}

impl Children {
    /// Starts every child and waits (bounded) until each listens.
    fn start_all(&mut self) -> Result<(), String> {
        for i in 0..self.slots.len() {
            let running = self
                .spawn(i)
                .map_err(|e| format!("processes: cannot start process {}: {e}", i + 2))?;
            self.slots[i].running = Some(running);
        }
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut waiting = self.slots.len();
        while waiting > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Ready(_)) => waiting -= 1,
                Ok(Event::Exited(i, _)) => {
                    let status = self.reap(i).map_or("unknown status".into(), describe);
                    return Err(format!(
                        "processes: process {} of {} exited before listening ({status}); \
                         its error is above",
                        i + 2,
                        self.total
                    ));
                }
                Ok(Event::Stop) => {}
                Err(_) => {
                    return Err(format!(
                        "processes: {waiting} of {} processes did not listen within {} s",
                        self.total,
                        READY_TIMEOUT.as_secs()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Starts the child of slot `i`, and a thread reading its stdout.
    fn spawn(&self, i: usize) -> std::io::Result<Running> {
        let mut child = Command::new(&self.exe)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let tx = self.tx.clone();
        let reader = thread::Builder::new()
            .name(format!("tcpmodes-child-{}", i + 2))
            .spawn(move || read_child(i, stdout, &tx));
        if let Err(e) = reader {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        // Tests and operators learn the children's pids from this line.
        log::debug!(
            "Started process {} of {} (pid {}).",
            i + 2,
            self.total,
            child.id()
        );
        Ok(Running {
            stdin: child.stdin.take(),
            child,
            started: Instant::now(),
        })
    }

    /// Runs until told to stop, restarting children that die; then stops
    /// them all and returns their summaries.
    fn supervise(mut self) -> Vec<Summary> {
        loop {
            let next = self.slots.iter().filter_map(|s| s.restart_at).min();
            let event = match next {
                Some(at) => self
                    .events
                    .recv_timeout(at.saturating_duration_since(Instant::now())),
                None => self
                    .events
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(Event::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Event::Ready(i)) => {
                    if let Some(r) = &self.slots[i].running {
                        log::info!("Process {} (pid {}) listens again.", i + 2, r.child.id());
                    }
                }
                Ok(Event::Exited(i, summary)) => self.died(i, summary),
                Err(RecvTimeoutError::Timeout) => self.restart_due(),
            }
        }
        self.stop_all();
        self.summaries
    }

    /// A child exited while the server runs: one line with its status,
    /// and a restart after its slot's pause.
    fn died(&mut self, i: usize, summary: Option<Summary>) {
        let Some(running) = self.slots[i].running.as_ref() else {
            return;
        };
        let (pid, lived) = (running.child.id(), running.started.elapsed());
        let status = self.reap(i).map_or("unknown status".into(), describe);
        // Stopped by someone else, it still served: its work counts.
        self.summaries.extend(summary);
        let slot = &mut self.slots[i];
        if lived >= STABLE || slot.backoff.is_zero() {
            slot.backoff = FIRST_BACKOFF;
        }
        let pause = slot.backoff;
        slot.backoff = (slot.backoff * 2).min(MAX_BACKOFF);
        slot.restart_at = Some(Instant::now() + pause);
        log::warn!(
            "Process {} (pid {pid}) exited unexpectedly ({status}) after {:.1} s; \
             restarting it in {} ms.",
            i + 2,
            lived.as_secs_f64(),
            pause.as_millis()
        );
    }

    /// Starts the children whose pause is over.
    fn restart_due(&mut self) {
        let now = Instant::now();
        for i in 0..self.slots.len() {
            if self.slots[i].restart_at.is_none_or(|at| at > now) {
                continue;
            }
            self.slots[i].restart_at = None;
            match self.spawn(i) {
                Ok(r) => self.slots[i].running = Some(r),
                Err(e) => {
                    let slot = &mut self.slots[i];
                    let pause = slot.backoff;
                    slot.backoff = (slot.backoff * 2).min(MAX_BACKOFF);
                    slot.restart_at = Some(now + pause);
                    log::error!(
                        "cannot restart process {}: {e}; trying again in {} ms",
                        i + 2,
                        pause.as_millis()
                    );
                }
            }
        }
    }

    /// Stops every child gracefully (closes its stdin) and waits for each:
    /// up to `shutdown_timeout_ms` plus [`STOP_GRACE`], after which one
    /// still running is killed.
    fn stop_all(&mut self) {
        for slot in &mut self.slots {
            slot.restart_at = None;
            if let Some(r) = &mut slot.running {
                drop(r.stdin.take());
            }
        }
        let deadline = Instant::now() + self.shutdown_timeout + STOP_GRACE;
        while self.slots.iter().any(|s| s.running.is_some()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Event::Exited(i, summary)) => {
                    let pid = self.slots[i].running.as_ref().map(|r| r.child.id());
                    let status = self.reap(i);
                    if let Some(s) = status.filter(|s| !s.success()) {
                        log::warn!("Process {} exited with {}.", i + 2, describe(s));
                    }
                    match summary {
                        Some(s) => self.summaries.push(s),
                        None => log::warn!(
                            "Process {} (pid {}) sent no summary: its counts are missing.",
                            i + 2,
                            pid.unwrap_or(0)
                        ),
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    for (i, slot) in self.slots.iter_mut().enumerate() {
                        if let Some(mut r) = slot.running.take() {
                            log::error!(
                                "Process {} (pid {}) still runs {} ms after shutdown_timeout_ms: \
                                 killing it.",
                                i + 2,
                                r.child.id(),
                                STOP_GRACE.as_millis()
                            );
                            let _ = r.child.kill();
                            let _ = r.child.wait();
                        }
                    }
                }
            }
        }
    }

    /// Waits for the exit of slot `i`'s child, whose stdout has closed, so
    /// it has exited or is exiting.
    fn reap(&mut self, i: usize) -> Option<ExitStatus> {
        let mut running = self.slots[i].running.take()?;
        running.child.wait().ok()
    }
}

/// Reads a child's stdout to its end: `ready` and `summary` lines become
/// events, anything else (a handler's own prints) goes on to our stdout.
fn read_child(i: usize, stdout: ChildStdout, tx: &Sender<Event>) {
    let mut summary = None;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else {
            break;
        };
        if line == READY {
            let _ = tx.send(Event::Ready(i));
        } else if let Some(json) = line.strip_prefix(SUMMARY) {
            match serde_json::from_str(json) {
                Ok(s) => summary = Some(s),
                Err(e) => log::warn!("Process {}: unreadable summary: {e}", i + 2),
            }
        } else {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
    let _ = tx.send(Event::Exited(i, summary));
}

/// `exit status 1`, `killed by signal 9`: the status as a user reads it.
fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}
