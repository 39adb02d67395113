//! The `wfstore` operator command line: a thin entry point; the commands live in `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
