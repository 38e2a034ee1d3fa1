//! The bench's pictures, drawn with plotters into SVG files.
//!
//! Contract: [`timeline`] draws one row per worker and one filled rectangle per task (from its
//! start to its end; idle time is the gaps), in [`OK_COLOR`] or [`FAILED_COLOR`] and no other
//! rectangle in those colours, so a reader can count the tasks. [`speedup`] draws one bar per
//! (experiment, mode) with its speedup over sequential. Errors name the file.

use std::path::Path;

use anyhow::anyhow;
use concur::trace::{Outcome, TaskEvent, Worker};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The fill of a task that succeeded (`#2a6fdb` in the SVG).
pub const OK_COLOR: RGBColor = RGBColor(0x2a, 0x6f, 0xdb);
/// The fill of a task that failed (`#d62728` in the SVG).
pub const FAILED_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);

/// Writes the timeline of `events` to `path`, titled `title`.
pub fn timeline(path: &Path, title: &str, events: &[TaskEvent]) -> anyhow::Result<()> {
    let fail = |e: &dyn std::fmt::Display| anyhow!("cannot draw {}: {e}", path.display());
    let mut rows: Vec<Worker> = events.iter().map(|e| e.worker).collect();
    rows.sort();
    rows.dedup();
    let start = events
        .iter()
        .map(|e| e.started.as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    let start = if start.is_finite() { start } else { 0.0 };
    let end = events
        .iter()
        .map(|e| e.finished.as_secs_f64())
        .fold(start, f64::max);
    let span = (end - start).max(1e-6);
    let height = 120 + 40 * rows.len().max(1) as u32;
    let root = SVGBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..span * 1.02, 0.0..rows.len().max(1) as f64)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("seconds")
        .y_labels(0)
        .draw()
        .map_err(|e| fail(&e))?;
    // Each row's name, beside the middle of its row (axis labels would sit on row edges).
    let name_style =
        TextStyle::from(("sans-serif", 12).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (row, worker) in rows.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, row as f64 + 0.5));
        root.draw(&Text::new(
            worker.to_string(),
            (x - 8, y),
            name_style.clone(),
        ))
        .map_err(|e| fail(&e))?;
    }
    chart
        .draw_series(events.iter().map(|e| {
            let row = rows.iter().position(|w| *w == e.worker).unwrap_or(0) as f64;
            let color = if e.outcome == Outcome::Ok {
                OK_COLOR
            } else {
                FAILED_COLOR
            };
            let (x0, x1) = (
                e.started.as_secs_f64() - start,
                e.finished.as_secs_f64() - start,
            );
            Rectangle::new(
                [(x0, row + 0.15), (x1.max(x0 + span * 1e-3), row + 0.85)],
                color.filled(),
            )
        }))
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}

/// Writes a bar chart of `bars` (label, speedup over sequential) to `path`.
pub fn speedup(path: &Path, bars: &[(String, f64)]) -> anyhow::Result<()> {
    let fail = |e: &dyn std::fmt::Display| anyhow!("cannot draw {}: {e}", path.display());
    let top = bars.iter().map(|b| b.1).fold(1.0, f64::max) * 1.15;
    let root =
        SVGBackend::new(path, (1000, 120 + 28 * bars.len().max(1) as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "speedup over sequential (median wall time)",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(260)
        .build_cartesian_2d(0.0..top, 0.0..bars.len().max(1) as f64)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc("speedup (x)")
        .y_labels(bars.len().max(1))
        .y_label_formatter(&|y| {
            bars.get(*y as usize)
                .map(|b| b.0.clone())
                .unwrap_or_default()
        })
        .draw()
        .map_err(|e| fail(&e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, s))| {
            Rectangle::new(
                [(0.0, i as f64 + 0.15), (*s, i as f64 + 0.85)],
                OK_COLOR.filled(),
            )
        }))
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))
}
