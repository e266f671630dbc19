//! The `slivers` binary: parse the command line, run it, map errors to exit codes.

mod cli;
mod hugepages;

fn main() -> std::process::ExitCode {
    hugepages::restart_with_huge_pages();
    let cli = cli::parse();
    match cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
