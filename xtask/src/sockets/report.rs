//! The socket benchmark's report: a Markdown section of `BENCHMARKS.md`
//! (servers as columns, figures as rows, ratios to the baseline and to
//! nchan), the same figures as JSON, and an SVG chart of latency
//! percentiles per server.

use std::collections::BTreeMap;
use std::path::Path;

use plotters::prelude::*;

use super::floor::Receiver;
use super::plan::{PERCENTILES, Plan, Sample, median};
use super::servers::Contender;

/// Marks the generated section in `BENCHMARKS.md`.
const BEGIN: &str = "<!-- sockets:begin (made by `cargo xtask bench`; edits are overwritten) -->";
const END: &str = "<!-- sockets:end -->";

/// The fan-out's `write(2)` floor as a share of a server's CPU per
/// delivery: 1 would be a server that costs nothing but its writes.
const FLOOR_SHARE: &str = "fan_out_floor_share";

/// One server's figures.
pub(crate) struct Column {
    contender: Contender,
    medians: BTreeMap<String, f64>,
    samples: Vec<Sample>,
    /// Median over the repeats of each fan-out latency percentile, ms.
    curve: Vec<f64>,
}

/// Everything one run measured.
pub(crate) struct Results {
    plan: Plan,
    columns: Vec<Column>,
    floor: BTreeMap<(Receiver, usize), f64>,
    commit: String,
}

/// How a row is shown: its metric, its label, decimals, and whether it
/// gets ratios (and which way is better).
struct Row {
    key: &'static str,
    label: String,
    decimals: usize,
    ratio: Ratio,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ratio {
    None,
    LowerIsBetter,
    HigherIsBetter,
}

impl Results {
    pub(crate) fn new(
        plan: &Plan,
        columns: Vec<(Contender, Vec<Sample>, Vec<Vec<f64>>)>,
        floor: BTreeMap<(Receiver, usize), f64>,
        commit: String,
    ) -> Self {
        let columns = columns
            .into_iter()
            .map(|(contender, samples, curves)| {
                let mut medians = BTreeMap::new();
                for key in samples.iter().flat_map(|s| s.keys()) {
                    let mut values: Vec<f64> =
                        samples.iter().filter_map(|s| s.get(key)).copied().collect();
                    medians.insert(key.clone(), median(&mut values));
                }
                // The same write, one event to each of many sockets read by
                // an epoll loop, as the fan-out's load generator reads.
                if let (Some(floor), Some(server)) = (
                    floor.get(&(Receiver::Epoll, 1)),
                    medians.get("fan_out_cpu_us").copied(),
                ) && server > 0.0
                {
                    medians.insert(FLOOR_SHARE.into(), floor / server);
                }
                let curve = (0..PERCENTILES.len())
                    .map(|i| {
                        let mut values: Vec<f64> =
                            curves.iter().filter_map(|c| c.get(i)).copied().collect();
                        median(&mut values)
                    })
                    .collect();
                Column {
                    contender,
                    medians,
                    samples,
                    curve,
                }
            })
            .collect();
        Self {
            plan: plan.clone(),
            columns,
            floor,
            commit,
        }
    }

