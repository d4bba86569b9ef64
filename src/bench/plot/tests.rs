//! The chart drawn from made-up and lesson reports, checked in its SVG text
//! and its size.

use super::text::*;
use super::*;
use crate::bench::report::{SCHEMA_VERSION, Spread};
use crate::bench::tally::ErrorCounts;

/// A synthetic report: `answered` of `clients` served (1000 replies
/// each, p99 latency 73 µs), the others waiting the whole `secs`.
/// Built from JSON, so fields added to the report later (with their
/// serde defaults) need no change here.
pub(in crate::bench) fn report(clients: usize, answered: u64, secs: f64) -> BenchReport {
    let wait = if answered < clients as u64 {
        (secs * 1e6) as u64
    } else {
        120
    };
    let never = clients as u64 - answered;
    serde_json::from_value(serde_json::json!({
        "version": SCHEMA_VERSION, "addr": "127.0.0.1:1", "clients": clients,
        "threads": clients, "framing": "raw", "protocol": "echo", "size": 64,
        "churn": false, "messages_per_client": null, "warmup_secs": 0.0,
        "duration_secs": secs, "sent": 1000 * answered, "replies_ok": 1000 * answered,
        "abandoned": 0, "connections": clients, "clients_answered": answered,
        "errors": ErrorCounts::default(),
        "msgs_per_sec": 1000.0 * answered as f64 / secs, "conns_per_sec": 0.0,
        "latency_us": p99(73), "clients_unanswered": never, "wait_us": p99(wait),
        "unanswered": never, "rate": null,
    }))
    .expect("a report")
}

/// A summary of 10 samples whose p99 is `p99` µs.
fn p99(p99: u64) -> serde_json::Value {
    serde_json::json!({
        "samples": 10, "p50": p99 / 2, "p90": p99 * 9 / 10, "p99": p99,
        "p999": p99, "max": p99, "mean": p99 as f64 / 2.0,
    })
}

fn summary(p99_us: u64) -> LatencySummary {
    serde_json::from_value(p99(p99_us)).expect("a summary")
}

/// The lesson's default comparison, as the chart should tell it.
pub(in crate::bench) fn lesson_rows() -> Vec<(String, BenchReport)> {
    vec![
        ("serial".into(), report(4, 1, 3.0)),
        ("threads".into(), report(4, 4, 3.0)),
        ("pool".into(), report(4, 2, 3.0)),
    ]
}

