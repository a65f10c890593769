//! The conformance matrix: check × framework, pass or fail with the reason,
//! the checks that pass on some frameworks and fail on others first.

use crate::client::Error;
use crate::registry::known_gap;

/// One framework's outcomes, in check order.
pub type Column = (String, Vec<(&'static str, Result<(), Error>)>);

/// The matrix as Markdown.
pub fn markdown(columns: &[Column]) -> String {
    let Some((_, first)) = columns.first() else {
        return "No framework was checked.\n".into();
    };
    let checks: Vec<&str> = first.iter().map(|(name, _)| *name).collect();
    fn outcome<'a>(column: &'a Column, check: &str) -> Option<&'a Result<(), Error>> {
        column.1.iter().find(|(n, _)| *n == check).map(|(_, o)| o)
    }
    let passes = |check: &str| {
        columns
            .iter()
            .filter(|c| matches!(outcome(c, check), Some(Ok(()))))
            .count()
    };
    let divergent: Vec<&str> = checks
        .iter()
        .copied()
        .filter(|check| (1..columns.len()).contains(&passes(check)))
        .collect();

    let mut out = String::from("# Conformance results\n\n");
    if divergent.is_empty() {
        out.push_str("Every check has the same outcome on every framework.\n\n");
    } else {
        out.push_str("Checks that pass on some frameworks and fail on others:\n\n");
        for check in &divergent {
            out.push_str(&format!("- {check}\n"));
        }
        out.push('\n');
    }
    let failures: usize = columns
        .iter()
        .map(|c| c.1.iter().filter(|(_, o)| o.is_err()).count())
        .sum();
    let gaps: Vec<(&str, &str, &str)> = columns
        .iter()
        .flat_map(|(framework, outcomes)| {
            outcomes.iter().filter_map(move |(check, outcome)| {
                let why = known_gap(framework, check)?;
                outcome
                    .is_err()
                    .then_some((framework.as_str(), *check, why))
            })
        })
        .collect();
    out.push_str(&format!(
        "{} checks × {} frameworks, {failures} failures, {} of them known gaps.\n\n",
        checks.len(),
        columns.len(),
        gaps.len()
    ));
    out.push_str("| check |");
    for (framework, _) in columns {
        out.push_str(&format!(" {framework} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    let ordered = divergent
        .iter()
        .copied()
        .chain(checks.iter().copied().filter(|c| !divergent.contains(c)));
    for check in ordered {
        out.push_str(&format!("| {check} |"));
        for column in columns {
            let cell = match outcome(column, check) {
                Some(Ok(())) => "pass".to_owned(),
                Some(Err(reason)) => {
                    let label = match known_gap(&column.0, check) {
                        Some(_) => "known gap",
                        None => "FAIL",
                    };
                    format!("{label}: {}", reason.replace('|', "\\|").replace('\n', " "))
                }
                None => "not run".to_owned(),
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    if !gaps.is_empty() {
        out.push_str("\nKnown gaps, where the framework offers no way to meet the contract:\n\n");
        for (framework, check, why) in gaps {
            out.push_str(&format!("- {framework}, {check}: {why}.\n"));
        }
    }
    out
}

/// Whether `columns` are as expected: every check passes, except the
/// [`KNOWN_GAPS`](crate::registry::KNOWN_GAPS), which must still fail. The
/// unexpected outcomes, if any.
pub fn unexpected(columns: &[Column]) -> Vec<String> {
    columns
        .iter()
        .flat_map(|(framework, outcomes)| {
            outcomes.iter().filter_map(move |(check, outcome)| {
                match (known_gap(framework, check), outcome) {
                    (None, Ok(())) | (Some(_), Err(_)) => None,
                    (None, Err(reason)) => Some(format!("{framework}, {check}: {reason}")),
                    (Some(_), Ok(())) => Some(format!(
                        "{framework}, {check}: passes, but is listed as a known gap; \
                         take it off KNOWN_GAPS"
                    )),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divergent_checks_come_first_with_their_reasons() {
        let columns: Vec<Column> = vec![
            ("a".into(), vec![("x", Ok(())), ("y", Ok(()))]),
            (
                "b".into(),
                vec![("x", Ok(())), ("y", Err("broke | badly".into()))],
            ),
        ];
        let text = markdown(&columns);
        assert!(text.contains("- y\n"));
        assert!(text.contains("2 checks × 2 frameworks, 1 failures, 0 of them known gaps."));
        let y = text.find("| y |").unwrap();
        let x = text.find("| x |").unwrap();
        assert!(y < x, "the divergent check is listed first:\n{text}");
        assert!(text.contains("FAIL: broke \\| badly"));
    }

    #[test]
    fn known_gaps_are_marked_and_must_still_fail() {
        let (framework, check, why) = crate::registry::KNOWN_GAPS[0];
        let failing: Vec<Column> = vec![(framework.into(), vec![(check, Err("timed out".into()))])];
        let text = markdown(&failing);
        assert!(text.contains("known gap: timed out"), "{text}");
        assert!(text.contains(why), "{text}");
        assert!(unexpected(&failing).is_empty());
        let passing: Vec<Column> = vec![(framework.into(), vec![(check, Ok(()))])];
        assert!(unexpected(&passing)[0].contains("take it off"));
        let other: Vec<Column> = vec![("axum".into(), vec![(check, Err("timed out".into()))])];
        assert_eq!(unexpected(&other).len(), 1);
    }

    #[test]
    fn uniform_outcomes_say_so() {
        let columns: Vec<Column> = vec![("a".into(), vec![("x", Ok(()))])];
        assert!(markdown(&columns).contains("Every check has the same outcome"));
    }
}
