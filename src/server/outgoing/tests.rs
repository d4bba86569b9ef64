//! The outgoing side against a socket under the test's control.

use super::*;
use std::sync::Mutex as StdMutex;
use std::thread;

/// A socket under the test's control: takes `room` bytes, then would
/// block; counts wake-ups and cuts.
#[derive(Default)]
struct TestWire {
    room: StdMutex<usize>,
    got: StdMutex<Vec<u8>>,
    wakes: AtomicUsize,
    cuts: AtomicUsize,
    direct: bool,
}

impl TestWire {
    fn take(&self, bytes: &[u8]) -> io::Result<usize> {
        let mut room = self.room.lock().unwrap();
        if *room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = bytes.len().min(*room);
        *room -= n;
        self.got.lock().unwrap().extend_from_slice(&bytes[..n]);
        Ok(n)
    }
}

impl Wire for TestWire {
    fn send_now(&self, bytes: &[u8]) -> Option<io::Result<usize>> {
        self.direct.then(|| self.take(bytes))
    }
    fn wake(&self, _: &Arc<Outgoing<Self>>) {
        self.wakes.fetch_add(1, SeqCst);
    }
    fn stop_reading(&self, _: &Outgoing<Self>) {}
    fn cut(&self) {
        self.cuts.fetch_add(1, SeqCst);
    }
}

fn limits(max: usize) -> Limits {
    Limits {
        max_pending: max,
        write_timeout: Duration::from_secs(30),
        stall_timeout: Duration::from_secs(2),
    }
}

/// The client reads `n` bytes.
fn client_reads(out: &Outgoing<TestWire>, n: usize) -> usize {
    *out.wire().room.lock().unwrap() += n;
    out.write_to(|b| out.wire().take(b)).unwrap()
}

#[test]
fn a_blocked_sender_waits_for_room_and_loses_nothing() {
    let out = Outgoing::new(1, limits(1000), TestWire::default());
    for _ in 0..10 {
        out.send(&[b'a'; 100], true).unwrap();
    }
    assert_eq!(out.pending(), 1000);
    assert_eq!(out.send(&[b'b'; 1], false), Err(SendError::Full));
    let sender = {
        let out = out.clone();
        thread::spawn(move || out.send(&[b'c'; 100], true))
    };
    // The sender waits while the queue stays above half the limit; its
    // wait starts the stall clock.
    let full = |out: &Outgoing<TestWire>| {
        out.deadline(&mut out.state())
            .is_some_and(|(_, r)| r == DisconnectReason::SlowConsumer)
    };
    let waited = (0..2000).any(|_| {
        thread::sleep(Duration::from_millis(5));
        full(&out)
    });
    assert!(waited, "the sender never waited");
    assert!(!sender.is_finished(), "a send past the limit did not wait");
    client_reads(&out, 400);
    thread::sleep(Duration::from_millis(100));
    assert!(!sender.is_finished(), "went on above the low-water mark");
    client_reads(&out, 100);
    sender.join().unwrap().unwrap();
    client_reads(&out, 10_000);
    let got = out.wire().got.lock().unwrap().clone();
    assert_eq!(got, [vec![b'a'; 1000], vec![b'c'; 100]].concat());
    assert!(out.next_look().is_none(), "nothing waits, no deadline runs");
}

#[test]
fn a_cut_lets_a_waiting_sender_go_on_at_once_and_gives_memory_back() {
    let out = Outgoing::new(1, limits(1000), TestWire::default());
    out.send(&[b'a'; 1000], true).unwrap();
    let sender = {
        let out = out.clone();
        thread::spawn(move || out.send(&[b'c'; 100], true))
    };
    thread::sleep(Duration::from_millis(50));
    assert!(out.cut(DisconnectReason::SlowConsumer));
    assert_eq!(
        sender.join().unwrap(),
        Err(SendError::Closed(DisconnectReason::SlowConsumer))
    );
    assert_eq!(out.pending(), 0);
    assert_eq!(out.wire().cuts.load(SeqCst), 1);
    assert!(!out.cut(DisconnectReason::Closed), "the first reason stays");
    assert_eq!(out.cut_reason(), Some(DisconnectReason::SlowConsumer));
    assert!(out.reply(b"x").is_err());
}

#[test]
fn on_an_event_thread_a_full_queue_pauses_the_producer_instead() {
    let producer = Outgoing::new(7, limits(1000), TestWire::default());
    let out = Outgoing::new(1, limits(1000), TestWire::default());
    thread::scope(|s| {
        s.spawn(|| {
            never_wait_on_this_thread();
            producing(producer.clone(), || {
                out.send(&[b'a'; 900], true).unwrap();
                assert!(!producer.is_held());
                // Past the limit: queued, and the producer is paused.
                out.send(&[b'b'; 900], true).unwrap();
                out.send(&[b'c'; 100], true).unwrap();
                assert!(producer.is_held());
                // Twice the limit is as far as a send that cannot wait goes.
                assert_eq!(out.send(&[b'd'; 200], true), Err(SendError::Full));
            });
        });
    });
    assert_eq!(out.pending(), 1900);
    let wakes = producer.wire().wakes.load(SeqCst);
    client_reads(&out, 1000);
    assert!(producer.is_held(), "above the low-water mark");
    client_reads(&out, 500);
    assert!(!producer.is_held(), "down to half the limit: go on");
    assert_eq!(producer.wire().wakes.load(SeqCst), wakes + 1, "told once");
}

#[test]
fn replies_skip_the_limit_and_marks_tell_when_they_left() {
    let wire = TestWire {
        direct: true,
        room: StdMutex::new(10),
        ..TestWire::default()
    };
    let out = Outgoing::new(1, limits(1000), wire);
    let first = out.reply(&[b'r'; 5]).unwrap();
    assert_eq!(out.pending(), 0, "the socket took it at once");
    out.wait_sent(first).unwrap();
    let second = out.reply(&[b's'; 5000]).unwrap();
    assert_eq!(out.pending(), 4995, "a reply is not refused by the limit");
    let waiter = {
        let out = out.clone();
        thread::spawn(move || out.wait_sent(second))
    };
    client_reads(&out, 5000);
    waiter.join().unwrap().unwrap();
    out.send(b"t", true).unwrap();
    assert_eq!(out.wire().got.lock().unwrap().len(), 5006);
}

#[test]
fn the_stall_clock_starts_when_the_queue_fills() {
    let out = Outgoing::new(1, limits(1000), TestWire::default());
    out.send(&[b'a'; 600], true).unwrap();
    let (t, reason) = out.deadline(&mut out.state()).unwrap();
    assert_eq!(reason, DisconnectReason::Timeout);
    assert!(t >= Instant::now() + Duration::from_secs(25));
    thread::scope(|s| {
        s.spawn(|| {
            never_wait_on_this_thread();
            out.send(&[b'b'; 600], true).unwrap();
        });
    });
    let (t, reason) = out.deadline(&mut out.state()).unwrap();
    assert_eq!(reason, DisconnectReason::SlowConsumer);
    assert!(t <= Instant::now() + Duration::from_secs(2));
    // Looked at eight times a stall timeout while full.
    let look = out.next_look().unwrap();
    assert!(look <= Instant::now() + Duration::from_millis(250));
    assert!(look + Duration::from_millis(1000) < t, "{look:?} {t:?}");
    assert_eq!(out.cut_if_overdue(), None, "not yet");
}
