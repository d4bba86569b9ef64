//! [`SharedCodec`]: any [`Codec`] behind one type, so `Config`, `Session`
//! and `Sender` need no type parameter.
//!
//! [`Codec`] requires `Clone` (each connection decodes with its own copy),
//! which a trait object cannot have; [`Dyn`] is the object-safe half,
//! implemented for every codec.

use std::fmt;
use std::sync::Arc;

use super::{Codec, Frame, FrameError};

/// The object-safe face of a [`Codec`].
pub(crate) trait Dyn: Send + Sync {
    fn decode(&mut self, buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError>;
    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError>;
    fn name(&self) -> &str;
    fn overhead(&self) -> usize;
    fn read_size(&self, max: usize) -> usize;
    /// A fresh copy for one connection's decoding.
    fn boxed(&self) -> Box<dyn Dyn>;
}

impl<C: Codec> Dyn for C {
    fn decode(&mut self, buf: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
        Codec::decode(self, buf, max)
    }
    fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        Codec::encode(self, message, out)
    }
    fn name(&self) -> &str {
        Codec::name(self)
    }
    fn overhead(&self) -> usize {
        Codec::overhead(self)
    }
    fn read_size(&self, max: usize) -> usize {
        Codec::read_size(self, max)
    }
    fn boxed(&self) -> Box<dyn Dyn> {
        Box::new(self.clone())
    }
}

/// One codec, shared by a server's connections and their senders.
#[derive(Clone)]
pub(crate) struct SharedCodec(Arc<dyn Dyn>);

impl SharedCodec {
    pub(crate) fn new(codec: impl Codec) -> SharedCodec {
        SharedCodec(Arc::new(codec))
    }

    /// A copy for one connection's decoder.
    pub(crate) fn for_decoding(&self) -> Box<dyn Dyn> {
        self.0.boxed()
    }

    pub(crate) fn encode(&self, message: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        self.0.encode(message, out)
    }

    pub(crate) fn name(&self) -> &str {
        self.0.name()
    }

    pub(crate) fn read_size(&self, max: usize) -> usize {
        self.0.read_size(max)
    }
}

/// Two configs are equal when they hold the very same codec value.
impl PartialEq for SharedCodec {
    fn eq(&self, other: &SharedCodec) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for SharedCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Codec({})", self.0.name())
    }
}
