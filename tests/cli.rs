//! The command line and the config files: precedence (defaults < file <
//! flags), the shipped files, and one clear line for each kind of mistake.

mod support;

use std::net::TcpListener;
use std::path::Path;

use support::{Binary, run_to_exit, temp_dir};
use tcpmodes::{Config, Framing, Mode};

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn shipped_config_toml_states_the_defaults() {
    let shipped = Config::from_file(&repo("config.toml")).unwrap();
    // Equal settings; where they were read from is not compared.
    assert_eq!(shipped, Config::default());
}

#[test]
fn presets_load_and_pick_their_mode() {
    for mode in Mode::ALL {
        let c = Config::from_file(&repo(&format!("modes/{mode}.toml"))).unwrap();
        assert_eq!(c.mode, mode);
    }
}

#[test]
fn flags_override_the_file_which_overrides_defaults() {
    let dir = temp_dir("precedence");
    let file = dir.join("my.toml");
    std::fs::write(
        &file,
        "address = \"127.0.0.1:0\"\nmode = \"pool\"\nworkers = 3\nframing = \"line\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let from_file = Binary::start(&["--config", f]);
    assert!(
        from_file.first_line.contains("mode pool, workers 3"),
        "{}",
        from_file.first_line
    );
    assert!(from_file.first_line.contains("framing line"));
    drop(from_file);
    let flags = Binary::start(&["--config", f, "--mode", "threads", "--framing", "length"]);
    assert!(
        flags.first_line.contains("mode threads"),
        "{}",
        flags.first_line
    );
    assert!(flags.first_line.contains("framing length"));
}

#[test]
fn config_toml_in_the_working_directory_is_read_without_flags() {
    let dir = temp_dir("cwd");
    std::fs::write(
        dir.join("config.toml"),
        "address = \"127.0.0.1:0\"\nframing = \"line\"\n",
    )
    .unwrap();
    let bin = Binary::start_in(&[], Some(&dir));
    assert!(
        bin.first_line.contains("framing line"),
        "{}",
        bin.first_line
    );
    assert!(
        bin.first_line.contains("config config.toml"),
        "{}",
        bin.first_line
    );
}

/// Runs the binary with `args` in `dir` and returns its one-line error.
fn error_line(args: &[&str], dir: &Path) -> (Option<i32>, String) {
    let (code, err) = run_to_exit(args, Some(dir));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {err}");
    assert!(!err.contains("panicked"), "{err}");
    (code, lines[0].to_string())
}

#[test]
fn each_config_mistake_is_one_line_naming_file_line_and_key() {
    let dir = temp_dir("mistakes");
    let cases: &[(&str, &str)] = &[
        (
            "workers = 0\n",
            "bad.toml:1: workers: must be from 1 to 4096, got 0",
        ),
        (
            "\n\nbacklog = 0\n",
            "bad.toml:3: backlog: must be from 1 to 65535, got 0",
        ),
        (
            "max_message_bytes = 0\n",
            "bad.toml:1: max_message_bytes: must be from 1",
        ),
        (
            "mode = \"forks\"\n",
            "bad.toml:1: mode: unknown variant `forks`",
        ),
        (
            "backlog = \"many\"\n",
            "bad.toml:1: backlog: invalid type: string \"many\"",
        ),
        ("# ok\nbaclog = 5\n", "bad.toml:2: unknown field `baclog`"),
        (
            "address = \"localhost\"\n",
            "bad.toml:1: address: `localhost` is not an address",
        ),
        ("mode = \n", "bad.toml:1:"),
        (
            "handler = \"chat\"\n",
            "bad.toml:1: handler: unknown handler `chat`; built in: echo",
        ),
    ];
    for (text, want) in cases {
        std::fs::write(dir.join("bad.toml"), text).unwrap();
        let (code, line) = error_line(&["--config", "bad.toml"], &dir);
        assert_eq!(code, Some(2), "{text:?}: {line}");
        assert!(
            line.starts_with(&format!("error: {want}")),
            "{text:?}: got {line:?}"
        );
    }
}

#[test]
fn bad_flags_and_missing_files_are_one_line_too() {
    let dir = temp_dir("flags");
    let (code, line) = error_line(&["--config", "missing.toml"], &dir);
    assert_eq!(code, Some(2));
    assert!(
        line.starts_with("error: missing.toml: cannot read config file: No such file"),
        "{line}"
    );
    let (code, line) = error_line(&["--workers", "0"], &dir);
    assert_eq!(code, Some(2));
    assert_eq!(
        line,
        "error: --workers: workers: must be from 1 to 4096, got 0"
    );
    let (code, line) = error_line(&["--addr", "127.0.0.1"], &dir);
    assert_eq!(code, Some(2));
    assert!(
        line.starts_with("error: --addr: address: `127.0.0.1` is not an address"),
        "{line}"
    );
    // clap's own errors for unknown values are short too (usage lines aside).
    let (code, err) = run_to_exit(&["--mode", "forks"], Some(&dir));
    assert_eq!(code, Some(2));
    assert!(err.contains("invalid value 'forks' for '--mode"), "{err}");
}

#[test]
fn port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = temp_dir("inuse");
    let (code, line) = error_line(&["--addr", &addr], &dir);
    assert_eq!(code, Some(1));
    assert_eq!(
        line,
        format!(
            "error: --addr: cannot listen on {addr}: Address already in use \
             (another server uses this port; pick another with --addr)"
        )
    );
}

#[test]
fn config_from_toml_reports_the_winning_source() {
    let c = Config::from_toml("framing = \"length\"\n", "x.toml").unwrap();
    assert_eq!(c.framing, Framing::Length);
    assert_eq!(c.origin("framing"), "x.toml:1");
    assert_eq!(c.origin("mode"), "default");
}

#[test]
fn the_lessons_python_client_passes_against_every_mode() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    // The copy of the lesson's client the README tells learners to run.
    let script = repo("scripts/lesson_client.py");
    for mode in Mode::ALL {
        let server = support::echo_server(mode, |_| {});
        let out = std::process::Command::new("python3")
            .arg(&script)
            .arg(server.local_addr().port().to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Welcome!\nReceived message1;\nReceived message2;\nReceived message3;\n\
             Received message4;\nReceived message5;\n",
            "{mode}"
        );
        let summary = server.stop();
        assert_eq!(summary.messages, 6);
    }
}

/// A program built on `run_cli_with` keeps its own defaults when started
/// from this repository, whose `config.toml` is written for the `tcpmodes`
/// binary (it says `framing = "raw"`; the uppercase example needs `line`).
#[test]
fn programs_of_their_own_do_not_read_the_binarys_config_toml() {
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("uppercase");
    if !example.exists() {
        eprintln!("skipped: {} not built", example.display());
        return;
    }
    let mut child = std::process::Command::new(&example)
        .args(["--addr", "127.0.0.1:0"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.contains("framing line"), "{line}");
    assert!(!line.contains("config.toml"), "{line}");
}
