//! End-to-end tests: run the real `ptrack` binary in temporary projects.

mod common;
mod core;
mod crash;
mod exec;
mod git;
mod hostile_prompts;
mod runs;
mod schema;