    fn rows(&self) -> Vec<Row> {
        let plan = &self.plan;
        let row = |key, label: String, decimals, ratio| Row {
            key,
            label,
            decimals,
            ratio,
        };
        let streams = thousands(plan.streams);
        let mut rows = vec![
            row("rss_start_mib", "RSS at start, MiB".into(), 1, Ratio::None),
            row(
                "connect_s",
                format!("connect {streams} streams, s"),
                2,
                Ratio::None,
            ),
            row(
                "kib_per_stream",
                format!("KiB per idle stream ({streams} streams)"),
                1,
                Ratio::LowerIsBetter,
            ),
            row(
                "idle_cpu_pct",
                format!("{streams} idle streams: server CPU, % of a core"),
                1,
                Ratio::LowerIsBetter,
            ),
            row(
                "fan_out_cpu_us",
                format!(
                    "fan-out to {streams} at {} ev/s: server CPU µs per delivery",
                    plan.fan_out_rate
                ),
                2,
                Ratio::LowerIsBetter,
            ),
            row(
                FLOOR_SHARE,
                "fan-out: the write(2) floor as a share of that".into(),
                2,
                Ratio::None,
            ),
            row(
                "fan_out_p50_ms",
                "fan-out: p50 latency, ms".into(),
                1,
                Ratio::LowerIsBetter,
            ),
            row(
                "fan_out_p99_ms",
                "fan-out: p99 latency, ms".into(),
                1,
                Ratio::LowerIsBetter,
            ),
            row(
                "fan_out_max_ms",
                "fan-out: max latency, ms".into(),
                1,
                Ratio::None,
            ),
            row(
                "fan_out_rate",
                "fan-out: deliveries/s".into(),
                0,
                Ratio::None,
            ),
            row(
                "fan_out_lost",
                "fan-out: events lost".into(),
                0,
                Ratio::None,
            ),
            row(
                "fan_out_duplicated",
                "fan-out: events duplicated".into(),
                0,
                Ratio::None,
            ),
            row(
                "per_user_cpu_us",
                format!(
                    "a topic per user ({streams} streams on {streams} topics, {} targeted \
                     ev/s): server CPU µs per delivery",
                    thousands(plan.per_user_rate as usize)
                ),
                1,
                Ratio::LowerIsBetter,
            ),
            row(
                "per_user_p99_ms",
                "a topic per user: p99 latency, ms".into(),
                1,
                Ratio::LowerIsBetter,
            ),
            row(
                "per_user_sleeps",
                "a topic per user: server sleeps per event".into(),
                2,
                Ratio::None,
            ),
            row(
                "per_user_published",
                "a topic per user: events published".into(),
                0,
                Ratio::None,
            ),
            row(
                "per_user_lost",
                "a topic per user: events lost".into(),
                0,
                Ratio::None,
            ),
            row(
                "flood_rate",
                format!(
                    "saturated, {} subscribers, {} publishers: deliveries/s",
                    plan.flood_subscribers, plan.flood_publishers
                ),
                0,
                Ratio::HigherIsBetter,
            ),
            row(
                "flood_cpu_us",
                "saturated: server CPU µs per delivery".into(),
                2,
                Ratio::LowerIsBetter,
            ),
            row(
                "flood_p99_ms",
                "saturated: p99 latency, ms".into(),
                1,
                Ratio::LowerIsBetter,
            ),
            row(
                "flood_lost",
                "saturated: events lost".into(),
                0,
                Ratio::None,
            ),
            row(
                "flood_ended",
                "saturated: streams ended by the server".into(),
                0,
                Ratio::None,
            ),
        ];
        if let Some(many) = plan.many_streams {
            let many = thousands(many);
            rows.extend([
                row(
                    "many_connect_s",
                    format!("{many} streams: time to connect, s"),
                    2,
                    Ratio::None,
                ),
                row("many_open", format!("{many} streams: open"), 0, Ratio::None),
                row(
                    "many_kib_per_stream",
                    format!("{many} streams: KiB per stream"),
                    1,
                    Ratio::LowerIsBetter,
                ),
                row(
                    "many_lost",
                    format!("{many} streams: events lost of 3"),
                    0,
                    Ratio::None,
                ),
            ]);
        }
        rows
    }

    fn column(&self, key: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.contender.key() == key)
    }

