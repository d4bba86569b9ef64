//! The event way of serving, shared by the `event` and `event-workers`
//! modes: loop threads that each own a share of the connections on
//! non-blocking sockets (`loops.rs` starts them and hands them
//! connections, `event_loop.rs` is one loop's turn), moving each one on as far as it can
//! without waiting (`conn.rs`), reached from other threads only through
//! their mailboxes (`mailbox.rs`, and `wire.rs` for a connection's
//! outgoing bytes), keeping their connections' deadlines (`deadlines.rs`).
//! Where a handler call runs is the one thing the two modes do
//! differently (`runner.rs`); `event-workers` lends its loops' threads to
//! short calls, and moves a loop held by a slow one to a new thread
//! (`lend.rs`).

mod conn;
mod deadlines;
mod event_loop;
mod lend;
mod loops;
mod mailbox;
mod runner;
mod wire;

pub(crate) use event_loop::end_orphan;
pub(crate) use loops::Loops;
pub(crate) use mailbox::Mailbox;
pub(crate) use runner::{Done, Job, Runner};
