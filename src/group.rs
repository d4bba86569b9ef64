//! [`Group`]: a set of connections that hear the same messages.
//!
//! A chat room, a pub/sub topic, the players of a game: a message from one
//! connection goes to many. A handler only answers its own client, so a
//! group holds the [`Sender`]s of its members and writes to each of them.
//! Members join in `on_connect` and leave in `on_disconnect`:
//!
//! ```
//! use tcpmodes::{Action, ConnInfo, Context, DisconnectReason, Group, Handler};
//!
//! /// Every line goes to everyone else in the room.
//! struct Room(Group);
//!
//! impl Handler for Room {
//!     fn on_connect(&mut self, ctx: &mut Context<'_>) -> Action {
//!         self.0.join(ctx.sender());
//!         Action::Continue
//!     }
//!     fn on_message(&mut self, msg: &[u8], ctx: &mut Context<'_>) -> Action {
//!         self.0.broadcast_except(ctx.id(), msg);
//!         Action::Continue
//!     }
//!     fn on_disconnect(&mut self, info: ConnInfo, _: &DisconnectReason) {
//!         self.0.leave(info.id);
//!     }
//! }
//!
//! let room = Group::new();
//! let factory = move || Room(room.clone());
//! # let _ = factory;
//! ```
//!
//! The group never touches a socket: it only calls [`Sender::send`], so it
//! works in every mode whose connections have senders.
//!
//! # Lossless or lossy
//!
//! [`broadcast`](Group::broadcast) is lossless: every member who keeps
//! reading gets every message, in order. When a member reads slower than
//! the group talks, its queue fills and the *speaker* is slowed to that
//! member's pace (see [`Sender`]); a member who reads nothing at all is cut
//! after `stall_timeout_ms` and leaves the group, and the speaker goes on.
//! Pick it for anything a member must not miss: chat lines, orders, state
//! changes.
//!
//! [`try_broadcast`](Group::try_broadcast) never slows the speaker: a
//! member whose queue is full (more than `max_pending_bytes` waiting)
//! skips this message and stays in the group. Pick it for data the next
//! message makes stale, such as a game's positions or a live price, where a
//! laggard is better served by the newest value than by a backlog, and one
//! slow reader must not slow the room.
//!
//! What a group cannot change is who is in it: only connections being
//! served can join. In `serial` mode that is one at a time, so a chat room
//! always holds a single member and every broadcast reaches nobody; in
//! `pool` mode at most `workers` members talk while the rest wait outside.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sender::{SendError, Sender};

/// A cloneable, thread-safe set of connections to send to together.
///
/// Clones share the same members; capture one in the handler factory and
/// give each handler a clone. Members are kept by connection id, so the
/// order of a broadcast is the order clients were accepted.
#[derive(Clone, Debug, Default)]
pub struct Group {
    members: Arc<Mutex<BTreeMap<u64, Sender>>>,
}

impl Group {
    /// An empty group.
    pub fn new() -> Group {
        Group::default()
    }

    fn members(&self) -> MutexGuard<'_, BTreeMap<u64, Sender>> {
        // A panic elsewhere cannot leave the map half-changed: every update
        // is a single insert or remove.
        self.members.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a connection (`ctx.sender()`); returns how many members the
    /// group has now. Joining twice keeps one membership.
    pub fn join(&self, member: Sender) -> usize {
        let mut members = self.members();
        members.insert(member.id(), member);
        members.len()
    }

    /// Removes connection `id`; returns whether it was a member. Call it in
    /// `on_disconnect`, or a dead member is only noticed at the next send.
    pub fn leave(&self, id: u64) -> bool {
        self.members().remove(&id).is_some()
    }

    /// Whether connection `id` is a member.
    pub fn contains(&self, id: u64) -> bool {
        self.members().contains_key(&id)
    }

    /// How many members the group has.
    pub fn len(&self) -> usize {
        self.members().len()
    }

    /// Whether the group has no members.
    pub fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    /// The members' connection ids, in accept order.
    pub fn ids(&self) -> Vec<u64> {
        self.members().keys().copied().collect()
    }

    /// Sends one message to member `id` alone (a private message). A member
    /// that cannot be sent to is dropped as in
    /// [`broadcast`](Group::broadcast).
    pub fn send_to(&self, id: u64, message: impl AsRef<[u8]>) -> Result<(), SendError> {
        let Some(member) = self.members().get(&id).cloned() else {
            return Err(SendError::NotAMember(id));
        };
        let sent = member.send(message);
        if let Err(e) = &sent {
            self.drop_member(&member, e);
        }
        sent
    }

    /// Sends one message to every member, losing none for a member who
    /// reads (see the module docs: a slow reader slows the caller); returns
    /// how many got it.
    pub fn broadcast(&self, message: impl AsRef<[u8]>) -> usize {
        self.send_all(None, message.as_ref(), |m, b| m.send(b))
    }

    /// [`broadcast`](Group::broadcast) to every member but connection
    /// `except`, usually the one that sent it; returns how many got it.
    pub fn broadcast_except(&self, except: u64, message: impl AsRef<[u8]>) -> usize {
        self.send_all(Some(except), message.as_ref(), |m, b| m.send(b))
    }

    /// Sends one message to every member whose queue has room, never
    /// slowing the caller: a member more than `max_pending_bytes` behind
    /// skips it (see the module docs). Returns how many got it.
    pub fn try_broadcast(&self, message: impl AsRef<[u8]>) -> usize {
        self.send_all(None, message.as_ref(), |m, b| m.try_send(b))
    }

