//! `cargo xtask`: the project's commands, the same code as the `dbm` binary (`dbm::cli`).

fn main() -> std::process::ExitCode {
    dbm::cli::main("cargo xtask")
}
