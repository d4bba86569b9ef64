//! [`Framing`]: the built-in codecs by the names the `framing` setting
//! gives them.
//!
//! The lesson's server does not say where a message ends (each read is
//! taken as one message, which works only because its client waits for
//! each reply), so `raw` keeps that behaviour; `line` and `length` show the
//! two usual real answers, and `http` is HTTP/1.x requests.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{HttpCodec, LengthCodec, LineCodec, RawCodec, SharedCodec};

/// How a byte stream is cut into messages, and how replies are marked: a
/// built-in [`Codec`](super::Codec), chosen by name in TOML and flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// [`RawCodec`]: each read (up to 1024 bytes, as the lesson's
    /// `recv(1024)`) is one message; replies are sent as they are.
    Raw,
    /// [`LineCodec`]: messages end with `\n` (a `\r` before it dropped);
    /// every reply gets a `\n`.
    Line,
    /// [`LengthCodec`]: each message is preceded by its length as a 4-byte
    /// big-endian number; replies get the same prefix.
    Length,
    /// [`HttpCodec`]: HTTP/1.x requests, each with the body its
    /// `Content-Length` announces; replies are sent as they are.
    Http,
}

impl Framing {
    /// All framings, in the order the docs list them.
    pub const ALL: [Framing; 4] = [Framing::Raw, Framing::Line, Framing::Length, Framing::Http];

    /// The setting's name, as written in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Raw => "raw",
            Framing::Line => "line",
            Framing::Length => "length",
            Framing::Http => "http",
        }
    }

    /// The codec this name stands for, with its default settings.
    pub(crate) fn codec(self) -> SharedCodec {
        match self {
            Framing::Raw => SharedCodec::new(RawCodec),
            Framing::Line => SharedCodec::new(LineCodec::new()),
            Framing::Length => SharedCodec::new(LengthCodec::new()),
            Framing::Http => SharedCodec::new(HttpCodec::new()),
        }
    }

    /// How many bytes one read asks for (as its codec's
    /// [`read_size`](super::Codec::read_size)).
    pub fn read_size(self, max_message_bytes: usize) -> usize {
        self.codec().read_size(max_message_bytes)
    }

    /// Appends `message` to `out`, marked the way this framing marks
    /// messages (as its codec's [`encode`](super::Codec::encode)).
    pub fn encode(self, message: &[u8], out: &mut Vec<u8>) -> Result<(), super::FrameError> {
        self.codec().encode(message, out)
    }
}

impl crate::names::Named for Framing {
    const ALL: &'static [Framing] = &Framing::ALL;
    fn name(self) -> &'static str {
        Framing::name(self)
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
