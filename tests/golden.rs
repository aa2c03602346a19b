//! Every stack in stacks/ against its golden output in golden/, byte for byte, as a
//! whole tree. Re-bless with `UPDATE_GOLDEN=1 cargo test --test golden` (refused when CI
//! is set).

mod common;

use common::*;

#[test]
fn goldens_match() {
    let mut golden = GoldenDir::new(root().join("golden"));
    for stack in stacks() {
        golden.compare(&format!("{}.yaml", stem(&stack)), &render_stack(&stack));
    }
    golden.finish("golden");
}
