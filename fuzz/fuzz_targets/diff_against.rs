//! `diff --against` of arbitrary YAML (a previous render or `kubectl get -o yaml`
//! output) with the render of example stacks, human and json.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    stackgen::fuzzing::diff_against(text);
});
