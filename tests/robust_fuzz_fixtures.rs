//! Replays every input the fuzzer (`examples/fuzz_readers.rs`) ever saved, plus inputs
//! that once broke the readers, through import into a fresh project: none may panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::atomic::AtomicBool;

use cohort_explorer::import::{self, ImportOptions};
use cohort_explorer::store::Project;

#[test]
fn saved_fuzz_inputs_import_or_fail_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "bin" || e == "csv" || e == "jsonl")
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "the regression inputs are missing from {}",
        dir.display()
    );
    for file in files {
        let work = tempfile::tempdir().unwrap();
        let mut project = Project::create(&work.path().join("p.cohort")).unwrap();
        for tz in ["UTC", "Asia/Kolkata", "America/New_York"] {
            let options = ImportOptions {
                tz: Some(tz.to_owned()),
                on_bad_rows: import::OnBadRows::Skip,
                ..ImportOptions::default()
            };
            // Either outcome is fine; a panic fails the test with the file's name.
            let _ = import::import_file(
                &mut project,
                &file,
                &options,
                &AtomicBool::new(false),
                &mut |_| {},
            );
        }
        let data = project.load_dataset().unwrap();
        let prepared = cohort_explorer::metrics::Prepared::new(&data);
        let _ = cohort_explorer::metrics::report(
            &prepared,
            &cohort_explorer::metrics::ReportRequest::default(),
        );
    }
}
