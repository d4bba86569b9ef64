//! Text on the chart: widths, wrapping, names broken after a dash, fonts.

use super::*;

pub(in crate::bench) fn text_width(text: &str, px: u32) -> u32 {
    (FAMILY, f64::from(px))
        .into_font()
        .box_size(text)
        .map_or_else(|_| text.chars().count() as u32 * px * 3 / 5, |(w, _)| w)
}

/// `text` broken between words into lines at most `width` wide (a word
/// wider than that on a line of its own).
pub(in crate::bench) fn wrap(text: &str, px: u32, width: u32) -> Vec<String> {
    wrap_pieces(text.split_whitespace(), px, width)
}

/// `pieces`, joined by spaces, in lines at most `width` wide (a piece
/// wider than that on a line of its own).
pub(super) fn wrap_pieces<'t>(
    pieces: impl Iterator<Item = &'t str>,
    px: u32,
    width: u32,
) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in pieces {
        let longer = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if line.is_empty() || text_width(&longer, px) <= width {
            line = longer;
        } else {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A list such as the caption (`a, b, c`) in lines at most `width` wide,
/// broken only after a comma, and as even as that many lines can be: no
/// line of one lonely item.
pub(in crate::bench) fn balance(list: &str, px: u32, width: u32) -> Vec<String> {
    let parts: Vec<&str> = list.split(", ").collect();
    let items: Vec<String> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i + 1 < parts.len() {
                format!("{p},")
            } else {
                p.to_string()
            }
        })
        .collect();
    let at = |w: u32| wrap_pieces(items.iter().map(String::as_str), px, w);
    let lines = at(width).len();
    // The narrowest width that needs no more lines.
    let (mut lo, mut hi) = (0, width);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if at(mid).len() <= lines {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    at(hi)
}

/// The largest size from `px` down to `min` at which every text is at most
/// `width` wide (`min` if none is).
pub(super) fn fit<'t>(
    texts: impl Iterator<Item = &'t str> + Clone,
    px: u32,
    min: u32,
    width: u32,
) -> u32 {
    (min..=px)
        .rev()
        .find(|&size| texts.clone().all(|t| text_width(t, size) <= width))
        .unwrap_or(min)
}

/// The modes' names as drawn: their size, and each one's lines.
pub(super) struct Names {
    pub(super) px: u32,
    pub(super) lines: Vec<Vec<String>>,
}

impl Names {
    /// Lines of the longest name.
    pub(super) fn rows(&self) -> u32 {
        self.lines.iter().map(Vec::len).max().unwrap_or(1) as u32
    }
}

/// A mode's name in lines at most `width` wide, broken only after a `-`,
/// `_` or space (`event-` `workers`); a piece wider than that on a line of
/// its own.
pub(super) fn break_name(name: &str, px: u32, width: u32) -> Vec<String> {
    let mut pieces: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, c) in name.char_indices() {
        if matches!(c, '-' | '_' | ' ') {
            pieces.push(&name[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    pieces.push(&name[start..]);
    let mut lines: Vec<String> = Vec::new();
    for piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        match lines.last_mut() {
            Some(last) if text_width(format!("{last}{piece}").trim_end(), px) <= width => {
                last.push_str(piece);
            }
            _ => lines.push(piece.to_string()),
        }
    }
    let lines: Vec<String> = lines.iter().map(|l| l.trim_end().to_string()).collect();
    if lines.is_empty() {
        vec![String::new()]
    } else {
        lines
    }
}

/// The line height of text of `px` pixels.
pub(super) fn line(px: u32) -> u32 {
    px * 13 / 10
}

pub(super) fn font(px: u32, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    (FAMILY, f64::from(px))
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

/// `c` mixed with white: a pale bar.
pub(super) fn pale(c: RGBColor) -> RGBColor {
    let mix = |v: u8| v + ((255 - u16::from(v)) * 7 / 10) as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}
