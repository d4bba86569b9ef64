//! [`ByteQueue`]: the bytes one client has been sent and its socket has
//! not taken yet, in order.
//!
//! Every mode keeps a connection's outgoing bytes in one of these, inside
//! its [`Outgoing`](super::outgoing::Outgoing) (which decides who may add
//! to it and who waits). Whole messages are appended one after the other,
//! so the bytes on the wire are the messages in the order they were sent,
//! never two of them mixed; whoever owns the socket takes a prefix with
//! [`write_with`](ByteQueue::write_with).
//!
//! Pure bookkeeping, no I/O and no locking of its own.

use std::io;

/// A client's bytes waiting for its socket, oldest first; see the module
/// docs.
///
/// One contiguous buffer with a read offset: messages are appended whole,
/// a write takes a prefix, and the buffer is compacted only once at least
/// half of it was written, so each byte is moved at most once on average.
#[derive(Debug, Default)]
pub(crate) struct ByteQueue {
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

impl ByteQueue {
    /// An empty queue.
    pub fn new() -> ByteQueue {
        ByteQueue::default()
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        let mut q = ByteQueue::new();
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
    fn marks_tell_a_waiter_when_its_message_has_left() {
        let mut q = ByteQueue::new();
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
        let mut q = ByteQueue::new();
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
        let mut q = ByteQueue::new();
        q.push(&vec![1; 1 << 20]);
        q.write_with(|b| Ok(b.len())).unwrap();
        assert!(q.is_empty());
        assert!(q.buf.capacity() <= KEEP_CAPACITY);
    }
}
