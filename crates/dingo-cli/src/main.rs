//! `dingo`: the command-line front door of the toolkit.
//!
//! ```text
//! dingo spec check PATH...          check specs, print diagnostics (exit 1 on errors)
//! dingo spec graph PATH... [...]    draw statecharts as Graphviz DOT or SVG
//! dingo spec show  PATH... [...]    print states, messages, alphabets, spawn points
//! dingo spec replay SPEC... TRACE   replay a trace through the component's observer
//! dingo demo [--bug ...]          two AX88772 adapters under observers, with traffic
//! dingo decaf-demo                  the RTL8139 split driver under traffic, its decaf process killed
//! dingo bench tingu [--json]        time the checker on the library and a 10k-state spec
//! dingo bench observer [--json]     cost per message of an observer, next to no observer
//! dingo bench dispatch [--json]     cost of delivering a message to a driver, next to a Mutex
//! dingo bench net [--json]          AX88772 pair: Dingo driver next to its native twin
//! dingo bench xpc [--json]          cost of an XPC call, next to raw spin and futex round trips
//! dingo bench decaf-init [--json]   RTL8139 bring-up, split (nucleus + decaf process) vs native
//! dingo bench decaf-steady [--json] RTL8139 frames/s in steady state, split vs native
//! ```

/// `println!` that ignores a closed standard output (e.g. `dingo ... | head`)
/// instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `print!` that ignores a closed standard output.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod bench;
mod bench_decaf;
mod bench_dispatch;
mod bench_net;
mod bench_observer;
mod bench_xpc;
mod demo;
mod demo_decaf;
mod spec;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Tools for writing reliable device drivers: Tingu protocol specs, and more.
#[derive(Parser)]
#[command(name = "dingo", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with Tingu protocol specifications.
    #[command(subcommand)]
    Spec(spec::SpecCommand),
    /// Two AX88772 adapters with the Dingo driver under observers, traffic
    /// between them, and a live summary; `--bug` injects a protocol bug.
    Demo(demo::DemoArgs),
    /// The RTL8139 driver split into a nucleus and a decaf process, with
    /// traffic; the decaf process is killed midway and a new one takes over.
    DecafDemo(demo_decaf::DecafDemoArgs),
    /// Run a benchmark (each compares against a baseline measured in the same run).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// The decaf side of `dingo bench xpc` (internal).
    #[command(hide = true)]
    XpcPeer {
        /// The shared region's descriptor and the mode (see `xpc::peer`).
        args: Vec<String>,
    },
    /// The RTL8139's decaf driver process (internal: started by the nucleus).
    #[command(hide = true)]
    Rtl8139Decaf {
        /// The shared region's descriptor.
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Spec(cmd) => spec::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::DecafDemo(args) => demo_decaf::run(args),
        Command::Rtl8139Decaf { args } => {
            return ExitCode::from(u8::try_from(rtl8139::decaf::process_main(&args)).unwrap_or(2));
        }
        Command::XpcPeer { args } => {
            return ExitCode::from(u8::try_from(xpc::peer::run(&args)).unwrap_or(2));
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