    /// The section of `BENCHMARKS.md`.
    pub(crate) fn markdown(&self) -> String {
        let mut out = String::new();
        let plan = &self.plan;
        out.push_str(&format!(
            "## Over real sockets\n\n\
             Made by `cargo xtask bench{quick}` at commit `{commit}`: medians of {repeats} \
             run(s), each scenario against a freshly started server pinned to CPU 0, the load \
             generator (one thread, raw HTTP/1.1) pinned to CPU 1. Events are about 130 bytes \
             on the wire. The ratios compare a column with the axum baseline (b) and with nchan \
             (n); below 1 is better for every ratio except deliveries/s. Raw figures: \
             [`docs/benchmarks/sockets.json`](docs/benchmarks/sockets.json).\n\n",
            quick = if plan.quick { " --quick" } else { "" },
            commit = self.commit,
            repeats = plan.repeats,
        ));
        out.push_str("| figure |");
        for column in &self.columns {
            out.push_str(&format!(" {} |", column.contender.name()));
        }
        out.push_str(" write(2) floor |\n|---|");
        for _ in &self.columns {
            out.push_str("---|");
        }
        out.push_str("---|\n");
        let floor_epoll = self.floor.get(&(Receiver::Epoll, 1)).copied();
        for row in self.rows() {
            out.push_str(&format!("| {} |", row.label));
            for column in &self.columns {
                let value = column.medians.get(row.key).copied();
                out.push_str(&format!(" {} |", self.cell(&row, column, value)));
            }
            let floor = match (row.key, floor_epoll) {
                ("fan_out_cpu_us" | "flood_cpu_us", Some(floor)) => format!("{floor:.2}"),
                _ => String::new(),
            };
            out.push_str(&format!(" {floor} |\n"));
        }
        out.push_str(
            "\n![Fan-out latency percentiles per server](docs/benchmarks/sockets-latency.svg)\n\n\
             **The floor** (`write(2)` of encoded events to each of many connected loopback \
             sockets, no runtime): the writer's CPU µs per delivered event.\n\n\
             | receiver | 1 event per write | 4 per write | 16 per write |\n|---|---|---|---|\n",
        );
        for receiver in [Receiver::BusyPoll, Receiver::Epoll] {
            out.push_str(&format!("| {} |", receiver.label()));
            for per_write in [1, 4, 16] {
                let value = self
                    .floor
                    .get(&(receiver, per_write))
                    .copied()
                    .unwrap_or(f64::NAN);
                out.push_str(&format!(" {value:.2} |"));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "\n{} sockets, {} rounds of writes each.\n",
            thousands(plan.floor_sockets),
            plan.floor_rounds
        ));
        out
    }

    fn cell(&self, row: &Row, column: &Column, value: Option<f64>) -> String {
        let Some(value) = value else {
            return "–".into();
        };
        let mut cell = format!("{value:.0$}", row.decimals);
        if row.decimals == 0 && value >= 10_000.0 {
            cell = thousands(value.round() as usize);
        }
        if row.ratio == Ratio::None || !matches!(column.contender, Contender::Example(_)) {
            return cell;
        }
        let mut ratios = Vec::new();
        for (key, short) in [("baseline", "b"), ("nchan", "n")] {
            if let Some(other) = self.column(key).and_then(|c| c.medians.get(row.key))
                && *other > 0.0
            {
                ratios.push(format!("{:.2}× {short}", value / other));
            }
        }
        if !ratios.is_empty() {
            cell.push_str(&format!(" ({})", ratios.join(", ")));
        }
        cell
    }