    /// [`try_broadcast`](Group::try_broadcast) to every member but
    /// connection `except`.
    pub fn try_broadcast_except(&self, except: u64, message: impl AsRef<[u8]>) -> usize {
        self.send_all(Some(except), message.as_ref(), |m, b| m.try_send(b))
    }

    fn send_all(
        &self,
        except: Option<u64>,
        message: &[u8],
        send: fn(&Sender, &[u8]) -> Result<(), SendError>,
    ) -> usize {
        // Send outside the lock: a member whose client is slow to read must
        // not stop others from joining, leaving or broadcasting meanwhile.
        let targets: Vec<Sender> = self
            .members()
            .values()
            .filter(|m| Some(m.id()) != except)
            .cloned()
            .collect();
        let mut delivered = 0;
        for member in &targets {
            match send(member, message) {
                Ok(()) => delivered += 1,
                // Still a member: it skips this message (a message its
                // codec cannot frame is the sender's fault, not its).
                Err(SendError::Full | SendError::Encode(_)) => {}
                Err(e) => self.drop_member(member, &e),
            }
        }
        delivered
    }

    /// A member that cannot take a message (gone, or cut because its client
    /// stopped reading) leaves the group and is closed, so its own handler
    /// gets `on_disconnect` and nobody sends to it again.
    fn drop_member(&self, member: &Sender, error: &SendError) {
        if self.leave(member.id()) {
            // Debug only: the connection's end is logged once, with its
            // reason (too slow, reset), by whoever serves it.
            log::debug!("Connection {} left its group: {error}", member.id());
        }
        member.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Framing;
    use crate::session::MemoryOutbox;

    fn member(id: u64) -> (Sender, Arc<MemoryOutbox>) {
        let outbox = Arc::new(MemoryOutbox::default());
        (
            Sender::new(id, Framing::Line.codec(), outbox.clone()),
            outbox,
        )
    }

    #[test]
    fn broadcast_reaches_every_member_but_the_excepted_one() {
        let group = Group::new();
        let (a, a_out) = member(1);
        let (b, b_out) = member(2);
        let (c, c_out) = member(3);
        assert_eq!(group.join(a), 1);
        group.join(b.clone());
        assert_eq!(group.join(c), 3);
        assert_eq!(group.join(b), 3, "joining twice keeps one membership");
        assert_eq!(group.broadcast_except(1, "hi"), 2);
        assert_eq!(group.broadcast("all"), 3);
        assert_eq!(a_out.take(), b"all\n");
        assert_eq!(b_out.take(), b"hi\nall\n");
        assert_eq!(c_out.take(), b"hi\nall\n");
        assert!(group.leave(2));
        assert!(!group.leave(2));
        assert_eq!(group.ids(), vec![1, 3]);
        group.send_to(3, "psst").unwrap();
        assert_eq!(c_out.take(), b"psst\n");
        assert!(group.send_to(2, "gone").is_err());
    }

    #[test]
    fn a_member_that_cannot_be_sent_to_is_dropped_and_closed() {
        let group = Group::new();
        let (a, a_out) = member(1);
        let (b, b_out) = member(2);
        group.join(a);
        group.join(b.clone());
        b.close();
        assert_eq!(group.broadcast("x"), 1);
        assert!(!group.contains(2));
        assert!(b_out.is_closed());
        assert_eq!(a_out.take(), b"x\n");
        assert_eq!(group.len(), 1);
    }

    /// An outbox whose queue is full: `try_send` is refused, `send` goes
    /// (a real one would slow the caller first).
    #[derive(Default)]
    struct Full(MemoryOutbox);

    impl crate::sender::Outbox for Full {
        fn send(&self, bytes: &[u8], wait: bool) -> Result<(), SendError> {
            if !wait {
                return Err(SendError::Full);
            }
            self.0.send(bytes, wait)
        }
        fn pending(&self) -> usize {
            1 << 20
        }
        fn close(&self) {
            self.0.close()
        }
    }

    #[test]
    fn a_lossy_broadcast_skips_a_full_member_and_keeps_it() {
        let group = Group::new();
        let (a, a_out) = member(1);
        let laggard = Arc::new(Full::default());
        group.join(a);
        group.join(Sender::new(2, Framing::Line.codec(), laggard.clone()));
        assert_eq!(group.try_broadcast("tick"), 1);
        assert!(group.contains(2), "a full member stays in the group");
        assert_eq!(a_out.take(), b"tick\n");
        assert!(laggard.0.take().is_empty(), "the laggard skipped it");
        assert_eq!(group.broadcast("order"), 2, "a lossless one reaches it");
        assert_eq!(laggard.0.take(), b"order\n");
        assert!(!laggard.0.is_closed());
    }

    #[test]
    fn members_may_join_and_broadcast_from_many_threads() {
        let group = Group::new();
        let outs: Vec<_> = (0..8u64)
            .map(|id| {
                let (s, out) = member(id);
                group.join(s);
                out
            })
            .collect();
        std::thread::scope(|scope| {
            for id in 0..8u64 {
                let group = group.clone();
                scope.spawn(move || {
                    for _ in 0..10 {
                        group.broadcast_except(id, "m");
                    }
                });
            }
        });
        for out in outs {
            // 7 other members × 10 messages each, whole lines only.
            assert_eq!(out.take(), b"m\n".repeat(70));
        }
    }
}
