//! The `morphogen` command line (see `morphogen::cli`).

fn main() -> std::process::ExitCode {
    morphogen::cli::main()
}
