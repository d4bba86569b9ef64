//! The command line and the config files: precedence (defaults < file <
//! flags), the shipped files, and one clear line on stderr with a non-zero
//! exit for each kind of mistake at start-up, never a panic.

mod common;

use std::net::TcpListener;
use std::path::Path;

#[cfg(unix)]
use common::is_root;
use common::process::{Process, bin_command, example_command, example_path, run_to_exit};
use common::{repo_path, temp_dir};
use tcpmodes::{Config, Framing, Mode};

#[test]
fn shipped_config_toml_states_the_defaults() {
    let shipped = Config::from_file(&repo_path("config.toml")).unwrap();
    // Equal settings; where they were read from is not compared.
    assert_eq!(shipped, Config::default());
}

#[test]
fn presets_load_and_pick_their_mode() {
    for mode in Mode::ALL {
        let c = Config::from_file(&repo_path(&format!("modes/{mode}.toml"))).unwrap();
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
    let from_file = Process::bin(&["--config", f]);
    assert!(
        from_file.banner.contains("mode pool, workers 3"),
        "{}",
        from_file.banner
    );
    assert!(from_file.banner.contains("framing line"));
    drop(from_file);
    let flags = Process::bin(&["--config", f, "--mode", "threads", "--framing", "length"]);
    assert!(flags.banner.contains("mode threads"), "{}", flags.banner);
    assert!(flags.banner.contains("framing length"));
}

#[test]
fn config_toml_in_the_working_directory_is_read_without_flags() {
    let dir = temp_dir("cwd-config");
    std::fs::write(
        dir.join("config.toml"),
        "address = \"127.0.0.1:0\"\nframing = \"line\"\n",
    )
    .unwrap();
    let mut cmd = bin_command(&[]);
    cmd.current_dir(&dir);
    let bin = Process::start(cmd);
    assert!(bin.banner.contains("framing line"), "{}", bin.banner);
    assert!(bin.banner.contains("config config.toml"), "{}", bin.banner);
}

/// A program built on `Program::defaults` keeps its own defaults when started
/// from this repository, whose `config.toml` is written for the `tcpmodes`
/// binary (it says `framing = "raw"`; the uppercase example needs `line`).
#[test]
fn programs_of_their_own_do_not_read_the_binarys_config_toml() {
    if !example_path("uppercase").exists() {
        eprintln!("skipped: {} not built", example_path("uppercase").display());
        return;
    }
    let mut cmd = example_command("uppercase", &[]);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    let line = Process::start(cmd).banner.clone();
    assert!(line.contains("framing line"), "{line}");
    assert!(!line.contains("config.toml"), "{line}");
}

#[test]
fn config_from_toml_reports_the_winning_source() {
    let c = Config::from_toml("framing = \"length\"\n", "x.toml").unwrap();
    assert_eq!(c.framing, Framing::Length);
    assert_eq!(c.origin("framing"), Some("x.toml:1"));
    assert_eq!(c.origin("mode"), None, "a default is blamed on nobody");
}

// ------------------------------------------------------------- mistakes

/// Runs the binary with `args` in `dir` to its exit; returns the exit code
/// and its stderr, which must be one line, never a panic or a backtrace.
fn error_line(args: &[&str], dir: &Path) -> (Option<i32>, String) {
    let mut cmd = bin_command(args);
    cmd.current_dir(dir);
    let err = run_to_exit(cmd);
    let lines: Vec<&str> = err.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{args:?}: expected one line, got: {}",
        err.stderr
    );
    assert!(
        !err.stderr.contains("panicked") && !err.stderr.contains("RUST_BACKTRACE"),
        "{args:?}: {}",
        err.stderr
    );
    (err.code, lines[0].to_string())
}

/// A start-up problem: one line, `error: ` and every one of `expect`, and
/// a non-zero exit.
fn one_line_error(args: &[&str], dir: &Path, expect: &[&str]) {
    let (code, line) = error_line(args, dir);
    assert!(matches!(code, Some(c) if c != 0), "{args:?}: exit {code:?}");
    assert!(line.starts_with("error: "), "{args:?}: {line:?}");
    for e in expect {
        assert!(line.contains(e), "{args:?}: {line:?} lacks {e:?}");
    }
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
        ("# ok\nbaclog = 5\n", "bad.toml:2: unknown setting `baclog`"),
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
    // The system's own words follow: "No such file or directory" on Unix.
    let text = if cfg!(unix) { "No such file" } else { "" };
    assert!(
        line.starts_with(&format!(
            "error: missing.toml: cannot read config file: {text}"
        )),
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
    let mut cmd = bin_command(&["--mode", "forks"]);
    cmd.current_dir(&dir);
    let exit = run_to_exit(cmd);
    assert_eq!(exit.code, Some(2));
    assert!(
        exit.stderr.contains("invalid value 'forks' for '--mode"),
        "{}",
        exit.stderr
    );
}

#[test]
fn port_in_use_is_one_line_and_exit_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = temp_dir("inuse");
    let (code, line) = error_line(&["--addr", &addr], &dir);
    assert_eq!(code, Some(1));
    // The system's words in the middle: Unix's are checked; Windows says
    // "Only one usage of each socket address ... is normally permitted".
    let text = if cfg!(unix) {
        "Address already in use "
    } else {
        ""
    };
    let (head, tail) = (
        format!("error: --addr: cannot listen on {addr}: {text}"),
        "(another server uses this port; pick another with --addr)",
    );
    assert!(line.starts_with(&head) && line.ends_with(tail), "{line}");
}

