//! Shared helpers for the command-line integration tests.
//!
//! Every test drives the `cohort-explorer` binary as a user or a script would:
//! fixture files are written into a fresh temporary directory, the project file
//! lives there too, and the JSON printed by `report --format json` is parsed and
//! checked against values worked out by hand from SPEC.md / CLI.md.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// No command of these small fixtures should take anywhere near this long;
/// a hang is a failure (SPEC section 8: never a hang).
const TIMEOUT: Duration = Duration::from_secs(120);

/// Floating-point tolerance for report values.
const EPS: f64 = 1e-6;

/// The captured result of one run of the binary.
pub struct Out {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub cmdline: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Panics with everything that was printed unless the command succeeded.
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.success(),
            "command failed: {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
            self.cmdline,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the command failed with a non-empty reason on stderr and
    /// without a Rust panic.
    pub fn assert_failed(&self) -> &Self {
        assert!(
            !self.success(),
            "command unexpectedly succeeded: {}\nstdout:\n{}\nstderr:\n{}",
            self.cmdline,
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.trim().is_empty(),
            "command failed without a reason on stderr: {}",
            self.cmdline
        );
        assert!(
            !self.stderr.contains("panicked"),
            "command panicked instead of refusing cleanly: {}\nstderr:\n{}",
            self.cmdline,
            self.stderr
        );
        self
    }
}

/// Runs a prepared command to its end, its output going to files (so a 10 MB message
/// cannot block a pipe), and fails the test if it takes longer than `timeout`.
pub fn finish_within(mut command: Command, timeout: Duration) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("{command:?} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    std::process::Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    }
}

/// Runs the binary with `args` in directory `cwd`, with a hard timeout.
pub fn run_in(cwd: &Path, args: &[&str]) -> Out {
    let cmdline = format!("cohort-explorer {}", args.join(" "));
    let mut child = Command::new(env!("CARGO_BIN_EXE_cohort-explorer"))
        .args(args)
        .current_dir(cwd)
        // Keep the tests headless and away from the user's real config.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_LOG")
        .env("XDG_CONFIG_HOME", cwd.join(".xdg-config"))
        .env("XDG_DATA_HOME", cwd.join(".xdg-data"))
        .env("XDG_CACHE_HOME", cwd.join(".xdg-cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"));

    let mut so = child.stdout.take().expect("stdout pipe");
    let mut se = child.stderr.take().expect("stderr pipe");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = so.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = se.read_to_end(&mut buf);
        buf
    });

    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("command hung for more than {TIMEOUT:?}: {cmdline}");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("waiting for {cmdline}: {e}"),
        }
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().expect("stdout reader")).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr reader")).into_owned();
    Out {
        status,
        stdout,
        stderr,
        cmdline,
    }
}

/// A project file in its own temporary directory, with fixtures beside it.
pub struct Project {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("test.cohort");
        Project { dir, path }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("utf-8 temp path")
    }

    /// Writes a fixture file (exact bytes of `contents`) beside the project.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents.as_bytes()).expect("write fixture");
        p
    }

    /// `s` with the temporary directory's path replaced by `DIR`, so that
    /// digits in a random temp name cannot be mistaken for line numbers.
    pub fn scrub(&self, s: &str) -> String {
        let d = self.dir.path().to_str().expect("utf-8 temp path");
        s.replace(d, "DIR")
    }

    /// Runs the binary in the project's directory.
    pub fn run(&self, args: &[&str]) -> Out {
        run_in(self.dir.path(), args)
    }

    /// `import PROJECT FILE --kind KIND EXTRA...`, whatever the outcome.
    pub fn try_import_file(&self, file: &Path, kind: &str, extra: &[&str]) -> Out {
        let file = file.to_str().expect("utf-8 temp path");
        let mut args = vec!["import", self.path_str(), file, "--kind", kind];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// Writes `contents` to `name` and imports it; whatever the outcome.
    pub fn try_import(&self, name: &str, contents: &str, kind: &str, extra: &[&str]) -> Out {
        let file = self.write(name, contents);
        self.try_import_file(&file, kind, extra)
    }

    /// Writes `contents` to `name` and imports it; the import must succeed.
    pub fn import(&self, name: &str, contents: &str, kind: &str, extra: &[&str]) -> Out {
        let out = self.try_import(name, contents, kind, extra);
        out.assert_ok();
        out
    }

    /// `settings PROJECT ARGS...`; must succeed.
    pub fn settings(&self, args: &[&str]) {
        let mut all = vec!["settings", self.path_str()];
        all.extend_from_slice(args);
        self.run(&all).assert_ok();
    }

    /// `report PROJECT ARGS... --format json`, parsed; must succeed.
    pub fn report_args(&self, args: &[&str]) -> Value {
        let mut all = vec!["report", self.path_str()];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json"]);
        let out = self.run(&all);
        out.assert_ok();
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "report output is not one JSON object ({e}): {}\n{}",
                out.cmdline, out.stdout
            )
        })
    }

    /// `report PROJECT --by BY --days DAYS --format json` (default grain).
    pub fn report(&self, by: &str, days: &str) -> Value {
        self.report_args(&["--by", by, "--days", days])
    }

    /// `report ... --by none`: returns the single group, checking it is `all`.
    pub fn report_all(&self, days: &str) -> Value {
        let r = self.report("none", days);
        let gs = groups(&r);
        assert_eq!(gs.len(), 1, "--by none must give exactly one group: {r:#}");
        assert_eq!(
            gs[0]["group"], "all",
            "--by none group is named `all`: {r:#}"
        );
        gs[0].clone()
    }
}

