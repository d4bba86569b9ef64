//! Only for `tests/compare.rs`, which is not this branch's to edit: the
//! names it imports from `support`, taken from `tests/common`. Delete this
//! directory once it says `mod common;` (see `tests/common/mod.rs`).

#[path = "../common/mod.rs"]
mod common;

pub use common::PATIENCE;
pub use common::process::{bin_path, wait_bounded};
pub use common::temp_dir;
