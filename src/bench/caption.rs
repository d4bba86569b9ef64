//! What a comparison was run with, in one line: under the chart, above the
//! table, over the timeline. A number read without its load (how many
//! clients, how long, how slow the handler, how many pool workers) teaches
//! nothing, so every picture carries it.

use super::report::BenchReport;
use super::units::duration_s;
use crate::Framing;

/// The load and server settings every mode of a comparison shared.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RunParams {
    /// The handler served: `echo`, or the program's name.
    pub(super) handler: String,
    /// Concurrent clients.
    pub(super) clients: usize,
    /// Messages per client, for a run by count.
    pub(super) messages: Option<u64>,
    /// Measured seconds per mode, for a timed run.
    pub(super) duration_secs: Option<f64>,
    /// What each measurement was of: `mode`, `server` (`compare
    /// --server`) or `run` (`bench`).
    pub(super) per: &'static str,
    /// Runs of each measurement (`--repeat`): above 1, the figures are the
    /// median run's.
    pub(super) runs: usize,
    /// Payload bytes per message.
    pub(super) size: usize,
    /// `--request`, when the exchange is not echo's: then the size says
    /// nothing and the caption shows the request instead.
    pub(super) request: Option<String>,
    /// Echo's pause before each reply, in ms; `None` for another handler.
    pub(super) delay_ms: Option<u64>,
    /// Framing of server and clients.
    pub(super) framing: Framing,
    /// Pool mode's worker threads.
    pub(super) workers: usize,
    /// The event modes' loops; 0 when no event mode was compared.
    pub(super) loops: usize,
    /// A new connection per message.
    pub(super) churn: bool,
    /// Unmeasured seconds before each measurement.
    pub(super) warmup_secs: f64,
    /// Open-loop request rate, or `None` for a closed loop.
    pub(super) rate: Option<f64>,
}

impl RunParams {
    /// What the reports themselves say, for a chart drawn from reports
    /// alone: the settings the reports do not record (delay, workers) are
    /// left out of the line.
    pub(super) fn from_reports(rows: &[(String, BenchReport)]) -> Option<RunParams> {
        let (_, r) = rows.first()?;
        Some(RunParams {
            runs: r.repeat.as_ref().map_or(1, |s| s.runs),
            handler: String::new(),
            clients: r.clients,
            messages: r.messages_per_client,
            duration_secs: r.messages_per_client.is_none().then_some(r.duration_secs),
            per: "mode",
            size: r.size,
            request: r.exchange.as_ref().and_then(|e| e.request.clone()),
            delay_ms: None,
            framing: r.framing,
            workers: 0,
            loops: 0,
            churn: r.churn,
            warmup_secs: r.warmup_secs,
            rate: r.rate,
        })
    }

    /// The line, e.g. `handler echo, 4 clients, 3.00 s per mode, 64-byte
    /// messages, framing raw, no delay, pool workers 2, closed loop`. Plain
    /// ASCII but for what the units need, so it reads on a terminal too.
    pub(super) fn line(&self) -> String {
        let mut parts = Vec::new();
        if !self.handler.is_empty() {
            parts.push(format!("handler {}", self.handler));
        }
        parts.push(plural(self.clients as u64, "client"));
        parts.push(match (self.messages, self.duration_secs) {
            (Some(m), _) => format!("{} each", plural(m, "message")),
            (None, Some(d)) => format!("{} per {}", duration_s(d), self.per),
            (None, None) => "timed".into(),
        });
        parts.push(match &self.request {
            Some(request) => format!("requests {request:?}"),
            None => format!("{}-byte messages", self.size),
        });
        parts.push(format!("framing {}", self.framing));
        match self.delay_ms {
            Some(0) => parts.push("no delay".into()),
            Some(ms) => parts.push(format!("delay {ms} ms per reply")),
            None => {}
        }
        if self.workers > 0 {
            parts.push(format!("pool workers {}", self.workers));
        }
        if self.loops > 0 {
            parts.push(format!("event loops {}", self.loops));
        }
        if self.churn {
            parts.push("a connection per message".into());
        }
        if self.warmup_secs > 0.0 {
            parts.push(format!("warm-up {}", duration_s(self.warmup_secs)));
        }
        parts.push(match self.rate {
            Some(r) => format!("open loop at {r} requests/s"),
            None => "closed loop".into(),
        });
        if self.runs > 1 {
            parts.push(format!("median of {} runs", self.runs));
        }
        parts.join(", ")
    }
}

/// `n thing` or `n things`.
fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_every_setting_that_shapes_the_result() {
        let mut p = RunParams {
            per: "mode",
            runs: 1,
            handler: "echo".into(),
            clients: 4,
            messages: None,
            duration_secs: Some(3.0),
            size: 64,
            request: None,
            delay_ms: Some(0),
            framing: Framing::Raw,
            workers: 2,
            loops: 0,
            churn: false,
            warmup_secs: 0.0,
            rate: None,
        };
        assert_eq!(
            p.line(),
            "handler echo, 4 clients, 3.00 s per mode, 64-byte messages, framing raw, \
             no delay, pool workers 2, closed loop"
        );
        p.clients = 1;
        p.messages = Some(3);
        p.delay_ms = Some(1000);
        p.rate = Some(50.0);
        p.churn = true;
        p.warmup_secs = 0.5;
        assert_eq!(
            p.line(),
            "handler echo, 1 client, 3 messages each, 64-byte messages, framing raw, \
             delay 1000 ms per reply, pool workers 2, a connection per message, \
             warm-up 500 ms, open loop at 50 requests/s"
        );
    }
}
