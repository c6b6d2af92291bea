//! End-to-end tests of render and run, against a scripted HTTP server and a real model server.

use crate::common::TestEnv;

#[test]
fn render_fills_defaults() {
    let env = TestEnv::init();
    env.prompt(
        "p",
        "1.0",
        "goal: g\nmodel: m\nvariables:\n  who:\n    default: there\n",
        "Hi {{ who }}\n",
    );
    let r = env.run(&["render", "p"]);
    assert_eq!(r.code, 0, "{}", r.snapshot());
    assert_eq!(r.stdout, "Hi there\n");
}
