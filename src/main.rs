//! The `berth` binary: parse the command line, run it, and turn the outcome into an
//! exit code, in one place (see `berth::app`).

fn main() -> std::process::ExitCode {
    berth::app::main()
}
