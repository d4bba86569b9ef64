//! [`PendingBytes`]: what one client has been sent but its socket has not
//! taken yet, in order.
//!
//! A socket takes bytes only as fast as its client reads. Writing the rest
//! with a blocking call stalls the thread that writes: in a chat room that
//! is the speaker's thread, and through it everyone (one member who never
//! reads froze a room for `write_timeout_ms`). So a write takes what the
//! socket accepts at once and queues the remainder here; someone drains the
//! queue when the socket can take more (the blocking modes' flusher thread;
//! the event loops keep their own queue, `mailbox.rs`'s `Outgoing`, which
//! hands sends to the loop in batches). Whole messages are queued one after
//! the other, so the bytes on the wire are the messages in the order they
//! were sent, never two of them mixed.
//!
//! The queue is pure bookkeeping, no I/O of its own: whoever owns it says
//! how to write ([`write_with`](PendingBytes::write_with)) and when a
//! client has too much waiting ([`fits`](PendingBytes::fits) against
//! `max_pending_bytes`).

use std::io;

/// A client's bytes waiting for its socket, oldest first; see the module
/// docs.
///
/// One contiguous buffer with a read offset: messages are appended whole,
/// a write takes a prefix, and the buffer is compacted only once at least
/// half of it was written, so each byte is moved at most once on average.
#[derive(Debug, Default)]
pub(crate) struct PendingBytes {
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    head: usize,
    /// Bytes written since the queue was made: with [`end`](Self::end),
    /// a mark that tells a waiter when its own message has left.
    taken: u64,
}

/// Above this capacity an emptied queue gives its memory back: one burst
/// to a client should not keep a megabyte per connection for its lifetime.
const KEEP_CAPACITY: usize = 64 * 1024;

impl PendingBytes {
    /// An empty queue.
    pub fn new() -> PendingBytes {
        PendingBytes::default()
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `extra` more bytes keep the queue within `limit` bytes.
    pub fn fits(&self, extra: usize, limit: usize) -> bool {
        self.len().saturating_add(extra) <= limit
    }

    /// Appends `bytes` behind everything already waiting.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes written so far: grows by what each write took.
    pub fn taken(&self) -> u64 {
        self.taken
    }

    /// The mark the last byte queued so far reaches: once
    /// [`taken`](Self::taken) reaches it, everything queued until now has
    /// been written.
    pub fn end(&self) -> u64 {
        self.taken + self.len() as u64
    }

    /// Counts bytes written without this queue (a send that went straight
    /// to the socket because nothing waited), so marks stay comparable.
    pub fn note_written(&mut self, n: usize) {
        self.taken += n as u64;
    }

    /// Writes the queue's front with `write` (one call to the socket's
    /// send) until it is empty or `write` would block. Returns how many
    /// bytes were written; an error other than `WouldBlock` (a reset, a
    /// broken pipe) is returned as it is, bytes already written counted.
    pub fn write_with(
        &mut self,
        mut write: impl FnMut(&[u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut written = 0;
        while !self.is_empty() {
            match write(&self.buf[self.head..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.consume(n);
                    written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// Forgets everything waiting (the client was cut). What was not
    /// written is not counted as taken: a mark past it is never reached,
    /// so a waiter must also watch for the cut (its owner says).
    pub fn clear(&mut self) {
        self.buf = Vec::new();
        self.head = 0;
    }

    fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.head += n;
        self.taken += n as u64;
        if self.head == self.buf.len() {
            self.head = 0;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
        } else if self.head >= self.len() {
            // At least half written: move the rest to the front once.
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `room` bytes, then would block.
    fn socket(room: &mut usize, got: &mut Vec<u8>) -> impl FnMut(&[u8]) -> io::Result<usize> {
        move |b: &[u8]| {
            if *room == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = b.len().min(*room).min(7); // short writes, as sockets do
            *room -= n;
            got.extend_from_slice(&b[..n]);
            Ok(n)
        }
    }

    #[test]
    fn bytes_leave_in_the_order_they_were_queued_whole_messages_unmixed() {
        let mut q = PendingBytes::new();
        let messages: Vec<Vec<u8>> = (0..50u8)
            .map(|i| vec![b'a' + i % 26; 1 + i as usize])
            .collect();
        let mut got = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            q.push(m);
            // Drain a little between pushes: a reader that takes some now
            // and then never reorders or splits what is queued.
            let mut room = i % 5;
            q.write_with(socket(&mut room, &mut got)).unwrap();
        }
        let mut room = usize::MAX;
        q.write_with(socket(&mut room, &mut got)).unwrap();
        assert!(q.is_empty());
        assert_eq!(got, messages.concat());
        assert_eq!(q.taken(), got.len() as u64);
    }

    #[test]
    fn the_limit_counts_what_waits_not_what_was_written() {
        let mut q = PendingBytes::new();
        assert!(q.fits(1024, 1024));
        assert!(!q.fits(1025, 1024));
        q.push(&[0; 1000]);
        assert!(q.fits(24, 1024));
        assert!(!q.fits(25, 1024));
        let (mut room, mut got) = (600, Vec::new());
        assert_eq!(q.write_with(socket(&mut room, &mut got)).unwrap(), 600);
        assert_eq!(q.len(), 400);
        assert!(q.fits(624, 1024), "written bytes no longer count");
        assert!(!q.fits(usize::MAX, 1024), "no overflow on a huge message");
    }

    #[test]
    fn marks_tell_a_waiter_when_its_message_has_left() {
        let mut q = PendingBytes::new();
        q.note_written(10); // sent straight to the socket
        q.push(b"first");
        let first = q.end();
        q.push(b"second");
        let second = q.end();
        assert_eq!((first, second), (15, 21));
        let (mut room, mut got) = (5, Vec::new());
        q.write_with(socket(&mut room, &mut got)).unwrap();
        assert!(q.taken() >= first && q.taken() < second);
        let taken = q.taken();
        q.clear();
        assert_eq!(q.taken(), taken, "what a cut drops was never taken");
        assert!(q.is_empty());
    }

    #[test]
    fn errors_other_than_would_block_come_back_and_keep_the_rest() {
        let mut q = PendingBytes::new();
        q.push(b"abcdef");
        let mut calls = 0;
        let e = q
            .write_with(|b| {
                calls += 1;
                match calls {
                    1 => Err(io::ErrorKind::Interrupted.into()),
                    2 => Ok(b.len().min(2)),
                    _ => Err(io::ErrorKind::BrokenPipe.into()),
                }
            })
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(q.len(), 4);
    }

    #[test]
    fn an_emptied_queue_gives_back_a_large_buffer() {
        let mut q = PendingBytes::new();
        q.push(&vec![1; 1 << 20]);
        q.write_with(|b| Ok(b.len())).unwrap();
        assert!(q.is_empty());
        assert!(q.buf.capacity() <= KEEP_CAPACITY);
    }
}
