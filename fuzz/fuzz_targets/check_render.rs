//! check + render of arbitrary stack.toml text, and every diagnostic format.
//! The property: no panic, no abort, no unbounded allocation (libFuzzer's -rss_limit_mb
//! and -malloc_limit_mb catch those); a stack that checks renders.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    stackgen::fuzzing::check_render(text);
});
