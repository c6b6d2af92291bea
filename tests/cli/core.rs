//! End-to-end tests of the core commands: init, list, show, create, check.

use crate::common::TestEnv;

#[test]
fn init_scaffolds_a_project() {
    let env = TestEnv::init();
    assert!(env.path("ptrack.toml").is_file());
    assert!(
        env.read(".gitattributes")
            .contains("runs/**/*.jsonl merge=union")
    );
}
