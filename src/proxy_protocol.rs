//! [`ProxyProtocol`]: the setting that says whether a load balancer in
//! front announces each client's real address.
//!
//! Behind HAProxy (or nginx stream, or a cloud balancer) every connection
//! comes from the balancer, so the server would log and limit by the
//! balancer's address. The PROXY protocol (HAProxy's `send-proxy`,
//! `send-proxy-v2`) puts a short header naming the real client before the
//! first byte of the client's data. Only the names live here; the header
//! is read by the server before the handler sees anything
//! (`server/proxy_header.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::names::Named;

/// Which PROXY protocol header every connection must start with.
///
/// Turn it on only behind a balancer that sends the header: a server
/// expecting one closes every connection that does not start with it, and
/// a server not expecting one would hand the header to the handler as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProxyProtocol {
    /// No header: clients connect directly (the default).
    Off,
    /// The text header, `PROXY TCP4 <client> <server> <ports>\r\n`
    /// (HAProxy's `send-proxy`).
    V1,
    /// The binary header (HAProxy's `send-proxy-v2`).
    V2,
    /// Either version, told apart by the first bytes.
    Any,
}

impl ProxyProtocol {
    /// Every value, in the order help texts list them.
    pub const ALL: [ProxyProtocol; 4] = [
        ProxyProtocol::Off,
        ProxyProtocol::V1,
        ProxyProtocol::V2,
        ProxyProtocol::Any,
    ];

    /// The setting's name, as in TOML and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ProxyProtocol::Off => "off",
            ProxyProtocol::V1 => "v1",
            ProxyProtocol::V2 => "v2",
            ProxyProtocol::Any => "any",
        }
    }
}

impl Named for ProxyProtocol {
    const ALL: &'static [ProxyProtocol] = &ProxyProtocol::ALL;
    fn name(self) -> &'static str {
        ProxyProtocol::name(self)
    }
}

impl fmt::Display for ProxyProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
