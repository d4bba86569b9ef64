//! Where pictures go: an SVG or a PNG file, chosen by the file's extension,
//! checked before a comparison runs, drawn with a font the program carries.
//!
//! A comparison takes seconds to minutes; a chart path that cannot be
//! written must fail before that time is spent, not after. And a PNG needs
//! a font to draw its text with: the bitmap backend has none of its own,
//! and a fresh machine may have no fonts installed, so the program embeds a
//! small subset of DejaVu Sans (ASCII, Latin-1, µ) and registers it with
//! plotters' `ab_glyph` renderer. SVG text is drawn by the viewer; the same
//! font only measures it, so labels are placed alike in both formats.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::ops::Range;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;

/// The embedded font: DejaVu Sans cut down to the characters the pictures
/// use (`font/README.md` says how, `font/LICENSE` under which terms).
static FONT: &[u8] = include_bytes!("font/DejaVuSans-subset.ttf");

/// The family name the pictures ask for; the embedded font answers it.
pub(super) const FAMILY: &str = "sans-serif";

/// A picture could not be drawn or written: its own error, so a failed
/// picture does not hide the comparison already printed.
#[derive(Debug)]
pub struct PlotError(pub(super) String);

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot draw the plot: {}", self.0)
    }
}

impl std::error::Error for PlotError {}

/// Any drawing error as a [`PlotError`].
pub(super) fn plot_err(e: impl fmt::Display) -> PlotError {
    PlotError(e.to_string())
}

/// The file formats a picture can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// Scalable, text kept as text: for the web and for diffs.
    Svg,
    /// A bitmap: for slides and chat, where SVG is not shown.
    Png,
}

/// The format `path` asks for by its extension (case ignored), or the line
/// that says what is accepted, naming `flag`.
pub(super) fn format_of(path: &Path, flag: &str) -> Result<Format, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(format!(
            "{flag} {}: the file must end in .svg or .png",
            path.display()
        )),
    }
}

/// Checks, before any run, that a picture can be written to `path` in a
/// known format: one line naming `flag` and the reason if not. Nothing is
/// left behind: an existing file is opened without being truncated, a new
/// one is created and removed again.
pub(super) fn check_output(path: &Path, flag: &str) -> Result<(), String> {
    format_of(path, flag)?;
    let fail = |why: String| Err(format!("{flag} {}: {why}", path.display()));
    if path.is_dir() {
        return fail("is a directory".into());
    }
    if path.exists() {
        return match OpenOptions::new().append(true).open(path) {
            Ok(_) => Ok(()),
            Err(e) => fail(format!("cannot be written: {e}")),
        };
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return fail(format!("directory {} does not exist", dir.display()));
    }
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => {
            let _ = fs::remove_file(path);
            Ok(())
        }
        Err(e) => fail(format!("cannot be created: {e}")),
    }
}

/// Something drawn the same way on any backend.
pub(super) trait Picture {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the whole picture on `root`, already filled white.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static;
}

/// Writes `picture` to `path` as SVG or PNG, by its extension.
pub(super) fn save(picture: &impl Picture, path: &Path) -> Result<(), PlotError> {
    match format_of(path, "file").map_err(PlotError)? {
        Format::Svg => save_svg(picture, path),
        Format::Png => {
            register_font();
            let root = BitMapBackend::new(path, picture.size()).into_drawing_area();
            render(picture, &root)
        }
    }
}

/// Writes `picture` to `path` as SVG, whatever its extension.
pub(super) fn save_svg(picture: &impl Picture, path: &Path) -> Result<(), PlotError> {
    register_font();
    let root = SVGBackend::new(path, picture.size()).into_drawing_area();
    render(picture, &root)
}

fn render<DB: DrawingBackend>(
    picture: &impl Picture,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(plot_err)?;
    picture.draw(root)?;
    root.present().map_err(plot_err)
}

/// A linear axis from `lo` to `hi` with ticks exactly at `ticks`: plotters
/// picks its own tick values otherwise, and its labels of them can repeat
/// (`0, 0, 1, 2, 2` for steps of 0.5 shown without decimals). Ticks come
/// from [`Ticks`](super::units::Ticks), whose labels are all distinct.
pub(super) struct TickedAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl TickedAxis {
    /// The axis over `range`, ticked at `ticks`.
    pub(super) fn new(range: Range<f64>, ticks: Vec<f64>) -> TickedAxis {
        TickedAxis {
            lo: range.start,
            hi: range.end,
            ticks,
        }
    }
}

impl Ranged for TickedAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        if self.hi <= self.lo {
            return (limit.0 + limit.1) / 2;
        }
        let share = (value - self.lo) / (self.hi - self.lo);
        limit.0 + (f64::from(limit.1 - limit.0) * share).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // The ticks are the bold lines; no light lines between them.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// Makes the embedded font the one [`FAMILY`] names, once per process.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            // The font is part of the binary and checked by a test; this
            // cannot happen unless the file was replaced by a broken one.
            log::error!("the embedded font cannot be read: pictures will have no text");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_svg_and_png_are_accepted() {
        assert_eq!(format_of(Path::new("a.svg"), "--plot"), Ok(Format::Svg));
        assert_eq!(format_of(Path::new("a.PNG"), "--plot"), Ok(Format::Png));
        let e = format_of(Path::new("a.jpg"), "--plot").unwrap_err();
        assert_eq!(e, "--plot a.jpg: the file must end in .svg or .png");
        assert!(format_of(Path::new("svg"), "--plot").is_err());
    }

    #[test]
    fn unwritable_paths_are_refused_and_nothing_is_left_behind() {
        let dir = std::env::temp_dir().join(format!("tcpmodes-picture-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let fresh = dir.join("chart.png");
        assert_eq!(check_output(&fresh, "--plot"), Ok(()));
        assert!(!fresh.exists(), "the probe must not stay");
        let e = check_output(&dir.join("missing/chart.svg"), "--plot").unwrap_err();
        assert!(e.contains("does not exist"), "{e}");
        let e = check_output(&dir.join("chart.svg/"), "--plot").unwrap_err();
        assert!(e.starts_with("--plot"), "{e}");
        fs::write(dir.join("old.svg"), "keep me").unwrap();
        assert_eq!(check_output(&dir.join("old.svg"), "--plot"), Ok(()));
        assert_eq!(fs::read_to_string(dir.join("old.svg")).unwrap(), "keep me");
        fs::create_dir_all(dir.join("d.svg")).unwrap();
        let e = check_output(&dir.join("d.svg"), "--plot").unwrap_err();
        assert!(e.contains("is a directory"), "{e}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_embedded_font_reads() {
        assert!(ab_glyph_font_ok(FONT));
    }

    fn ab_glyph_font_ok(bytes: &'static [u8]) -> bool {
        plotters::style::register_font("tcpmodes-test", FontStyle::Normal, bytes).is_ok()
    }
}
