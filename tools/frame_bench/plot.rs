//! The SVG plot: latency against percentile, HDR style, one line per run; frame cost on the
//! left, per-append latency on the right.
//!
//! The x axis is 1 / (1 − q) on a log scale, so 90 %, 99 %, 99.9 % … are evenly spaced and
//! the tail, where the budget is lost, gets as much room as the median. Each line ends at
//! the run's sample count, with its maximum.

use std::path::Path;

use anyhow::{Context as _, anyhow};
use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::report::Run;

const SIZE: (u32, u32) = (1400, 560);

/// One colour per run, in the report's order.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Writes the plot of `runs` to `path`.
pub fn write(path: &Path, title: &str, runs: &[Run]) -> anyhow::Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let root = root.titled(title, ("sans-serif", 20)).map_err(plot_error)?;
        let halves = root.split_evenly((1, 2));
        let (left, right) = match halves.as_slice() {
            [l, r] => (l, r),
            _ => return Err(anyhow!("plot: the drawing area did not split in two")),
        };
        let frames: Vec<_> = runs.iter().map(|r| (r.name(), &r.frame_hist)).collect();
        chart(left, "store cost per frame", &frames)?;
        let appends: Vec<_> = runs.iter().map(|r| (r.name(), &r.append_hist)).collect();
        chart(right, "per append", &appends)?;
        root.present().map_err(plot_error)?;
    }
    std::fs::write(path, svg).with_context(|| format!("writing the plot {}", path.display()))
}

/// One chart: a line per named histogram.
fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    caption: &str,
    series: &[(String, &Histogram<u64>)],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let curves: Vec<(&str, Vec<(f64, f64)>)> =
        series.iter().map(|(name, h)| (name.as_str(), curve(h))).collect();
    let points = curves.iter().flat_map(|(_, c)| c.iter());
    // Whole decades of x, so that the axis marks fall on 90 %, 99 %, 99.9 % …
    let x_max = 10f64.powf(points.clone().map(|p| p.0).fold(100.0, f64::max).log10().ceil());
    let y_min = points.clone().map(|p| p.1).fold(f64::INFINITY, f64::min).min(1.0);
    let y_max = points.map(|p| p.1).fold(10.0, f64::max);

    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d((1.0..x_max).log_scale(), (y_min / 2.0..y_max * 2.0).log_scale())
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency, µs (log)")
        .x_label_formatter(&|x| percentile(*x))
        .y_label_formatter(&|y| micros(*y))
        .draw()
        .map_err(plot_error)?;
    for (i, (name, points)) in curves.into_iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(2)))
            .map_err(plot_error)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(plot_error)?;
    Ok(())
}

/// (1 / (1 − q), latency in µs) at 20 points a decade of x, up to the sample count, then the
/// maximum there.
fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let n = h.len() as f64;
    let mut points: Vec<(f64, f64)> = (0..)
        .map(|k| 10f64.powf(f64::from(k) / 20.0))
        .take_while(|&x| x < n)
        .map(|x| (x, us(h.value_at_quantile(1.0 - 1.0 / x))))
        .collect();
    points.push((n.max(1.0), us(h.max())));
    points
}

fn us(ns: u64) -> f64 {
    // The log axis needs a positive value; a histogram never records below 1 ns.
    (ns.max(1) as f64) / 1e3
}

/// The axis label of x = 1 / (1 − q) at whole decades: "0%", "90%", "99%", "99.9%", …;
/// none between them, where plotters also puts marks.
fn percentile(x: f64) -> String {
    let decade = x.log10();
    if (decade - decade.round()).abs() > 1e-9 {
        return String::new();
    }
    let p = 100.0 * (1.0 - 1.0 / x);
    let text = format!("{p:.5}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn micros(y: f64) -> String {
    if y >= 1.0 { format!("{y:.0}") } else { format!("{y}") }
}

fn plot_error<E: std::error::Error>(e: E) -> anyhow::Error {
    anyhow!("drawing the plot: {e}")
}
