//! Reads criterion's results and prints them as a Markdown table, each
//! benchmark next to its baseline from the same run.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Contenders and the baseline they are compared with, by criterion
/// function id within a group: (contender, baseline).
const PAIRS: &[(&str, &str)] = &[
    ("sse-core", "eventsource-stream"),
    ("sse-core-stream", "eventsource-stream"),
    ("json_100B", "json_100B_format"),
    ("json_100B_prebuilt", "json_100B_format"),
    ("sse-core", "tokio-broadcast"),
];

struct Result {
    group: String,
    function: String,
    parameter: Option<String>,
    mean_ns: f64,
    throughput: Option<(String, f64)>,
}

impl Result {
    fn per_second(&self) -> Option<f64> {
        self.throughput
            .as_ref()
            .map(|(_, amount)| amount / (self.mean_ns * 1e-9))
    }

    fn rate(&self) -> String {
        match (&self.throughput, self.per_second()) {
            (Some((unit, _)), Some(rate)) if unit == "Bytes" => {
                format!("{:.1} MB/s", rate / 1e6)
            }
            (Some(_), Some(rate)) => format!("{:.2} M/s", rate / 1e6),
            _ => "-".into(),
        }
    }
}

pub(crate) fn print(criterion_dir: &Path) -> std::result::Result<(), String> {
    let mut results = Vec::new();
    for file in find(criterion_dir, "benchmark.json") {
        if file.parent().and_then(Path::file_name) != Some("new".as_ref()) {
            continue;
        }
        if let Some(result) = read(&file) {
            results.push(result);
        }
    }
    if results.is_empty() {
        return Err(format!(
            "no criterion results under {}: run `cargo xtask bench` first",
            criterion_dir.display()
        ));
    }
    results.sort_by(|a, b| {
        (&a.group, &a.parameter, &a.function).cmp(&(&b.group, &b.parameter, &b.function))
    });

    println!("| benchmark | mean time | throughput | vs baseline |");
    println!("|---|---|---|---|");
    for result in &results {
        let name = match &result.parameter {
            Some(parameter) => format!("{}/{}/{}", result.group, result.function, parameter),
            None => format!("{}/{}", result.group, result.function),
        };
        println!(
            "| {name} | {} | {} | {} |",
            time(result.mean_ns),
            result.rate(),
            ratio(result, &results).unwrap_or_default()
        );
    }
    Ok(())
}

/// "N.N× `baseline`" when the result has a baseline in the same group and
/// parameter.
fn ratio(result: &Result, all: &[Result]) -> Option<String> {
    PAIRS
        .iter()
        .filter(|(contender, _)| *contender == result.function)
        .find_map(|(_, baseline)| {
            let base = all.iter().find(|other| {
                other.function == *baseline
                    && other.group == result.group
                    && other.parameter == result.parameter
            })?;
            Some(format!("{:.2}× {baseline}", base.mean_ns / result.mean_ns))
        })
}

fn time(ns: f64) -> String {
    match ns {
        ns if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        ns if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{ns:.1} ns"),
    }
}

fn read(benchmark_json: &Path) -> Option<Result> {
    let benchmark: Value = serde_json::from_str(&fs::read_to_string(benchmark_json).ok()?).ok()?;
    let estimates_json = benchmark_json.with_file_name("estimates.json");
    let estimates: Value = serde_json::from_str(&fs::read_to_string(estimates_json).ok()?).ok()?;
    let throughput = benchmark["throughput"].as_object().and_then(|object| {
        let (unit, amount) = object.iter().next()?;
        Some((unit.clone(), amount.as_f64()?))
    });
    Some(Result {
        group: benchmark["group_id"].as_str()?.to_owned(),
        function: benchmark["function_id"].as_str()?.to_owned(),
        parameter: benchmark["value_str"].as_str().map(str::to_owned),
        mean_ns: estimates["mean"]["point_estimate"].as_f64()?,
        throughput,
    })
}

fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(find(&path, name));
        } else if path.file_name() == Some(name.as_ref()) {
            found.push(path);
        }
    }
    found
}
