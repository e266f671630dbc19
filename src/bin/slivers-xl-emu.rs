//! `slivers-xl-emu`: an emulated Xen `xl` for tests and demos (also works
//! when installed or symlinked as `xl`). See `docs/live.md` and
//! `slivers_xl_emu::dir`.

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let env = std::env::vars().collect();
    std::process::exit(slivers_xl_emu::dir::main(&argv, &env));
}