    /// Every figure of every repeat, as JSON.
    pub(crate) fn json(&self) -> String {
        let servers: serde_json::Map<String, serde_json::Value> = self
            .columns
            .iter()
            .map(|column| {
                let latency: serde_json::Map<String, serde_json::Value> = PERCENTILES
                    .iter()
                    .zip(&column.curve)
                    .map(|((_, name), value)| ((*name).to_owned(), (*value).into()))
                    .collect();
                (
                    column.contender.key().to_owned(),
                    serde_json::json!({
                        "name": column.contender.name(),
                        "medians": column.medians,
                        "runs": column.samples,
                        "fan_out_latency_ms": latency,
                    }),
                )
            })
            .collect();
        let floor: Vec<serde_json::Value> = self
            .floor
            .iter()
            .map(|((receiver, per_write), micros)| {
                serde_json::json!({
                    "receiver": receiver.label(),
                    "events_per_write": per_write,
                    "cpu_us_per_delivery": micros,
                })
            })
            .collect();
        let plan = &self.plan;
        let value = serde_json::json!({
            "commit": self.commit,
            "plan": {
                "quick": plan.quick,
                "repeats": plan.repeats,
                "streams": plan.streams,
                "fan_out_events_per_second": plan.fan_out_rate,
                "fan_out_seconds": plan.fan_out_time.as_secs_f64(),
                "per_user_events_per_second": plan.per_user_rate,
                "flood_subscribers": plan.flood_subscribers,
                "flood_publishers": plan.flood_publishers,
                "flood_seconds": plan.flood_time.as_secs_f64(),
                "many_streams": plan.many_streams,
                "floor_sockets": plan.floor_sockets,
                "floor_rounds": plan.floor_rounds,
            },
            "servers": servers,
            "floor": floor,
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

/// `19000` as `19,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Replaces the generated section of `path` with `section` (appending it
/// when the file has none yet).
pub(crate) fn splice(path: &Path, section: &str) -> Result<(), String> {
    crate::generated::splice(path, BEGIN, END, section)
}

/// The fan-out latency percentiles of every server, one line each, on a
/// logarithmic axis.
pub(crate) fn chart(results: &Results, path: &Path) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("drawing {}: {e}", path.display());
    let highest = results
        .columns
        .iter()
        .flat_map(|c| c.curve.iter().copied())
        .filter(|v| v.is_finite())
        .fold(1.0_f64, f64::max);
    let lowest = results
        .columns
        .iter()
        .flat_map(|c| c.curve.iter().copied())
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(highest, f64::min);
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let title = format!(
        "Fan-out to {} streams at {} events/s: latency percentiles",
        thousands(results.plan.streams),
        results.plan.fan_out_rate
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(
            0..PERCENTILES.len() - 1,
            ((lowest * 0.8)..(highest * 1.25)).log_scale(),
        )
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_labels(PERCENTILES.len())
        .x_label_formatter(&|i| {
            PERCENTILES
                .get(*i)
                .map_or(String::new(), |p| p.1.to_owned())
        })
        .y_desc("latency, ms (log scale)")
        .y_label_formatter(&|v| format!("{v:.1}"))
        .draw()
        .map_err(|e| err(&e))?;
    for (i, column) in results.columns.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points: Vec<(usize, f64)> = column.curve.iter().copied().enumerate().collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(|e| err(&e))?
            .label(column.contender.name())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|point| Circle::new(point, 3, color.filled())),
            )
            .map_err(|e| err(&e))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_gets_its_share_of_the_floor() {
        let sample = |cpu: f64| Sample::from([("fan_out_cpu_us".to_owned(), cpu)]);
        let columns = vec![(
            Contender::Example("axum"),
            vec![sample(9.0), sample(10.0), sample(40.0)],
            Vec::new(),
        )];
        let floor = BTreeMap::from([((Receiver::Epoll, 1), 8.0), ((Receiver::BusyPoll, 1), 1.0)]);
        let results = Results::new(&Plan::quick(), columns, floor, "c".into());
        assert_eq!(results.columns[0].medians.get(FLOOR_SHARE), Some(&0.8));
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(19000), "19,000");
        assert_eq!(thousands(100), "100");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn the_section_is_replaced_and_the_rest_kept() {
        let dir = std::env::temp_dir().join(format!("xtask-splice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("B.md");
        std::fs::write(&path, "# Benchmarks\n\nbefore\n").unwrap();
        splice(&path, "one\n").unwrap();
        splice(&path, "two\n").unwrap();
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap() + "\nafter\n").unwrap();
        splice(&path, "three\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(text.starts_with("# Benchmarks\n\nbefore\n"), "{text}");
        assert!(text.contains("three\n") && !text.contains("two") && !text.contains("one"));
        assert!(text.ends_with("after\n"), "{text}");
    }
}
