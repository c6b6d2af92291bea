//! `compare`: a prompt's versions side by side, each against the one before it, or B against A,
//! with significance tests and a verdict.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::diagnostic::Diagnostic;
use std::collections::BTreeMap;

use crate::metrics::{ComparisonView, Deltas, Side, compare_sides};
use crate::project::{LookupError, Project};
use crate::runlog::{RunFilter, VersionMetrics, group_runs};
use crate::version::Version;

/// What to compare.
#[derive(Debug, Clone, Default)]
pub struct CompareQuery {
    /// The prompt.
    pub prompt: String,
    /// Baseline and candidate; None compares every version with the one before it.
    pub versions: Option<(Version, Version)>,
    /// Only runs at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only runs before this time.
    pub until: Option<DateTime<Utc>>,
}

/// One version's figures and how they moved against the row before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct VersionRow {
    /// The version's metrics.
    #[serde(flatten)]
    pub metrics: VersionMetrics,
    /// Against the previous row (None for the first).
    pub delta: Option<Deltas>,
}

/// The `compare --json` model.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CompareModel {
    /// The prompt.
    pub prompt: String,
    /// Versions oldest first (with files or with runs; zero runs when only the file exists).
    pub versions: Vec<VersionRow>,
    /// Each version against its predecessor, or just B against A.
    pub comparisons: Vec<ComparisonView>,
    /// Problems in the run logs.
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

impl Project {
    /// Compare the versions of a prompt.
    pub fn compare(&self, query: &CompareQuery) -> Result<CompareModel, LookupError> {
        let registry = self.load_prompts();
        let prompt = registry.find(&query.prompt)?;
        let filter = RunFilter {
            prompt: Some(prompt.name.clone()),
            version: None,
            since: query.since,
            until: query.until,
        };
        // The compact columns (through the cache) when no time window applies; the simple
        // reader for a window, or when ids repeat.
        let fast = if filter.since.is_none() && filter.until.is_none() {
            let columns = self.run_columns(&filter);
            columns
                .sides(&prompt.name)
                .map(|sides| (sides.into_iter().collect(), columns.diagnostics))
        } else {
            None
        };
        let (mut groups, diagnostics): (BTreeMap<Version, Side>, _) = match fast {
            Some(f) => f,
            None => {
                let runs = self.runs(&filter);
                let groups = group_runs(&runs.runs)
                    .remove(&prompt.name)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(v, rs)| (v, Side::of(&rs)))
                    .collect();
                (groups, runs.diagnostics)
            }
        };
        // Versions with files but no runs still show, with zero runs.
        for v in &prompt.versions {
            groups
                .entry(v.version.clone())
                .or_insert_with(|| Side::of(&[]));
        }
        let pairs: Vec<(Version, Version)> = match &query.versions {
            Some((a, b)) => {
                for v in [a, b] {
                    if !groups.contains_key(v) {
                        let known = groups.keys().cloned().collect();
                        return Err(LookupError::no_version(&prompt.name, v, known));
                    }
                }
                groups.retain(|v, _| v == a || v == b);
                vec![(a.clone(), b.clone())]
            }
            None => {
                let keys: Vec<&Version> = groups.keys().collect();
                keys.windows(2)
                    .map(|w| (w[0].clone(), w[1].clone()))
                    .collect()
            }
        };
        let config = self.config();
        let comparisons = pairs
            .iter()
            .map(|(a, b)| {
                let side = |v: &Version| groups.get(v).cloned().unwrap_or_else(|| Side::of(&[]));
                compare_sides(&prompt.name, (a, side(a)), (b, side(b)))
                    .priced(config)
                    .into()
            })
            .collect();
        let mut versions: Vec<VersionRow> = Vec::new();
        for (v, side) in groups {
            let mut metrics = side.metrics;
            metrics.price(config);
            let delta = versions
                .last()
                .map(|prev| Deltas::between(&prev.metrics.metrics, &metrics));
            versions.push(VersionRow {
                metrics: VersionMetrics {
                    prompt: prompt.name.clone(),
                    version: v,
                    metrics,
                },
                delta,
            });
        }
        Ok(CompareModel {
            prompt: prompt.name.clone(),
            versions,
            comparisons,
            diagnostics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::testing::{project_with_runs, run_line};

    fn lines() -> Vec<String> {
        let mut out = Vec::new();
        for (i, ms) in [100.0, 120.0, 140.0, 160.0].iter().enumerate() {
            let ts = format!("2026-11-0{}T10:00:00Z", i + 1);
            out.push(run_line(
                &format!("a{i}"),
                "p",
                "1.0",
                &ts,
                *ms,
                i != 0,
                Some(5.0),
            ));
            out.push(run_line(
                &format!("b{i}"),
                "p",
                "1.1",
                &ts,
                ms + 50.0,
                true,
                Some(7.0),
            ));
        }
        out
    }

    #[test]
    fn rows_carry_deltas_and_the_comparison_its_tests() {
        let (_dir, project) = project_with_runs(&["p"], &lines());
        let m = project
            .compare(&CompareQuery {
                prompt: "p".into(),
                ..CompareQuery::default()
            })
            .expect("compare");
        assert_eq!(m.versions.len(), 2);
        assert_eq!(m.versions[0].delta, None);
        let d = m.versions[1].delta.expect("second row has a delta");
        // 1.0: 3/4 succeed, p50 130 ms; 1.1: 4/4, p50 180 ms (numpy: np.percentile([150,170,190,210], 50) -> 180.0)
        assert_eq!(d.success_pts, Some(25.0));
        assert_eq!(d.p50_ms, Some(50.0));
        assert_eq!(d.quality, Some(2.0));
        let c = &m.comparisons[0].comparison;
        assert_eq!(c.p95_delta_ms, Some(50.0));
        let t = c.time_test.as_ref().expect("Welch's t-test");
        // scipy 1.17.1: stats.ttest_ind([150,170,190,210], [100,120,140,160], equal_var=False)
        //   -> statistic=2.7386127875258306, pvalue=0.033797787500090874, df=6.0
        assert!(
            (t.statistic - 2.738_612_787_525_830_6).abs() < 1e-9,
            "{t:?}"
        );
        assert!(
            (t.p_value - 0.033_797_787_500_090_874).abs() < 1e-9,
            "{t:?}"
        );
        assert!((t.df - 6.0).abs() < 1e-9, "{t:?}");
        assert!(
            m.comparisons[0]
                .verdict
                .starts_with("1.1 vs 1.0: success +25.0 pts")
        );
    }

    #[test]
    fn an_unknown_version_lists_the_known_ones() {
        let (_dir, project) = project_with_runs(&["p"], &lines());
        let err = project
            .compare(&CompareQuery {
                prompt: "p".into(),
                versions: Some(("1.0".parse().expect("v"), "2.0".parse().expect("v"))),
                ..CompareQuery::default()
            })
            .expect_err("no 2.0");
        match err {
            LookupError::NoVersion { known, .. } => {
                assert_eq!(
                    known.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                    ["1.0", "1.1"]
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