/// Every start-up problem, in every mode: one line on stderr naming the
/// problem and where it came from, and a non-zero exit.
#[test]
fn start_up_errors_are_one_line_and_a_non_zero_exit() {
    let dir = temp_dir("start-up-errors");
    let file = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let malformed = file("malformed.toml", "mode = \"threads\"\nworkers = [\n");
    let backlog0 = file("backlog0.toml", "backlog = 0\n");
    let workers0 = file("workers0.toml", "# pool\nworkers = 0\n");
    let max0 = file("max0.toml", "\n\nmax_message_bytes = 0\n");
    let missing = dir.join("missing.toml").to_string_lossy().into_owned();
    let a_dir = dir.to_string_lossy().into_owned();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_addr = taken.local_addr().unwrap().to_string();
    let fails = |args: &[&str], expect: &[&str]| one_line_error(args, &dir, expect);

    for mode in Mode::ALL {
        let m = mode.name();
        // The hint, not the system's text ("Address already in use" on
        // Unix, "Only one usage of each socket address" on Windows).
        fails(
            &["--mode", m, "--addr", &taken_addr],
            &[&taken_addr, "another server uses this port"],
        );
        // Linux only: macOS and Windows let anyone bind below 1024.
        #[cfg(target_os = "linux")]
        if is_root() {
            eprintln!("skipped the port-80 case: root may bind below 1024");
        } else {
            fails(
                &["--mode", m, "--addr", "127.0.0.1:80"],
                &["127.0.0.1:80", "ermission denied"],
            );
        }
        fails(
            &["--mode", m, "--addr", "127.0.0.1"],
            &["--addr", "127.0.0.1"],
        );
        fails(
            &["--mode", m, "--addr", "127.0.0.1:99999"],
            &["--addr", "99999"],
        );
        fails(
            &["--mode", m, "--addr", "no-such-host.invalid:9999"],
            &["--addr", "no-such-host.invalid"],
        );
        fails(
            &["--mode", m, "--config", &missing],
            &[&missing, "cannot read"],
        );
        fails(&["--mode", m, "--config", &a_dir], &[&a_dir, "cannot read"]);
        fails(&["--mode", m, "--config", &malformed], &["malformed.toml:"]);
        fails(
            &["--mode", m, "--config", &backlog0],
            &["backlog0.toml:1", "backlog", "got 0"],
        );
        fails(
            &["--mode", m, "--config", &workers0],
            &["workers0.toml:2", "workers", "got 0"],
        );
        fails(
            &["--mode", m, "--config", &max0],
            &["max0.toml:3", "max_message_bytes", "got 0"],
        );
        fails(&["--mode", m, "--backlog", "0"], &["--backlog", "got 0"]);
        fails(&["--mode", m, "--workers", "0"], &["--workers", "got 0"]);
        fails(
            &["--mode", m, "--max-message-bytes", "0"],
            &["--max-message-bytes", "got 0"],
        );
    }
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A config file the server may not read (mode 000) is reported like a
/// missing one. Root reads any file, so the case is skipped as root.
// Unix: file modes (`PermissionsExt`); Windows has ACLs instead.
#[cfg(unix)]
#[test]
fn unreadable_config_file_is_one_line() {
    if is_root() {
        eprintln!("skipped: root can read a mode-000 file");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("unreadable");
    let p = dir.join("000.toml");
    std::fs::write(&p, "mode = \"pool\"\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
    let path = p.to_string_lossy().into_owned();
    one_line_error(&["--config", &path], &dir, &[&path, "ermission denied"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Windows has no SO_REUSEPORT: asking for several processes, or for the
/// port to be shared, is one clear line (not "another server uses this
/// port" from the second process's bind).
#[cfg(windows)]
#[test]
fn processes_and_reuse_port_are_refused_on_windows() {
    let dir = temp_dir("no-reuse-port");
    for args in [&["--processes", "2"][..], &["--reuse-port"][..]] {
        one_line_error(args, &dir, &[args[0], "Windows has no SO_REUSEPORT"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