/// Every mode of a default `compare`, figures like those of
/// `docs/compare.png`, with each request's queue wait as compare's
/// own servers log it, over 5 runs.
fn all_modes_repeated() -> Vec<(String, BenchReport)> {
    let mode = |answered: u64, msgs: f64, lat: u64, wait: u64, queue: u64| {
        let mut r = report(4, answered, 3.0);
        r.msgs_per_sec = msgs;
        r.latency_us = summary(lat);
        if answered == 4 {
            r.wait_us = summary(wait);
        }
        r.queue_us = Some(summary(queue));
        let m = |v: f64, lo: f64, hi: f64| MinMedianMax {
            min: v * lo,
            median: v,
            max: v * hi,
        };
        r.repeat = Some(Spread {
            runs: 5,
            msgs_per_sec: m(msgs, 0.8, 1.15),
            latency_p99_us: m(lat as f64, 0.7, 1.4),
            wait_p99_us: m(r.wait_us.p99 as f64, 0.9, 1.1),
            queue_p99_us: Some(m(queue as f64, 0.5, 1.5)),
            clients_answered: m(answered as f64, 1.0, 1.0),
        });
        r
    };
    vec![
        ("serial".into(), mode(1, 18_959.0, 116, 0, 3)),
        ("threads".into(), mode(4, 259_796.0, 61, 556, 2)),
        ("pool".into(), mode(2, 410_416.0, 5, 0, 1)),
        ("event".into(), mode(4, 215_452.0, 107, 876, 90)),
        ("event-workers".into(), mode(4, 226_927.0, 118, 664, 2_100)),
    ]
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("tcpmodes-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Draws `rows` as SVG and PNG: the SVG's text, and the PNG's width
/// and height. With `KEEP_PLOT=DIR`, the PNG is kept there as `name`.
fn draw(rows: &[(String, BenchReport)], name: &str) -> (String, (u32, u32)) {
    let params = RunParams::from_reports(rows).unwrap();
    let svg = temp(&format!("{name}.svg"));
    plot(rows, &params, &svg).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    let png = temp(name);
    plot(rows, &params, &png).unwrap();
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    if let Some(keep) = std::env::var_os("KEEP_PLOT") {
        let _ = std::fs::copy(&png, Path::new(&keep).join(name));
    }
    let _ = std::fs::remove_file(&svg);
    let _ = std::fs::remove_file(&png);
    (text, (be(16), be(20)))
}

#[test]
fn the_chart_is_written_as_svg_and_png() {
    let (text, (width, height)) = draw(&lesson_rows(), "chart.png");
    for needle in [
        "<svg",
        "serial",
        "Clients served",
        "1/4",
        "4/4",
        "2/4",
        "3 never served",
        "all served",
        "only 1 of 4 served",
        "only 2 of 4 served",
        "wait (s)",
        "latency (µs)",
        "Throughput (higher is better)",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    assert!(!text.contains("median of"), "one run is no median");
    // Panels stacked, not side by side: as wide as a README shows it.
    assert_eq!(width, WIDTH);
    assert!(height > width, "{width}x{height}");
}

/// The sizes are checked where they are set (a `const` assertion);
/// the default modes' names keep their full size, in one line.
#[test]
fn text_is_large_enough_to_read_at_readme_width() {
    let chart = Chart::new(&all_modes_repeated(), None).unwrap();
    draw(&lesson_rows(), "font.png"); // registers the embedded font
    let names = chart.names();
    assert_eq!((names.px, names.rows()), (NAME_PX, 1));
}

#[test]
fn a_mode_that_left_clients_unserved_has_its_bars_marked() {
    let chart = Chart::new(&lesson_rows(), None).unwrap();
    let [wait, throughput, latency] = &chart.panels;
    for panel in [throughput, latency] {
        let pale: Vec<bool> = panel.groups.iter().map(|g| g.bars[0].pale).collect();
        assert_eq!(pale, [true, false, true], "{}", panel.title);
        let notes: Vec<Option<&str>> = panel.groups.iter().map(|g| g.note.as_deref()).collect();
        assert_eq!(
            notes,
            [Some("only 1 of 4 served"), None, Some("only 2 of 4 served")]
        );
    }
    // The wait panel shows what the unserved lived through, plainly.
    assert!(
        wait.groups
            .iter()
            .all(|g| !g.bars[0].pale && g.note.is_none())
    );
    assert_eq!(wait.groups[0].bars[0].label, "3.00 s");
    let served: Vec<(String, bool)> = chart
        .served
        .iter()
        .map(|s| (s.fraction(), s.short()))
        .collect();
    assert_eq!(
        served,
        [
            ("1/4".to_string(), true),
            ("4/4".to_string(), false),
            ("2/4".to_string(), true)
        ]
    );
    let mut none = lesson_rows();
    none[0].1 = report(4, 0, 3.0);
    let chart = Chart::new(&none, None).unwrap();
    assert_eq!(
        chart.panels[1].groups[0].note.as_deref(),
        Some("none of 4 served")
    );
}

#[test]
fn a_request_waiting_for_a_worker_is_drawn_as_waiting() {
    let mut rows = lesson_rows();
    rows[2].1.queue_us = Some(summary(2_000_000));
    let chart = Chart::new(&rows, None).unwrap();
    let wait = &chart.panels[0];
    assert_eq!(wait.legend.len(), 2);
    assert!(
        wait.legend[1]
            .1
            .starts_with("waited for a worker or a loop")
    );
    let bars: Vec<(&str, RGBColor)> = wait.groups[2]
        .bars
        .iter()
        .map(|b| (b.label.as_str(), b.color))
        .collect();
    assert_eq!(bars, [("3.00 s", WAIT_COLOR), ("2.00 s", QUEUE_COLOR)]);
    // Not logged (a server outside) is said, not drawn as 0 µs.
    assert_eq!(wait.groups[0].bars[1].label, "not known");
    let (text, _) = draw(&rows, "queue.png");
    for needle in [
        "waited to be served",
        "waited for a worker or a loop",
        "Queue:",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
    // Without a queue, one bar per mode and no legend.
    let chart = Chart::new(&lesson_rows(), None).unwrap();
    assert!(chart.panels[0].legend.is_empty());
    assert!(chart.panels[0].groups.iter().all(|g| g.bars.len() == 1));
}

#[test]
fn repeated_runs_are_medians_with_whiskers() {
    let rows = all_modes_repeated();
    let chart = Chart::new(&rows, None).unwrap();
    for panel in &chart.panels {
        assert!(panel.title.contains("median of 5 runs"), "{}", panel.title);
        for bar in panel.groups.iter().flat_map(|g| &g.bars) {
            let (lo, hi) = bar.range.expect("a whisker");
            assert!(lo <= bar.value && bar.value <= hi, "{bar:?}");
        }
    }
    let throughput = &chart.panels[1].groups[1].bars[0];
    assert_eq!(throughput.label, "259796/s");
    assert_eq!(throughput.range, Some((259_796.0 * 0.8, 259_796.0 * 1.15)));
    let (text, _) = draw(&rows, "repeat.png");
    assert!(text.contains("median of 5 runs"));
    assert!(text.contains("whisker"));
    // Runs that served different counts say so.
    let mut rows = lesson_rows();
    rows[2].1.repeat = Some(Spread {
        runs: 3,
        clients_answered: MinMedianMax {
            min: 1.0,
            median: 2.0,
            max: 4.0,
        },
        ..Spread::default()
    });
    let served = Served::of(&rows[2].1);
    assert_eq!(served.fraction(), "1–4/4");
    assert_eq!(served.note().as_deref(), Some("only 1–4 of 4 served"));
    assert_eq!(served.verdict(), "up to 3 never served");
}

/// The figures and notes over each bar fit under the axis' top.
#[test]
fn every_label_has_room_over_its_bar() {
    for rows in [lesson_rows(), all_modes_repeated()] {
        let chart = Chart::new(&rows, None).unwrap();
        for panel in &chart.panels {
            let top = chart.axis_top(panel).top();
            for group in &panel.groups {
                for bar in &group.bars {
                    let bar_px = bar.reach() / top * f64::from(PLOT_HEIGHT);
                    let stack = f64::from(chart.label_stack(group, bar));
                    assert!(
                        bar_px + stack <= f64::from(PLOT_HEIGHT) + 0.5,
                        "{}: {bar:?}",
                        panel.title
                    );
                }
            }
        }
    }
}

#[test]
fn many_modes_with_long_names_still_draw() {
    let rows: Vec<(String, BenchReport)> = [
        "serial",
        "threads",
        "pool",
        "event",
        "event-workers",
        "py-serial",
        "py-threads",
        "tokio-baseline",
        "rayon",
    ]
    .iter()
    .enumerate()
    .map(|(i, name)| (name.to_string(), report(4, (i % 5) as u64, 3.0)))
    .collect();
    let (text, (width, _)) = draw(&rows, "many.png");
    assert_eq!(width, WIDTH);
    assert!(text.contains("tokio-") && text.contains("baseline"));
    assert!(text.contains("none of 4"));
    // Nine columns: long names in two lines, not shrunk to nothing.
    let names = Chart::new(&rows, None).unwrap().names();
    assert!(names.px >= 15, "{}", names.px);
    assert_eq!(names.lines[7], ["tokio-", "baseline"]);
    assert_eq!(names.lines[0], ["serial"]);
}

#[test]
fn long_text_is_wrapped_to_the_width() {
    draw(&lesson_rows(), "wrap.png"); // registers the embedded font
    let caption = "handler echo, 4 clients, 3.00 s per mode, 64-byte messages, framing \
                   raw, no delay, pool workers 2, event loops 2, warm-up 500 ms, closed loop";
    let lines = wrap(caption, TEXT_PX, WIDTH - 2 * SIDE);
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| text_width(l, TEXT_PX) <= WIDTH - 2 * SIDE)
    );
    assert_eq!(
        lines.join(" "),
        caption.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    assert_eq!(wrap("", TEXT_PX, 100), [""]);
    // The caption breaks after a comma, into lines of even length.
    let lines = balance(caption, TEXT_PX, WIDTH - 2 * SIDE);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with(','), "{lines:?}");
    let widths: Vec<u32> = lines.iter().map(|l| text_width(l, TEXT_PX)).collect();
    assert!(widths[0].abs_diff(widths[1]) < 200, "{lines:?}");
    assert_eq!(
        lines.join(" "),
        caption.split_whitespace().collect::<Vec<_>>().join(" ")
    );
}

#[test]
fn one_mode_and_churn_draw() {
    let mut r = report(2, 2, 1.0);
    r.churn = true;
    r.conns_per_sec = 250.0;
    let rows = vec![("threads".to_string(), r)];
    let chart = Chart::new(&rows, None).unwrap();
    assert_eq!(chart.panels[1].axis, "connections per second");
    assert_eq!(chart.panels[1].groups[0].bars[0].label, "250/s");
    let (text, (width, _)) = draw(&rows, "one.png");
    assert_eq!(width, WIDTH);
    assert!(text.contains("2/2") && text.contains("all served"));
}

#[test]
fn names_break_after_a_dash() {
    draw(&lesson_rows(), "names.png"); // registers the embedded font
    assert_eq!(break_name("event-workers", 16, 500), ["event-workers"]);
    assert_eq!(break_name("event-workers", 16, 70), ["event-", "workers"]);
    assert_eq!(break_name("py serial", 16, 40), ["py", "serial"]);
    assert_eq!(break_name("x", 16, 1), ["x"]);
    assert_eq!(break_name("", 16, 100), [""]);
}

#[test]
fn nothing_to_plot_is_an_error() {
    assert!(plot_svg(&[], &temp("empty.svg")).is_err());
}
