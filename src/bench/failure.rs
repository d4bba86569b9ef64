//! How one attempt can fail: the kinds [`ErrorCounts`](super::ErrorCounts)
//! counts, and the kind of an I/O error. Below everything that reads
//! replies or counts outcomes, so all of them name failures alike.

use std::io;

/// How one attempt failed; one variant per [`ErrorCounts`] field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    Refused,
    Reset,
    Timeout,
    WrongReply,
    ClosedEarly,
    Other,
}

impl Failure {
    /// The kind of an I/O error.
    pub(super) fn of(e: &io::Error) -> Failure {
        use io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => Failure::Refused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Failure::Reset,
            K::TimedOut => Failure::Timeout,
            K::UnexpectedEof => Failure::ClosedEarly,
            _ => Failure::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_follow_io_errors() {
        use io::ErrorKind as K;
        let f = |k: K| Failure::of(&io::Error::from(k));
        assert_eq!(f(K::ConnectionRefused), Failure::Refused);
        assert_eq!(f(K::ConnectionReset), Failure::Reset);
        assert_eq!(f(K::BrokenPipe), Failure::Reset);
        assert_eq!(f(K::TimedOut), Failure::Timeout);
        assert_eq!(f(K::AddrNotAvailable), Failure::Other);
    }
}
