//! The modes differ exactly as the lesson says: serial makes the second
//! client wait, threads do not, a pool of one behaves like serial and a
//! pool of two like threads; and threads at `max_connections` make the
//! next client wait, not fail.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::client::Client;
use common::servers::echo_server;
use tcpmodes::{Framing, Mode};

/// What happened when, as seen by the two clients; one clock for both.
#[derive(Default)]
struct Timeline(Mutex<Vec<(&'static str, Instant)>>);

impl Timeline {
    fn mark(&self, event: &'static str) {
        self.0.lock().unwrap().push((event, Instant::now()));
    }
    fn at(&self, event: &str) -> Instant {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|(e, _)| *e == event)
            .unwrap_or_else(|| panic!("no event {event}"))
            .1
    }
}

/// Client A connects and sends a message the server answers only after
/// `delay_ms`; while it waits, client B connects and sends its own. Returns
/// the timeline. Both clients finish with `exit`.
fn two_clients(mode: Mode, workers: usize) -> Arc<Timeline> {
    let server = echo_server(mode, |c| {
        c.workers = workers;
        c.delay_ms = 700;
    });
    let addr = server.local_addr();
    let t = Arc::new(Timeline::default());
    let mut a = Client::connect(addr, Framing::Raw);
    a.expect(b"Welcome!");
    a.send(b"from A");
    t.mark("A sent");
    let tb = t.clone();
    let b = thread::spawn(move || {
        let mut b = Client::connect(addr, Framing::Raw);
        b.expect(b"Welcome!");
        tb.mark("B greeted");
        b.send(b"from B");
        tb.mark("B sent");
        b.expect(b"Received from B;");
        tb.mark("B answered");
        b.send(b"exit");
        assert!(b.closed());
    });
    a.expect(b"Received from A;");
    t.mark("A answered");
    a.send(b"exit");
    assert!(a.closed());
    t.mark("A closed");
    b.join().unwrap();
    let summary = server.stop();
    assert_eq!(summary.connections, 2);
    assert_eq!(summary.messages, 4);
    t
}

#[test]
fn serial_serves_the_second_client_after_the_first() {
    let t = two_clients(Mode::Serial, 1);
    assert!(t.at("B greeted") > t.at("A answered"), "B must wait for A");
}

#[test]
fn pool_of_one_worker_serves_one_client_at_a_time() {
    let t = two_clients(Mode::Pool, 1);
    assert!(
        t.at("B greeted") > t.at("A answered"),
        "B must wait for the only worker"
    );
}

#[test]
fn threads_serve_two_clients_side_by_side() {
    let t = two_clients(Mode::Threads, 1);
    // B was greeted and had its own message in flight while A's was still
    // being answered: the two requests overlapped.
    assert!(t.at("B greeted") < t.at("A answered"));
    assert!(t.at("B sent") < t.at("A answered"));
}

#[test]
fn pool_of_two_workers_serves_two_clients_side_by_side() {
    let t = two_clients(Mode::Pool, 2);
    assert!(t.at("B greeted") < t.at("A answered"));
    assert!(t.at("B sent") < t.at("A answered"));
}

#[test]
fn threads_at_max_connections_make_the_next_client_wait_not_fail() {
    let server = echo_server(Mode::Threads, |c| c.max_connections = 1);
    let mut a = Client::connect(server.local_addr(), Framing::Raw);
    a.expect(b"Welcome!");
    let addr = server.local_addr();
    let t = Arc::new(Timeline::default());
    let tb = t.clone();
    let b = thread::spawn(move || {
        let mut b = Client::connect(addr, Framing::Raw);
        b.expect(b"Welcome!");
        tb.mark("B greeted");
        b.send(b"exit");
    });
    // A is still served; give B time to be (wrongly) greeted, then leave.
    thread::sleep(Duration::from_millis(300));
    a.send(b"hi");
    a.expect(b"Received hi;");
    t.mark("A leaves");
    a.send(b"exit");
    assert!(a.closed());
    b.join().unwrap();
    assert!(t.at("B greeted") > t.at("A leaves"));
    server.stop();
}

/// `-v` narrates each client's life with a clock, so a class can read the
/// waiting in the server's log: in serial mode client #2 is taken from the
/// backlog only once client #1 is done; with threads, before.
#[test]
fn verbose_log_narrates_who_waited_in_every_mode() {
    use common::process::Process;
    for mode in Mode::ALL {
        let server = Process::bin(&["-v", "--mode", mode.name(), "--workers", "2"]);
        let mut first = server.connect(Framing::Raw);
        first.expect(b"Welcome!");
        let mut second = server.connect(Framing::Raw);
        if mode == Mode::Serial {
            assert!(second.waits(), "serial: the second client waits");
        } else {
            second.expect(b"Welcome!");
        }
        first.echo(b"one");
        first.send(b"exit");
        assert!(first.closed());
        if mode == Mode::Serial {
            second.expect(b"Welcome!");
        }
        second.echo(b"two");
        second.send(b"exit");
        assert!(second.closed());
        let err = server.stop_ok().stderr;
        let line = |needle: &str| {
            err.lines()
                .position(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{mode}: no line with {needle:?} in:\n{err}"))
        };
        for l in err.lines().filter(|l| l.contains("Client #")) {
            let stamp = l.strip_prefix('[').and_then(|r| r.split_once("s] "));
            assert!(stamp.is_some(), "{mode}: no clock on {l:?}");
        }
        assert!(
            line("Client #1 (") < line("served by thread"),
            "{mode}: {err}"
        );
        let one_done = err
            .lines()
            .position(|l| l.contains("Client #1 (") && l.contains("done: exit after"))
            .unwrap_or_else(|| panic!("{mode}: client #1 never done:\n{err}"));
        let two_taken = line("Client #2 (");
        if mode == Mode::Serial {
            assert!(
                two_taken > one_done,
                "{mode}: #2 taken before #1 left:\n{err}"
            );
        } else {
            assert!(two_taken < one_done, "{mode}: #2 not taken at once:\n{err}");
        }
    }
}
