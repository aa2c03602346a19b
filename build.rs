//! Link the `stackgen` binary as a fixed-address (non-PIE) executable on Linux: a PIE
//! binary spends ~0.4 ms of every run in the dynamic loader applying ~19,000
//! relocations and copying the pages they touch. The code is still compiled
//! position-independent; only the final link differs.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
