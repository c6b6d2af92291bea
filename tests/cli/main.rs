//! End-to-end tests: run the real `ptrack` binary in temporary projects.

mod alerts;
mod common;
mod core;
mod crash;
mod dashboard;
mod ecosystem;
mod escape;
mod exec;
mod experiments;
mod formats;
mod git;
mod hostile_logs;
mod hostile_prompts;
mod import;
mod labels;
mod load;
mod parquet;
mod runs;
mod schema;
mod serve;
mod suggest;
