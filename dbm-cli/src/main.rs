//! `dbm`: migrations, health, probes and configuration of the databases in `dbm.toml`.
//! Install with `cargo install --path dbm-cli`; `dbm --help` lists the commands.

fn main() -> std::process::ExitCode {
    dbm::cli::main("dbm")
}
