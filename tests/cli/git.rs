//! End-to-end tests of git-backed commands: history, diff, report, check --base.

use crate::common::TestEnv;

#[test]
fn report_outside_git_is_the_current_state() {
    let env = TestEnv::new();
    std::fs::remove_dir_all(env.path(".git")).expect("rm .git");
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "text\n");
    let r = env.run(&["report"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert!(r.stdout.contains("Current state"), "{}", r.stdout);
}
