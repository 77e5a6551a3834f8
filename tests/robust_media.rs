//! Projects on media that cannot take a write: a read-only mount opens read-only with a
//! clear note, and a full disk fails an import cleanly with the earlier data intact.
//! These tests mount file systems, so they need root, as CI and the developers have.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cohort_explorer::store::Project;

const SESSIONS: &str =
    "user_id,session_start,duration\nu1,2024-01-01 10:00:00,60\nu2,2024-01-02 11:00:00,90\n";

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cohort-explorer"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status().unwrap();
    assert!(
        status.success(),
        "{program} {args:?} failed: these tests need root to mount"
    );
}

/// Unmounts when dropped, whatever the test did.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn project_with_sessions(dir: &Path) -> PathBuf {
    let csv = dir.join("sessions.csv");
    std::fs::write(&csv, SESSIONS).unwrap();
    let project = dir.join("p.cohort");
    let out = cli(&["import", project.to_str().unwrap(), csv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    project
}

#[test]
fn a_project_on_a_read_only_mount_opens_read_only_and_refuses_writes() {
    let source = tempfile::tempdir().unwrap();
    project_with_sessions(source.path());
    let view = tempfile::tempdir().unwrap();
    let target = view.path().to_str().unwrap();
    run(
        "mount",
        &["--bind", source.path().to_str().unwrap(), target],
    );
    let _mount = Mount(view.path().to_owned());
    run("mount", &["-o", "remount,ro,bind", target]);
    let project = view.path().join("p.cohort");
    let p = project.to_str().unwrap();

    // Reading works, and the project says it is read-only.
    let opened = Project::open(&project).unwrap();
    assert!(opened.is_read_only());
    assert_eq!(opened.load_dataset().unwrap().sessions.len(), 2);
    let report = cli(&["report", p]);
    assert!(report.status.success(), "{}", stderr(&report));

    // Writing is refused by name, not with an SQLite error code.
    let more = source.path().join("more.csv");
    std::fs::write(
        &more,
        "user_id,session_start,duration\nu3,2024-01-03 10:00:00,30\n",
    )
    .unwrap();
    for args in [
        vec!["import", p, more.to_str().unwrap()],
        vec!["settings", p, "--timeout", "10"],
    ] {
        let out = cli(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let message = stderr(&out);
        assert!(
            message.contains("p.cohort") && message.contains("read-only"),
            "{message}"
        );
    }
}

#[test]
fn a_full_disk_fails_the_import_and_keeps_the_earlier_data() {
    let small = tempfile::tempdir().unwrap();
    let target = small.path().to_str().unwrap();
    run("mount", &["-t", "tmpfs", "-o", "size=1m", "tmpfs", target]);
    let _mount = Mount(small.path().to_owned());
    let project = project_with_sessions(small.path());
    let p = project.to_str().unwrap();
    let before = cli(&["report", p]);
    assert!(before.status.success());

    // About 6 MB of sessions cannot fit in the 1 MB file system.
    let elsewhere = tempfile::tempdir().unwrap();
    let big = elsewhere.path().join("big.csv");
    let mut text = String::from("user_id,session_start,duration\n");
    for i in 0..150_000 {
        text.push_str(&format!(
            "user{i:06},2024-02-{:02} 10:00:00,{}\n",
            1 + i % 28,
            10 + i % 500
        ));
    }
    std::fs::write(&big, text).unwrap();
    let out = cli(&["import", p, big.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert!(message.contains("full"), "{message}");
    assert!(!message.contains("panicked"), "{message}");

    // The project is as it was: same report, intact, the failed import not logged.
    let after = cli(&["report", p]);
    assert!(after.status.success(), "{}", stderr(&after));
    assert_eq!(after.stdout, before.stdout);
    let conn = rusqlite::Connection::open(&project).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let imports: i64 = conn
        .query_row("SELECT count(*) FROM imports", [], |r| r.get(0))
        .unwrap();
    assert_eq!(imports, 1);
}
