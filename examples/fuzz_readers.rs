//! Bounded fuzzing of the readers, run by hand rather than in CI:
//!
//!     cargo run --release --example fuzz_readers -- --seconds 60 [--seed 7]
//!
//! Mutates a corpus of CSV, JSON-lines and gzip inputs (the vendor fixtures among them)
//! and runs each through format detection, mapping, presets and row reading. An input
//! that panics is saved under `tests/fixtures/fuzz/`, where `tests/robust_fuzz_fixtures.rs`
//! replays it on every `cargo test`. Prints inputs per second and what was found.

use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cohort_explorer::demo::Rng;
use cohort_explorer::import::{self, ImportOptions, TimeColumn};

/// Bytes that matter to the readers.
const INTERESTING: &[&[u8]] = &[
    b",",
    b";",
    b"\t",
    b"\"",
    b"\n",
    b"\r\n",
    b"\0",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"-",
    b"9999999999999999999999",
    b"-262143-01-01",
    b"1e400",
    b"NaN",
    b"\xff\xfe",
    b"\xe9",
    b"2024-03-31 02:30:00",
    b"+14:00",
    b"Z",
    b"{activity_kind}",
    b"AppsFlyer ID",
];

/// An index below `n`.
fn pick(rng: &mut Rng, n: usize) -> usize {
    usize::try_from(rng.below(n as u64)).unwrap_or(0)
}

fn corpus() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = vec![
        b"user_id,session_start,duration\nu1,2024-01-01 10:00:00,60\n".to_vec(),
        b"user_id;event_time;event_name\r\nu1;1704103200;open\r\nu2;1704103260;tap\r\n".to_vec(),
        b"{\"user_id\":\"u1\",\"event_time\":\"2024-01-01T10:00:00Z\",\"geo\":{\"country\":\"DE\"}}\n".to_vec(),
        b"date,channel,campaign,amount,currency\n2024-01-01,fb,c1,10.5,EUR\n".to_vec(),
    ];
    let vendors = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vendors");
    if let Ok(entries) = std::fs::read_dir(vendors) {
        for entry in entries.flatten() {
            if let Ok(bytes) = std::fs::read(entry.path()) {
                seeds.push(bytes);
            }
        }
    }
    seeds
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    for _ in 0..=pick(rng, 4) {
        let at = pick(rng, input.len() + 1);
        match pick(rng, 6) {
            0 if !input.is_empty() => {
                let i = pick(rng, input.len());
                input[i] ^= 1 << pick(rng, 8);
            }
            1 => {
                let piece = INTERESTING[pick(rng, INTERESTING.len())];
                input.splice(at..at, piece.iter().copied());
            }
            2 if at < input.len() => {
                let end = (at + pick(rng, 32)).min(input.len());
                input.drain(at..end);
            }
            3 if at < input.len() => {
                let end = (at + pick(rng, 64)).min(input.len());
                let chunk = input[at..end].to_vec();
                input.splice(at..at, chunk);
            }
            4 => input.truncate(at),
            _ => input.push(u8::try_from(pick(rng, 256)).unwrap_or(0)),
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Everything the readers do with a file short of writing a project.
fn read_everything(path: &Path) {
    let options = ImportOptions::default();
    let Ok((plan, mut source, _)) = import::plan_leniently(path, &options) else {
        return;
    };
    let mut reader = plan.reader(chrono_tz::Europe::Berlin, import::DurationUnit::Seconds);
    while let Some(Ok(next)) = source.next_record() {
        if let Ok(record) = next {
            let _ = reader.read(record.line, &record.fields);
            for field in &record.fields {
                let _ = TimeColumn::default().read(field, chrono_tz::Asia::Kolkata);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let seconds = value("--seconds", 30);
    let mut rng = Rng::seeded(value("--seed", 7));
    let out_dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let work = std::env::temp_dir().join(format!("cohort-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&work);
    std::panic::set_hook(Box::new(|_| {}));

    let seeds = corpus();
    let started = Instant::now();
    let (mut runs, mut crashes) = (0u64, 0u64);
    while started.elapsed() < Duration::from_secs(seconds) {
        let mut input = seeds[pick(&mut rng, seeds.len())].clone();
        mutate(&mut rng, &mut input);
        if pick(&mut rng, 8) == 0 {
            input = gzip(&input);
            if pick(&mut rng, 2) == 0 {
                let cut = pick(&mut rng, input.len() + 1);
                input.truncate(cut);
            }
        }
        let path = work.join("input");
        if std::fs::write(&path, &input).is_err() {
            break;
        }
        runs += 1;
        if catch_unwind(AssertUnwindSafe(|| read_everything(&path))).is_err() {
            crashes += 1;
            let name = format!("crash-{:016x}.bin", rng.next_u64());
            let _ = std::fs::create_dir_all(&out_dir);
            let _ = std::fs::write(out_dir.join(&name), &input);
            eprintln!("panic on an input saved as tests/fixtures/fuzz/{name}");
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    let elapsed = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let rate = runs as f64 / elapsed.max(1e-9);
    println!(
        "fuzz_readers: {runs} inputs in {elapsed:.1} s ({rate:.0} inputs/s), {crashes} panics"
    );
    if crashes > 0 {
        std::process::exit(1);
    }
}
