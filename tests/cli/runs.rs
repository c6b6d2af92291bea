//! End-to-end tests of the run commands: record, rate, performance, compare, trends, export.

use crate::common::TestEnv;

#[test]
fn record_prints_the_run_id() {
    let env = TestEnv::init();
    env.prompt("p", "1.0", "goal: g\nmodel: m\n", "text\n");
    let r = env.run(&["record", "p", "--time-ms", "12"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout.trim().len(), 36);
}
