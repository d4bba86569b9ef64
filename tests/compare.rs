//! `tcpmodes compare` runs every mode in-process and reports each: the
//! lesson's demonstration, checked end to end through the binary.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::{self, JoinHandle};

use common::process::{bin_path, wait_bounded};
use common::{PATIENCE, temp_dir};
use tcpmodes::Mode;

#[test]
fn compare_runs_every_mode_and_serial_takes_longest() {
    let dir = temp_dir("compare");
    let plot = dir.join("modes.svg");
    let live = Live::start(&[
        "--clients",
        "2",
        "--messages",
        "3",
        "--delay-ms",
        "300",
        "--format",
        "json",
        "--plot",
        plot.to_str().unwrap(),
    ]);
    let (out, status, stderr) = live.finish();
    assert!(status.success(), "{stderr}\n{out}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, Mode::ALL.map(Mode::name));
    for r in rows {
        assert_eq!(r["replies_ok"], 6, "{r}");
        assert_eq!(r["sent"], 6, "{r}");
        assert_eq!(r["errors"]["total"], 0, "{r}");
        assert_eq!(r["clients_answered"], 2, "{r}");
    }
    let secs = |i: usize| rows[i]["duration_secs"].as_f64().unwrap();
    // Serial serves the two clients one after the other: at least 2 x 3
    // delays of 0.3 s, by construction. Threads serve them side by side.
    assert!(secs(0) >= 1.8, "serial took {} s", secs(0));
    assert!(
        secs(1) < secs(0),
        "threads {} s, serial {} s",
        secs(1),
        secs(0)
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("<svg") && svg.contains("threads"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `compare --loops 1` with a slow handler: event mode's one loop runs
/// every handler call itself, so its clients' delays add up as serial's
/// do; event-workers runs them side by side on its workers.
#[test]
fn one_event_loop_adds_up_the_delays_like_serial_and_workers_do_not() {
    let live = Live::start(&[
        "--modes",
        "serial,event,event-workers",
        "--loops",
        "1",
        "--workers",
        "2",
        "--clients",
        "2",
        "--messages",
        "2",
        "--delay-ms",
        "300",
        "--format",
        "json",
    ]);
    let (out, status, stderr) = live.finish();
    assert!(status.success(), "{stderr}\n{out}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    let secs = |i: usize| rows[i]["duration_secs"].as_f64().unwrap();
    for r in rows {
        assert_eq!(r["replies_ok"], 4, "{r}");
        assert_eq!(r["clients_answered"], 2, "{r}");
    }
    // Four calls of 0.3 s, one after the other on one thread: 1.2 s at
    // least, by construction, for serial and for one event loop alike.
    assert!(secs(0) >= 1.2, "serial took {} s", secs(0));
    assert!(secs(1) >= 1.2, "event with one loop took {} s", secs(1));
    assert!(
        secs(2) < secs(1),
        "event-workers {} s, event {} s",
        secs(2),
        secs(1)
    );
}

/// More clients than workers, in pool and event-workers: both take as long,
/// and both make clients wait. Pool makes a client wait for its greeting
/// (`wait`); event-workers greets everyone at once, and it is each
/// request that waits for a worker (`queue`). Neither may be drawn or
/// counted as being served.
#[test]
fn a_request_waiting_for_a_worker_is_counted_and_drawn_as_waiting() {
    let live = Live::start(&[
        "--modes",
        "pool,event-workers",
        "--workers",
        "2",
        "--clients",
        "6",
        "--messages",
        "2",
        "--delay-ms",
        "150",
        "--format",
        "json",
        "--timeline",
    ]);
    let (out, status, stderr) = live.finish();
    assert!(status.success(), "{stderr}\n{out}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let (pool, ew) = (&rows[0], &rows[1]);
    let us = |r: &serde_json::Value, key: &str| r[key]["p99"].as_f64().unwrap();
    // Pool: 6 clients, 2 at a time, 2 x 150 ms each: the last waits
    // about 600 ms to be greeted; its requests never queue.
    assert!(us(pool, "wait_us") >= 400_000.0, "{pool}");
    assert!(us(pool, "queue_us") < 100_000.0, "{pool}");
    // event-workers: greeted at once; a request waits behind up to four
    // others for one of 2 workers, about 300 ms.
    assert!(us(ew, "wait_us") < 100_000.0, "{ew}");
    assert!(us(ew, "queue_us") >= 200_000.0, "{ew}");
    // Waiting either way, by about as much (generous: half or more).
    assert!(
        us(ew, "queue_us") >= 0.4 * us(pool, "wait_us"),
        "{pool}\n{ew}"
    );
    // The timeline (on stderr with --format json) draws both as waiting.
    let pool_rows = timeline_rows(&stderr, "pool");
    let ew_rows = timeline_rows(&stderr, "event-workers");
    assert_eq!((pool_rows.len(), ew_rows.len()), (6, 6), "{stderr}");
    assert!(pool_rows.iter().any(|r| cells(r).contains('.')), "{stderr}");
    assert!(ew_rows.iter().any(|r| cells(r).contains(':')), "{stderr}");
    assert!(
        ew_rows.iter().all(|r| !cells(r).contains('+')),
        "every request is matched to its call: {stderr}"
    );
}

/// A `compare` run whose stdout is read line by line while it runs, and
/// whose stderr is drained, so the test sees what a person sees and when.
struct Live {
    child: Child,
    lines: Receiver<String>,
    stderr: JoinHandle<String>,
}

impl Live {
    fn start(args: &[&str]) -> Live {
        let mut child = Command::new(bin_path())
            .arg("compare")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut pipe = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        });
        Live {
            child,
            lines,
            stderr,
        }
    }

    /// The next stdout line, or `None` at the end (bounded by PATIENCE).
    fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(PATIENCE).ok()
    }

    /// Still running?
    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The rest of stdout, the exit status and stderr.
    fn finish(mut self) -> (String, ExitStatus, String) {
        let mut rest = String::new();
        while let Some(line) = self.next_line() {
            rest.push_str(&line);
            rest.push('\n');
        }
        let status = wait_bounded(&mut self.child);
        let stderr = self.stderr.join().unwrap();
        let Some(status) = status else {
            panic!("compare ran over {PATIENCE:?} (killed); stdout:\n{rest}\nstderr:\n{stderr}");
        };
        (rest, status, stderr)
    }
}

/// The timeline rows of `mode` in compare's output: the lines under
/// `mode:` that start with `  client`.
fn timeline_rows<'t>(out: &'t str, mode: &str) -> Vec<&'t str> {
    out.lines()
        .skip_while(|l| !l.starts_with(&format!("{mode}:")))
        .skip(1)
        .take_while(|l| l.starts_with("  client"))
        .collect()
}

/// A timeline row's cells: the 60 characters after the client's name.
fn cells(row: &str) -> &str {
    let start = "  client 0  ".len();
    &row[start..start + 60]
}

/// The lesson's experiment, shorter: each mode's row is on stdout before
/// the next mode has run (the serial row while the process still runs:
/// threads and pool still have 2 x 0.3 s of delays each to go), and the
/// timeline has a row per client per mode.
#[test]
fn rows_stream_as_each_mode_finishes_and_the_timeline_shows_every_client() {
    let mut live = Live::start(&[
        "--clients",
        "2",
        "--messages",
        "2",
        "--delay-ms",
        "300",
        "--timeline",
    ]);
    let mut seen = Vec::new();
    let serial_row = loop {
        let line = live
            .next_line()
            .unwrap_or_else(|| panic!("no serial row in {seen:#?}"));
        seen.push(line.clone());
        if line.starts_with("serial ") {
            break line;
        }
    };
    assert!(
        live.running(),
        "the serial row came only when compare had finished"
    );
    assert!(seen.iter().any(|l| l.starts_with("mode ")), "{seen:#?}");
    assert!(serial_row.contains("2/2"), "{serial_row}");
    let (rest, status, stderr) = live.finish();
    assert!(status.success(), "{stderr}\n{rest}");
    // The other modes' rows follow, in the order of Mode::ALL.
    let table: Vec<&str> = rest.lines().take(Mode::ALL.len() - 1).collect();
    for (row, mode) in table.iter().zip(&Mode::ALL[1..]) {
        assert!(row.starts_with(&format!("{mode} ")), "{rest}");
    }
    for mode in Mode::ALL.map(Mode::name) {
        let rows = timeline_rows(&rest, mode);
        assert_eq!(rows.len(), 2, "{mode}:\n{rest}");
        for (i, row) in rows.iter().enumerate() {
            assert!(row.starts_with(&format!("  client {i}  ")), "{rest}");
            assert!(
                cells(row).chars().all(|c| "#. ?".contains(c)),
                "{mode}: {row}"
            );
        }
    }
    assert!(rest.contains("legend: '#' being served"), "{rest}");

    // Who was served when: serial's second client waits ('.') while the
    // first is served, and is served only once the first is done; threads
    // serve both at once. Margins of a few cells (about 20 ms each).
    let first = |row: &str, c: char| cells(row).find(c);
    let last = |row: &str, c: char| cells(row).rfind(c);
    let serial = timeline_rows(&rest, "serial");
    let (waiter, served) = match (first(serial[0], '.'), first(serial[1], '.')) {
        (None, Some(_)) => (serial[1], serial[0]),
        (Some(_), None) => (serial[0], serial[1]),
        _ => panic!("serial: exactly one client must wait:\n{rest}"),
    };
    assert_eq!(first(served, '#'), Some(0), "served at once:\n{rest}");
    assert_eq!(
        first(waiter, '.'),
        Some(0),
        "the other waits from the start:\n{rest}"
    );
    let turn = first(waiter, '#').expect("the waiter is served in the end");
    let done = last(served, '#').unwrap();
    assert!(
        turn + 3 >= done,
        "serial: the second client was served before the first was done:\n{rest}"
    );
    let threads = timeline_rows(&rest, "threads");
    for row in &threads {
        assert!(first(row, '.').is_none(), "threads: nobody waits:\n{rest}");
        assert!(
            first(row, '#').unwrap() <= 2,
            "threads: served at once:\n{rest}"
        );
    }
    let overlap = (0..60).filter(|&i| threads.iter().all(|row| cells(row).as_bytes()[i] == b'#'));
    assert!(
        overlap.count() >= 10,
        "threads: both served side by side:\n{rest}"
    );
}

/// A path `--plot` or `--timeline-svg` cannot write is refused at once,
/// with one line and exit 2: with 60 s per mode, a run would outlast
/// PATIENCE.
#[test]
fn unwritable_picture_paths_are_refused_before_running() {
    let dir = temp_dir("compare-refuse");
    let missing = dir.join("missing").join("chart.svg");
    let jpg = dir.join("chart.jpg");
    let cases: [(&str, &Path, &str); 3] = [
        ("--plot", &missing, "does not exist"),
        ("--plot", &jpg, "must end in .svg or .png"),
        ("--timeline-svg", &missing, "does not exist"),
    ];
    for (flag, path, why) in cases {
        let mut child = Command::new(bin_path())
            .args(["compare", "--duration", "60", flag])
            .arg(path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_bounded(&mut child)
            .unwrap_or_else(|| panic!("{flag} {}: compare ran", path.display()));
        let mut out = String::new();
        let mut err = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(status.code(), Some(2), "{flag}: {err}");
        assert_eq!(out, "", "nothing runs, nothing is printed");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("error: {flag} ")) && err.contains(why),
            "{err}"
        );
        assert!(!jpg.exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--plot` and `--timeline-svg` write SVG or PNG by the file's extension;
/// CSV is streamed as a header and a row per mode.
#[test]
fn pictures_are_written_as_svg_and_png() {
    let dir = temp_dir("compare-pictures");
    for (chart, timeline) in [("chart.png", "timeline.svg"), ("chart.svg", "timeline.png")] {
        let (chart, timeline) = (dir.join(chart), dir.join(timeline));
        let live = Live::start(&[
            "--clients",
            "2",
            "--messages",
            "2",
            "--format",
            "csv",
            "--plot",
            chart.to_str().unwrap(),
            "--timeline-svg",
            timeline.to_str().unwrap(),
        ]);
        let (out, status, stderr) = live.finish();
        assert!(status.success(), "{stderr}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1 + Mode::ALL.len(), "{out}");
        assert!(
            lines[0].starts_with("label,") && lines[1].starts_with("serial,"),
            "{out}"
        );
        assert!(stderr.contains("Chart written to") && stderr.contains("Timeline written to"));
        for path in [&chart, &timeline] {
            let bytes = std::fs::read(path).unwrap();
            if path.extension().unwrap() == "png" {
                assert!(
                    bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
                    "{}",
                    path.display()
                );
                assert!(bytes.len() > 1000, "{}", path.display());
            } else {
                let svg = String::from_utf8(bytes).unwrap();
                assert!(
                    svg.contains("<svg") && svg.contains("pool"),
                    "{}",
                    path.display()
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
