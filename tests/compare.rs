//! `tcpmodes compare` runs every mode in-process and reports each: the
//! lesson's demonstration, checked end to end through the binary.

mod common;

use std::process::Command;

use common::process::{bin_path, wait_bounded};
use common::{PATIENCE, temp_dir};

#[test]
fn compare_runs_every_mode_and_serial_takes_longest() {
    let dir = temp_dir("compare");
    let plot = dir.join("modes.svg");
    let mut child = Command::new(bin_path())
        .args([
            "compare",
            "--clients",
            "2",
            "--messages",
            "3",
            "--delay-ms",
            "300",
        ])
        .args(["--format", "json", "--plot"])
        .arg(&plot)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status =
        wait_bounded(&mut child).unwrap_or_else(|| panic!("compare ran over {PATIENCE:?}"));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{out}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let rows = rows.as_array().unwrap();
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["serial", "threads", "pool"]);
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
