//! The `stackgen` binary: the command line ([`cli`]) over the library.

mod arena;
mod cli;

#[global_allocator]
static ALLOCATOR: arena::Arena = arena::Arena::new();

fn main() -> std::process::ExitCode {
    ALLOCATOR.init();
    cli::main()
}
