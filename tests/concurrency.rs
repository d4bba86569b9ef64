//! The modes differ exactly as the lesson says: serial makes the second
//! client wait, threads do not, a pool of one behaves like serial and a
//! pool of two like threads; and threads at `max_connections` make the
//! next client wait, not fail. Event loops serve clients side by side
//! until a handler blocks: then `event` stalls every client of that loop
//! (one loop is serial again), and `event-workers` does not.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::client::Client;
use common::servers::{echo_server, gated_server};
use tcpmodes::{Config, Framing, Mode};

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
    two_clients_with(mode, |c| c.workers = workers)
}

/// [`two_clients`] with the server's config changed by `edit`.
fn two_clients_with(mode: Mode, edit: impl FnOnce(&mut Config)) -> Arc<Timeline> {
    let server = echo_server(mode, |c| {
        edit(c);
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

/// With two loops the two clients land on different loops, and each
/// loop's sleep holds up only its own client.
#[test]
fn event_mode_with_two_loops_serves_two_clients_side_by_side() {
    let t = two_clients_with(Mode::Event, |c| c.loops = 2);
    assert!(t.at("B greeted") < t.at("A answered"));
    assert!(t.at("B sent") < t.at("A answered"));
}

/// One loop, two workers: the sleeps run side by side (the first on the
/// thread its loop lent it, the loop going on on a new one; the second on
/// a worker).
#[test]
fn event_workers_on_one_loop_serve_two_clients_side_by_side() {
    let t = two_clients_with(Mode::EventWorkers, |c| {
        c.loops = 1;
        c.workers = 2;
    });
    assert!(t.at("B greeted") < t.at("A answered"));
    assert!(t.at("B sent") < t.at("A answered"));
}

/// "Never block the event loop", without a clock: a handler call held at
/// a gate blocks its loop in event mode (a client arriving meanwhile is
/// not even greeted: one loop is the serial server again), and only a
/// thread in event-workers mode (the loop goes on on another, and the new
/// client is greeted and answered while the call is still held). The gate is what makes the order
/// certain: with a sleeping echo, the second client's arrival may reach
/// the loop before the first client's message does, and be greeted first.
#[test]
fn a_blocked_handler_stalls_its_event_loop_but_not_event_workers() {
    for mode in [Mode::Event, Mode::EventWorkers] {
        let (server, gate) = gated_server(mode, |c| {
            c.loops = 1;
            c.workers = 2;
        });
        let addr = server.local_addr();
        let mut a = Client::greeted(addr, Framing::Raw);
        a.send(b"block");
        gate.wait_held(1);
        let mut b = Client::connect(addr, Framing::Raw);
        if mode == Mode::Event {
            assert!(b.waits(), "event: B greeted while the loop is blocked");
            gate.open();
            a.expect(b"Received block;");
            b.expect(b"Welcome!");
        } else {
            b.expect(b"Welcome!");
            b.echo(b"not blocked");
            assert!(a.waits(), "A's call is still held at the gate");
            gate.open();
            a.expect(b"Received block;");
        }
        b.echo(b"after");
        let s = server.stop();
        assert_eq!(s.connections, 2, "{mode}: {s}");
    }
}

/// event-workers with every worker held: clients keep arriving and every
/// one is greeted at once (greetings run on the loop); their messages
/// wait, unanswered, for a worker; once the workers are free every
/// message is answered, each client's in order.
#[test]
fn event_workers_greet_everyone_while_every_worker_is_busy() {
    let (server, gate) = gated_server(Mode::EventWorkers, |c| {
        c.loops = 2;
        c.workers = 2;
        c.framing = Framing::Line;
    });
    let addr = server.local_addr();
    let mut holders: Vec<Client> = (0..2)
        .map(|_| {
            let mut c = Client::greeted(addr, Framing::Line);
            c.send(b"block");
            c
        })
        .collect();
    gate.wait_held(2);
    let mut others: Vec<Client> = (0..20)
        .map(|i| {
            let mut c = Client::greeted(addr, Framing::Line);
            c.send(format!("first {i}"));
            c.send(format!("second {i}"));
            c
        })
        .collect();
    for c in [0, 19] {
        assert!(others[c].waits(), "answered with every worker held");
    }
    gate.open();
    for h in holders.iter_mut() {
        h.expect(b"Received block;");
    }
    for (i, c) in others.iter_mut().enumerate() {
        c.expect(format!("Received first {i};").as_bytes());
        c.expect(format!("Received second {i};").as_bytes());
    }
    let s = server.stop();
    assert_eq!(s.connections, 22, "{s}");
    assert_eq!(s.messages, 2 + 40, "{s}");
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
        let server = Process::bin(&[
            "--addr",
            "127.0.0.1:0",
            "-v",
            "--mode",
            mode.name(),
            "--workers",
            "2",
        ]);
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
        let Some(exit) = server.stop_checked() else {
            continue;
        };
        let err = exit.stderr;
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

/// `-v` in event mode says when a handler call held up its loop, and who
/// it held up: the lesson's "never block the event loop" in the log.
#[test]
fn verbose_log_says_when_a_slow_handler_held_up_its_event_loop() {
    use common::process::Process;
    let server = Process::bin(&[
        "--addr",
        "127.0.0.1:0",
        "-v",
        "--mode",
        "event",
        "--loops",
        "1",
        "--delay-ms",
        "200",
    ]);
    let mut a = server.connect(Framing::Raw);
    a.expect(b"Welcome!");
    let mut b = server.connect(Framing::Raw);
    b.expect(b"Welcome!");
    a.echo(b"slow");
    drop((a, b));
    let Some(exit) = server.stop_checked() else {
        return;
    };
    let err = exit.stderr;
    let line = err
        .lines()
        .find(|l| l.contains("Client #1 (") && l.contains("held loop-0 for"))
        .unwrap_or_else(|| panic!("no stall line in:\n{err}"));
    assert!(
        line.contains("the 1 other client of the loop waited"),
        "{line}"
    );
}
