//! Every stack in stacks/ against its golden output in golden/, byte for byte, as a
//! whole tree. Re-bless with `UPDATE_GOLDEN=1 cargo test --test it golden::` (refused
//! when CI is set).

use crate::common::*;

#[test]
fn goldens_match() {
    let mut golden = Snapshots::tree(root().join("golden"), ".yaml", "golden::");
    for stack in stacks() {
        golden.compare_in_tree(&format!("{}.yaml", stem(&stack)), &render_stack(&stack));
    }
    golden.finish();
}
