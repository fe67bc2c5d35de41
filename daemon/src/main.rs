//! The `rackd` binary; everything lives in the library.

fn main() -> std::process::ExitCode {
    rackd::cli::main()
}
