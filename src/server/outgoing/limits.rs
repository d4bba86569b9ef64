//! [`Limits`]: what bounds every connection's outgoing side in one server,
//! and the marks derived from them (the low-water mark, the cap on sends
//! that cannot wait, the stride a full queue's client must take).

use std::time::Duration;

use crate::config::Config;

/// The limits every connection of one server shares.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// `max_pending_bytes`: past this, a send slows its producer.
    pub max_pending: usize,
    /// `write_timeout_ms`: a queue nobody takes a byte of for this long is
    /// cut as a timeout.
    pub write_timeout: Duration,
    /// `stall_timeout_ms`: a full queue nobody takes a byte of for this
    /// long is cut as too slow.
    pub stall_timeout: Duration,
}

impl Limits {
    /// The limits `config` sets.
    pub fn of(config: &Config) -> Limits {
        Limits {
            max_pending: config.max_pending_bytes,
            write_timeout: Duration::from_millis(config.write_timeout_ms),
            stall_timeout: Duration::from_millis(config.stall_timeout_ms),
        }
    }

    /// Where waiting producers go on: half the limit, so a producer that
    /// goes on has room for many messages, not one (Netty's water marks).
    pub(super) fn low_water(&self) -> usize {
        self.max_pending / 2
    }

    /// What a queue may reach from sends that cannot wait (event modes).
    pub(super) fn hard_cap(&self) -> usize {
        self.max_pending.saturating_mul(2)
    }

    /// Bytes a client with a full queue must take within `stall_timeout`
    /// to count as reading: 64 KiB (a sixteenth of the limit if that is
    /// less), 32 KB/s with the defaults. Any byte would not do: a client
    /// that never reads still has a kernel that takes a few KB now and then
    /// (seen: 2 KB at the 2 s mark, as its receive queue was compacted),
    /// and each would restart the clock.
    pub(super) fn stride(&self) -> usize {
        (self.max_pending / 16).clamp(1, 64 * 1024)
    }
}
