//! The load generator (`tcpmodes bench`) and the side-by-side comparison
//! of the modes (`tcpmodes compare`).
//!
//! `bench` loads a running server with the echo protocol, or any
//! request/reply exchange (`--greeting`, `--request`, `--expect`), or, with
//! `--protocol daytime`, one that sends a line and closes; checks every
//! reply byte for byte; and reports throughput, latency percentiles,
//! each client's wait for service, the clients never served, and errors by
//! kind ([`BenchReport`]: its JSON is the interface for scripts). Load is a
//! closed loop (each client sends when its last reply came) or, with
//! `--rate`, an open loop whose latencies run from when each request was
//! due, so a stalled server cannot hide (coordinated omission). `compare`
//! starts an in-process echo server per mode and benches each with the same
//! load. `bench --idle N` loads nothing: it holds N silent connections and
//! reads the server's memory and threads meanwhile ([`run_idle`]), the
//! cost of idle clients that decides between a thread each and an event
//! loop.
//!
//! Data flows one way, as in oha:
//!
//! ```text
//! flags ─▶ plan ─▶ clients ─▶ tally ─▶ report ─▶ render / plot
//!                (event loop,
//!                 blocking)
//! ```
//!
//! and the files import each other without cycles, each only from files
//! above it in this table: flags, exchange and plan know nothing of the
//! clients; both clients check replies through `check` and count through
//! `account` and `tally`; the report is data that knows nothing of the
//! clients or of who renders it; render and plot read reports. Only `run`
//! and `compare` see every stage.
//!
//! | file | holds |
//! |---|---|
//! | `error.rs` | [`BenchError`]: why a run could not start |
//! | `flags.rs` | [`BenchArgs`], [`LoadArgs`] (the load flags `compare` shares), [`Protocol`], [`OutputFormat`], and the checks on their values |
//! | `exchange.rs` | the greeting, request and reply texts (`--greeting`, `--request`, `--expect`), placeholders and escapes, framed |
//! | `plan.rs` | the plan: the exchange, deadlines, the rate, backoff, the pre-flight connection |
//! | `schedule.rs` | the open loop (`--rate`): when each request is due, and what was due at the end |
//! | `failure.rs` | how an attempt can fail |
//! | `check.rs` | reply checking, byte for byte, by framing (`--expect any`) or by shape (daytime) |
//! | `account.rs` | one client's standing: its attempt, schedule, wait for service, what it saw, its connections |
//! | `tally.rs` | counting: how an attempt ends, one routine both clients count through, [`ErrorCounts`], [`NeverAnswered`] |
//! | `progress.rs` | the progress line on stderr |
//! | `event_client.rs` | many clients per thread on a mio event loop |
//! | `blocking_client.rs` | one persistent client alone on its thread, blocking sockets |
//! | `report.rs` | [`BenchReport`], [`LatencySummary`], [`SCHEMA_VERSION`]: data only |
//! | `render/` | table, JSON and CSV, from one list of columns (`mod.rs`; `tests.rs`) |
//! | `spectrum.rs` | `--histogram`: the latency's percentile spectrum as HdrHistogram and wrk2 print it |
//! | `plot/` | the chart of `--plot`: served counts first, then wait, throughput and latency stacked (`mod.rs` builds it, `draw.rs` draws it, `text.rs` fits its text) |
//! | `run.rs` | [`run_bench`] and [`main_bench`]: the path above, wired, and the exit verdict |
//! | `repeat.rs` | `--repeat N`: the median run, and the spread of the headline figures |
//! | `idle.rs` | `--idle`: [`run_idle`], [`IdleReport`]: N silent connections held, and the server's memory and threads meanwhile (it shares only flags, exchange and plan) |
//! | `compare.rs` | [`CompareArgs`], [`run_compare`], [`main_compare`] |
//!
//! What `compare` shows, each file reading reports only:
//!
//! | file | holds |
//! |---|---|
//! | `compare_table.rs` | compare's table: clients served, wait, throughput, latency first; printed row by row |
//! | `units.rs` | times scaled to µs, ms or s; axis ticks whose labels are exact and distinct |
//! | `caption.rs` | the run's parameters in one line, for the chart, the timeline and the table |
//! | `picture.rs` | SVG or PNG by extension, paths checked before a run, the embedded font, [`PlotError`] |
//! | `timeline.rs` | `compare --timeline`: who was served when, as ASCII rows |
//! | `timeline_plot.rs` | `compare --timeline-svg`: the same, as a picture |
//! | `views.rs` | the timeline, its picture and the chart, asked for by `bench` or `compare` alike |
//!
//! (`plot/` draws the chart of `--plot` as SVG or PNG: each mode's served
//! count first, then wait, throughput and latency; a mode that left
//! clients unserved has its throughput and latency bars marked.)
//!
//! The generator must not be the bottleneck, so a thread drives many
//! clients on an event loop, except a thread left with a single persistent
//! echo client, which runs it on blocking sockets: with one socket an event
//! loop only adds a syscall per message. `modes/README.md` has the figures.

mod account;
mod blocking_client;
mod check;
mod compare;
mod error;
mod event_client;
mod exchange;
mod failure;
mod flags;
mod idle;
mod plan;
mod plot;
mod progress;
mod render;
mod repeat;
mod report;
mod run;
mod schedule;
mod spectrum;
mod tally;

// What compare shows.
mod caption;
mod compare_table;
mod picture;
mod timeline;
mod timeline_plot;
mod units;
mod views;

pub use compare::{CompareArgs, main_compare, run_compare};
pub(crate) use compare::{ServeSpec, main_compare_with};
pub use error::BenchError;
pub use flags::{BenchArgs, LoadArgs, OutputFormat, Protocol};
pub use idle::{IdleReport, ProcessSample, main_idle, render_idle, run_idle};
pub use plot::{PlotError, plot_svg};
pub use render::{render, render_comparison};
pub use report::{
    BenchReport, ClientTimeline, ConnectionSpan, ExchangeTexts, LatencySummary, MinMedianMax,
    RequestSpan, SCHEMA_VERSION, Spread,
};
pub use run::{main_bench, run_bench};
pub use tally::{ErrorCounts, NeverAnswered};
