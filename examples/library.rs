//! ptrack as a library: a prompt's performance and a comparison of two of its versions,
//! printed by a program of its own. It needs none of the command line's dependencies:
//!
//!     cargo run --example library --no-default-features -- coaching_system 1.0 1.1
//!
//! Arguments: PROMPT [A B] (default: coaching_system 1.0 1.1), run from inside a project.

use ptrack::Project;
use ptrack::query::{CompareQuery, PerformanceQuery};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let prompt = args.first().map_or("coaching_system", String::as_str);
    let a = args.get(1).map_or("1.0", String::as_str).parse()?;
    let b = args.get(2).map_or("1.1", String::as_str).parse()?;

    let project = Project::discover(&std::env::current_dir()?)?;
    let perf = project.performance(&PerformanceQuery {
        prompt: Some(prompt.to_string()),
        ..PerformanceQuery::default()
    })?;
    for p in &perf.prompts {
        println!("{}", p.prompt);
        for v in &p.versions {
            let m = &v.metrics;
            println!(
                "  {:<6} runs {:>4}  success {:>6}  p50 {:>8}  p95 {:>8}  quality {}",
                v.version.as_str(),
                m.runs,
                ptrack::format::pct(m.success_rate),
                ptrack::format::ms(m.time_ms.map(|t| t.p50)),
                ptrack::format::ms(m.time_ms.map(|t| t.p95)),
                ptrack::format::quality(m.quality_mean, m.quality_n),
            );
        }
    }

    let compared = project.compare(&CompareQuery {
        prompt: prompt.to_string(),
        versions: Some((a, b)),
        ..CompareQuery::default()
    })?;
    for c in &compared.comparisons {
        println!("{}", c.verdict);
        if let Some(t) = &c.comparison.time_test {
            println!(
                "  execution time: Welch's t = {:.3}, df = {:.1}, p = {:.6}",
                t.statistic, t.df, t.p_value
            );
        }
    }
    Ok(())
}
