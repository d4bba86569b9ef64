//! What a run is shown as besides its table, for `bench` and `compare`
//! alike: who was served when as text (`--timeline`) and as a picture
//! (`--timeline-svg`), and the chart (`--plot`).
//!
//! A teacher's own servers (`bench --addr`, `compare --server`) get the
//! same views as compare's in-process modes, from the same reports.

use std::path::{Path, PathBuf};

use super::caption::RunParams;
use super::picture::{PlotError, check_output};
use super::plot::plot;
use super::report::BenchReport;
use super::timeline::render_text;
use super::timeline_plot::plot_timeline;

/// The views asked for.
#[derive(Debug, Clone, Default)]
pub(super) struct Views {
    pub(super) timeline: bool,
    pub(super) timeline_svg: Option<PathBuf>,
    pub(super) plot: Option<PathBuf>,
}

impl Views {
    /// Whether the runs must record who was served when.
    pub(super) fn need_timeline(&self) -> bool {
        self.timeline || self.timeline_svg.is_some()
    }

    /// Refuses, before any run, a picture that could not be written, so
    /// a wrong path costs no waiting.
    pub(super) fn check(&self) -> Result<(), String> {
        if let Some(path) = &self.plot {
            check_output(path, "--plot")?;
        }
        if let Some(path) = &self.timeline_svg {
            check_output(path, "--timeline-svg")?;
            if self.plot.as_ref() == Some(path) {
                return Err("--plot and --timeline-svg name the same file".into());
            }
        }
        Ok(())
    }

    /// Prints the text timeline (to stdout after a table, else to stderr,
    /// so JSON and CSV stay clean) and draws the pictures; false if a
    /// picture could not be written (said on stderr).
    pub(super) fn show(
        &self,
        rows: &[(String, BenchReport)],
        params: &RunParams,
        table: bool,
        emit: impl Fn(&str),
    ) -> bool {
        if self.timeline {
            let text = render_text(rows);
            if table {
                emit(&format!("\n{text}"));
            } else {
                eprint!("{text}");
            }
        }
        let mut drawn = true;
        if let Some(path) = &self.plot {
            drawn &= said(plot(rows, params, path), path, "Chart");
        }
        if let Some(path) = &self.timeline_svg {
            drawn &= said(plot_timeline(rows, params, path), path, "Timeline");
        }
        drawn
    }
}

/// Says where a picture went, or why it did not; true if written.
fn said(result: Result<(), PlotError>, path: &Path, what: &str) -> bool {
    match result {
        Ok(()) => {
            eprintln!("{what} written to {}", path.display());
            true
        }
        Err(e) => {
            eprintln!("error: {}: {e}", path.display());
            false
        }
    }
}
