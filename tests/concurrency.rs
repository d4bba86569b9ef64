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
