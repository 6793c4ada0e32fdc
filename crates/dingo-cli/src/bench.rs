//! `dingo bench ...`: benchmarks. Each prints a table, and with `--json` one
//! JSON object as its last line.

use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tingu::{Library, synth};

/// The benchmarks.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Cost per message of a protocol observer on long generated traces of a
    /// component, next to the same loop with no observer.
    Observer {
        /// The spec library folder.
        #[arg(long, default_value = "specs")]
        specs: PathBuf,
        /// The component whose traces are replayed.
        #[arg(long, default_value = "asix")]
        component: String,
        /// Number of generated walks.
        #[arg(long, default_value_t = 200)]
        walks: usize,
        /// Steps per walk (walks end earlier if the component terminates).
        #[arg(long, default_value_t = 2000)]
        steps: usize,
        /// Timed repetitions (the median is reported).
        #[arg(long, default_value_t = 7)]
        runs: usize,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
    /// Time to load, parse and check the spec library and a generated large spec.
    Tingu {
        /// The spec library folder.
        #[arg(long, default_value = "specs")]
        specs: PathBuf,
        /// States in the generated spec.
        #[arg(long, default_value_t = 10_000)]
        states: usize,
        /// Timed runs of each case (the median is reported).
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Print one JSON object as the last line.
        #[arg(long)]
        json: bool,
    },
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Tingu {
            specs,
            states,
            runs,
            json,
        } => tingu_bench(&specs, states, runs.max(1), json),
        BenchCommand::Observer {
            specs,
            component,
            walks,
            steps,
            runs,
            json,
        } => crate::bench_observer::run(&specs, &component, walks, steps, runs.max(1), json),
    }
}

/// Reads every `.tingu` file below `dir`, named relative to it (so imports resolve).
fn read_library(dir: &Path) -> Result<Vec<(String, String)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if path.extension().is_some_and(|e| e == "tingu") {
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                out.push((name, std::fs::read_to_string(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)
        .map_err(|e| format!("cannot read spec library `{}`: {e}", dir.display()))?;
    if out.is_empty() {
        return Err(format!("no .tingu files in `{}`", dir.display()).into());
    }
    out.sort();
    Ok(out)
}

/// Parses and checks in-memory sources; returns (states, diagnostics).
fn check_sources(sources: &[(&str, &str)]) -> (usize, usize, bool) {
    let (lib, diags) = Library::from_sources(sources);
    let checked = tingu::check(&lib);
    let states = checked
        .model
        .as_ref()
        .map_or(0, |m| m.protocols.iter().map(|p| p.states.len()).sum());
    (
        states,
        diags.len() + checked.diagnostics.len(),
        checked.model.is_some(),
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    f(); // warm-up
    let samples: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    let min = *samples.iter().min().unwrap_or(&Duration::ZERO);
    (median(samples), min)
}

fn tingu_bench(specs: &Path, states: usize, runs: usize, json: bool) -> Result<ExitCode> {
    let library = read_library(specs)?;
    let lib_refs: Vec<(&str, &str)> = library
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let (lib_states, lib_diags, lib_ok) = check_sources(&lib_refs);
    if !lib_ok {
        return Err(format!(
            "the spec library in `{}` has errors; run `dingo spec check`",
            specs.display()
        )
        .into());
    }
    let (lib_median, lib_min) = time(runs, || {
        std::hint::black_box(check_sources(&lib_refs));
    });
    let large = synth::large_spec(states);
    let large_src = [("large.tingu", large.as_str())];
    let (large_states, large_diags, large_ok) = check_sources(&large_src);
    if !large_ok {
        return Err("the generated spec has errors (a bug in the generator)".into());
    }
    let large_runs = runs.div_ceil(2).max(3);
    let (large_median, large_min) = time(large_runs, || {
        std::hint::black_box(check_sources(&large_src));
    });
    let lib_target = Duration::from_millis(10);
    let large_target = Duration::from_millis(200);
    let verdict = |d: Duration, t: Duration| if d <= t { "ok" } else { "SLOW" };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    outln!("dingo bench tingu: parse + check, median of {runs} runs (large: {large_runs})");
    outln!(
        "{:<28} {:>7} {:>6} {:>11} {:>9} {:>8} {:>6}",
        "case",
        "files",
        "states",
        "median ms",
        "min ms",
        "target",
        ""
    );
    outln!(
        "{:<28} {:>7} {:>6} {:>11.3} {:>9.3} {:>8} {:>6}",
        "spec library",
        library.len(),
        lib_states,
        ms(lib_median),
        ms(lib_min),
        "< 10",
        verdict(lib_median, lib_target)
    );
    outln!(
        "{:<28} {:>7} {:>6} {:>11.3} {:>9.3} {:>8} {:>6}",
        format!("generated ({} lines)", large.lines().count()),
        1,
        large_states,
        ms(large_median),
        ms(large_min),
        "< 200",
        verdict(large_median, large_target)
    );
    outln!("diagnostics: library {lib_diags}, generated {large_diags}");
    if json {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        outln!(
            "{{\"bench\":\"tingu\",\"cores\":{cores},\"library\":{{\"files\":{},\"states\":{lib_states},\"median_ms\":{:.4},\"min_ms\":{:.4},\"target_ms\":10,\"ratio_to_target\":{:.4}}},\"generated\":{{\"states\":{large_states},\"median_ms\":{:.4},\"min_ms\":{:.4},\"target_ms\":200,\"ratio_to_target\":{:.4}}}}}",
            library.len(),
            ms(lib_median),
            ms(lib_min),
            ms(lib_median) / 10.0,
            ms(large_median),
            ms(large_min),
            ms(large_median) / 200.0
        );
    }
    let ok = lib_median <= lib_target && large_median <= large_target;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