/// The `groups` array of a report.
pub fn groups(report: &Value) -> &Vec<Value> {
    report["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("report has no `groups` array: {report:#}"))
}

/// The group whose `group` name is exactly `name`.
pub fn group<'a>(report: &'a Value, name: &str) -> &'a Value {
    groups(report)
        .iter()
        .find(|g| g["group"].as_str() == Some(name))
        .unwrap_or_else(|| {
            let names: Vec<&Value> = groups(report).iter().map(|g| &g["group"]).collect();
            panic!("no group named {name:?}; groups are {names:?}\n{report:#}")
        })
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The campaign group of `--by campaign` for the (channel, campaign) pair,
/// compared trimmed and case-insensitive (the campaign is read from a
/// `campaign` key when present, else from the group name).
pub fn campaign_group<'a>(report: &'a Value, channel: &str, campaign: &str) -> &'a Value {
    groups(report)
        .iter()
        .find(|g| {
            let ch = g["channel"].as_str().map(norm);
            let ca = g["campaign"]
                .as_str()
                .or_else(|| g["group"].as_str())
                .map(norm);
            ch.as_deref() == Some(norm(channel).as_str())
                && ca.as_deref() == Some(norm(campaign).as_str())
        })
        .unwrap_or_else(|| panic!("no campaign group ({channel:?}, {campaign:?})\n{report:#}"))
}

/// The value at a dotted path such as `sessions_per_user.1`; every key on the
/// path must be present (a missing key is not the same as an explicit null).
pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for key in path.split('.') {
        cur = cur
            .as_object()
            .and_then(|o| o.get(key))
            .unwrap_or_else(|| panic!("missing key {key:?} (path {path:?}) in {v:#}"));
    }
    cur
}

/// Asserts the number at `path` equals `expected` (within 1e-6, relative for big values).
pub fn expect_num(v: &Value, path: &str, expected: f64) {
    let got = at(v, path);
    let x = got
        .as_f64()
        .unwrap_or_else(|| panic!("{path}: expected number {expected}, got {got} in {v:#}"));
    let tol = EPS * expected.abs().max(1.0);
    assert!(
        (x - expected).abs() <= tol,
        "{path}: expected {expected}, got {x} in {v:#}"
    );
}

/// Asserts the value at `path` is present and JSON `null`.
pub fn expect_null(v: &Value, path: &str) {
    let got = at(v, path);
    assert!(got.is_null(), "{path}: expected null, got {got} in {v:#}");
}

/// Asserts the string at `path` is an RFC 3339 timestamp for the same instant as `expected`.
pub fn expect_instant(v: &Value, path: &str, expected: &str) {
    let got = at(v, path);
    let s = got
        .as_str()
        .unwrap_or_else(|| panic!("{path}: expected a timestamp string, got {got}"));
    let g = chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{path}: {s:?} is not RFC 3339: {e}"));
    let e = chrono::DateTime::parse_from_rfc3339(expected).expect("test's own timestamp");
    assert_eq!(g, e, "{path}: expected instant {expected}, got {s}");
}

/// Sum of `installs` over all groups.
pub fn total_installs(report: &Value) -> f64 {
    groups(report)
        .iter()
        .map(|g| at(g, "installs").as_f64().expect("installs is a number"))
        .sum()
}

/// The maximal runs of ASCII digits in `s`, e.g. "line 12: x3" -> ["12", "3"].
pub fn digit_tokens(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// True when some line of `s` mentions `needle` and has the number `n` as a
/// whole token (so that "line 5" matches 5 but "15" does not).
pub fn some_line_has(s: &str, needle: &str, n: u64) -> bool {
    let n = n.to_string();
    s.lines()
        .any(|l| l.contains(needle) && digit_tokens(l).contains(&n))
}
