//! Drawing the chart: its header of served counts, its panels, bars and
//! whiskers.

use super::text::*;
use super::*;

impl Chart {
    pub(super) fn modes(&self) -> usize {
        self.labels.len()
    }

    /// Each mode's column, in pixels from the picture's left: the same in
    /// the served band and under every panel.
    pub(super) fn column(&self, i: usize) -> (i32, i32) {
        let left = (SIDE + Y_LABELS) as f64;
        let width = f64::from(WIDTH - 2 * SIDE - Y_LABELS) / self.modes() as f64;
        (
            (left + width * i as f64).round() as i32,
            (left + width * (i + 1) as f64).round() as i32,
        )
    }

    pub(super) fn column_width(&self) -> u32 {
        (WIDTH - 2 * SIDE - Y_LABELS) / self.modes() as u32
    }

    /// The modes' names, each in at most two lines (broken after a `-`,
    /// `_` or space), as large as fits their columns.
    pub(super) fn names(&self) -> Names {
        let room = self.column_width().saturating_sub(8);
        let at = |px: u32| -> Vec<Vec<String>> {
            self.labels
                .iter()
                .map(|l| break_name(l, px, room))
                .collect()
        };
        for px in (NAME_MIN_PX..=NAME_PX).rev() {
            let lines = at(px);
            let fits = lines.iter().flatten().all(|l| text_width(l, px) <= room);
            if fits && lines.iter().all(|l| l.len() <= 2) {
                return Names { px, lines };
            }
        }
        Names {
            px: NAME_MIN_PX,
            lines: self.labels.iter().map(|l| vec![l.clone()]).collect(),
        }
    }

    /// Under each panel's bars: the modes' names.
    pub(super) fn x_labels(&self) -> u32 {
        let names = self.names();
        10 + line(names.px) * names.rows()
    }

    /// The served band's figures' room: a box's width, less its border.
    pub(super) fn box_room(&self) -> u32 {
        self.column_width().saturating_sub(16)
    }

    /// Under each served count: `3 never served` or `all served`, in as
    /// many lines as the box needs.
    pub(super) fn verdicts(&self) -> Vec<Vec<String>> {
        self.served
            .iter()
            .map(|s| wrap(&s.verdict(), TEXT_PX, self.box_room()))
            .collect()
    }

    /// The height of the served band's boxes.
    pub(super) fn band_box(&self) -> u32 {
        let names = self.names();
        let verdicts = self.verdicts().iter().map(Vec::len).max().unwrap_or(1) as u32;
        8 + line(names.px) * names.rows() + line(SERVED_PX) + line(TEXT_PX) * verdicts + 6
    }

    /// The title and the caption, each broken into lines that fit.
    pub(super) fn header_lines(&self) -> (Vec<String>, Vec<String>) {
        let room = WIDTH - 2 * SIDE;
        let title = wrap(self.title, TITLE_PX, room);
        let caption = if self.caption.is_empty() {
            Vec::new()
        } else {
            balance(&self.caption, TEXT_PX, room)
        };
        (title, caption)
    }

    pub(super) fn header_height(&self) -> u32 {
        let (title, caption) = self.header_lines();
        12 + line(TITLE_PX) * title.len() as u32 + line(TEXT_PX) * caption.len() as u32 + 14
    }

    pub(super) fn note_lines(&self) -> Vec<String> {
        self.notes
            .iter()
            .flat_map(|n| wrap(n, TEXT_PX, WIDTH - 2 * SIDE))
            .collect()
    }

    pub(super) fn legend_height(panel: &Panel) -> u32 {
        line(TEXT_PX) * panel.legend.len() as u32 + if panel.legend.is_empty() { 0 } else { 6 }
    }

    pub(super) fn panel_height(&self, panel: &Panel) -> u32 {
        line(PANEL_TITLE_PX)
            + 6
            + Self::legend_height(panel)
            + PLOT_TOP
            + PLOT_HEIGHT
            + self.x_labels()
            + PANEL_GAP
    }

    /// The width a bar's figure may take: its share of the column.
    pub(super) fn label_room(&self, bars: usize) -> u32 {
        (self.column_width() / bars.max(1) as u32).saturating_sub(8)
    }

    /// The pixels over a bar that its figure and its mode's note take.
    pub(super) fn label_stack(&self, group: &Group, bar: &Bar) -> u32 {
        let room = self.label_room(group.bars.len());
        let figure = wrap(&bar.label, LABEL_PX, room).len() as u32;
        let note = group.note.as_ref().map_or(0, |n| {
            wrap(n, LABEL_PX, self.column_width() - 8).len() as u32
        });
        (figure + note) * line(LABEL_PX) + 8
    }

    /// Where a panel's axis ends: above its highest bar, with room over
    /// every bar for the labels drawn there.
    pub(super) fn axis_top(&self, panel: &Panel) -> Ticks {
        let h = f64::from(PLOT_HEIGHT);
        let top = panel
            .groups
            .iter()
            .flat_map(|g| g.bars.iter().map(move |b| (g, b)))
            .map(|(g, b)| {
                let free = (h - f64::from(self.label_stack(g, b))).max(h / 3.0);
                b.reach() * h / free
            })
            .fold(0.0, f64::max);
        Ticks::up_to(top, 5)
    }
}

impl Picture for Chart {
    fn size(&self) -> (u32, u32) {
        let panels: u32 = self.panels.iter().map(|p| self.panel_height(p)).sum();
        let notes = line(TEXT_PX) * self.note_lines().len() as u32 + 16;
        (
            WIDTH,
            self.header_height() + BAND_TITLE + self.band_box() + BAND_GAP + panels + notes,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        let middle = WIDTH as i32 / 2;
        let (header, rest) = root.split_vertically(self.header_height());
        let (title, caption) = self.header_lines();
        let mut y = 12;
        for text in &title {
            let style = font(TITLE_PX, BLACK_TEXT, HPos::Center, VPos::Top);
            header
                .draw_text(text, &style, (middle, y))
                .map_err(plot_err)?;
            y += line(TITLE_PX) as i32;
        }
        for text in &caption {
            let style = font(TEXT_PX, GREY_TEXT, HPos::Center, VPos::Top);
            header
                .draw_text(text, &style, (middle, y))
                .map_err(plot_err)?;
            y += line(TEXT_PX) as i32;
        }
        let (band, mut rest) = rest.split_vertically(BAND_TITLE + self.band_box() + BAND_GAP);
        self.band(&band)?;
        for panel in &self.panels {
            let (area, below) = rest.split_vertically(self.panel_height(panel));
            self.panel(&area, panel)?;
            rest = below;
        }
        let style = font(TEXT_PX, GREY_TEXT, HPos::Left, VPos::Top);
        for (i, text) in self.note_lines().iter().enumerate() {
            rest.draw_text(
                text,
                &style,
                (SIDE as i32, (line(TEXT_PX) * i as u32) as i32),
            )
            .map_err(plot_err)?;
        }
        Ok(())
    }
}

impl Chart {
    /// The served band: a box per mode, its name and `k/n` served, red
    /// when some client was never served.
    pub(super) fn band<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        area.draw_text(
            "Clients served (got at least one answer), of all clients",
            &font(PANEL_TITLE_PX, BLACK_TEXT, HPos::Center, VPos::Top),
            (WIDTH as i32 / 2, 6),
        )
        .map_err(plot_err)?;
        let top = BAND_TITLE as i32;
        let bottom = top + self.band_box() as i32;
        let names = self.names();
        let fractions: Vec<String> = self.served.iter().map(Served::fraction).collect();
        let served_px = fit(
            fractions.iter().map(String::as_str),
            SERVED_PX,
            PANEL_TITLE_PX,
            self.box_room(),
        );
        let verdicts = self.verdicts();
        for (i, served) in self.served.iter().enumerate() {
            let (x0, x1) = self.column(i);
            let (ink, fill) = if served.short() {
                (UNSERVED, UNSERVED_FILL)
            } else {
                (SERVED, SERVED_FILL)
            };
            let rect = [(x0 + 4, top), (x1 - 4, bottom)];
            area.draw(&Rectangle::new(rect, fill.filled()))
                .map_err(plot_err)?;
            area.draw(&Rectangle::new(rect, ink.stroke_width(2)))
                .map_err(plot_err)?;
            let mid = (x0 + x1) / 2;
            let mut y = top + 8;
            for text in &names.lines[i] {
                let style = font(names.px, BLACK_TEXT, HPos::Center, VPos::Top);
                area.draw_text(text, &style, (mid, y)).map_err(plot_err)?;
                y += line(names.px) as i32;
            }
            // The counts line up across the boxes, however many lines
            // the names above them took.
            y = top + 8 + (line(names.px) * names.rows()) as i32;
            let style = font(served_px, ink, HPos::Center, VPos::Top);
            area.draw_text(&fractions[i], &style, (mid, y))
                .map_err(plot_err)?;
            y += line(SERVED_PX) as i32;
            for text in &verdicts[i] {
                let style = font(TEXT_PX, ink, HPos::Center, VPos::Top);
                area.draw_text(text, &style, (mid, y)).map_err(plot_err)?;
                y += line(TEXT_PX) as i32;
            }
        }
        Ok(())
    }

    /// One panel: its title, its legend, and each mode's bars with their
    /// figures over them; over the bars of a mode that left clients
    /// unserved, the note that says so.
    pub(super) fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
    ) -> Result<(), PlotError>
    where
        DB::ErrorType: 'static,
    {
        area.draw_text(
            &panel.title,
            &font(PANEL_TITLE_PX, BLACK_TEXT, HPos::Center, VPos::Top),
            (WIDTH as i32 / 2, 4),
        )
        .map_err(plot_err)?;
        let mut y = (line(PANEL_TITLE_PX) + 6) as i32;
        let left = (SIDE + Y_LABELS) as i32;
        for (color, text) in &panel.legend {
            area.draw(&Rectangle::new(
                [(left, y + 3), (left + 26, y + 17)],
                color.filled(),
            ))
            .map_err(plot_err)?;
            area.draw_text(
                text,
                &font(TEXT_PX, BLACK_TEXT, HPos::Left, VPos::Top),
                (left + 34, y),
            )
            .map_err(plot_err)?;
            y += line(TEXT_PX) as i32;
        }
        let (_, below) =
            area.split_vertically(line(PANEL_TITLE_PX) + 6 + Self::legend_height(panel));
        let (plot_area, _) = below.split_vertically(PLOT_TOP + PLOT_HEIGHT + self.x_labels());

        let n = self.modes();
        let ticks = self.axis_top(panel);
        let top = ticks.top();
        let mut chart = ChartBuilder::on(&plot_area)
            .margin_left(SIDE)
            .margin_right(SIDE)
            .margin_top(PLOT_TOP)
            .x_label_area_size(self.x_labels())
            .y_label_area_size(Y_LABELS)
            .build_cartesian_2d(
                // No ticks on x: the names are drawn below, in as many
                // lines as they need.
                TickedAxis::new(0.0..n as f64, Vec::new()),
                TickedAxis::new(0.0..top, ticks.values.clone()),
            )
            .map_err(plot_err)?;
        let y_label = |v: &f64| ticks.label(*v);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_label_formatter(&y_label)
            .y_label_style((FAMILY, f64::from(TICK_PX)))
            .y_desc(panel.axis.as_str())
            .axis_desc_style((FAMILY, f64::from(TEXT_PX)))
            .draw()
            .map_err(plot_err)?;

        // Everything below is drawn in pixels on the panel's area.
        let base = area.get_base_pixel();
        let at = |x: f64, v: f64| {
            let (px, py) = chart.backend_coord(&(x, v));
            (px - base.0, py - base.1)
        };
        let names = self.names();
        let (_, axis_y) = at(0.0, 0.0);
        for (i, lines) in names.lines.iter().enumerate() {
            let (x0, x1) = self.column(i);
            let mut y = axis_y + 8;
            for text in lines {
                let style = font(names.px, BLACK_TEXT, HPos::Center, VPos::Top);
                area.draw_text(text, &style, ((x0 + x1) / 2 - base.0, y))
                    .map_err(plot_err)?;
                y += line(names.px) as i32;
            }
        }
        for (i, group) in panel.groups.iter().enumerate() {
            let k = group.bars.len().max(1);
            let width = (1.0 - 2.0 * PAD - GAP * (k - 1) as f64) / k as f64;
            let mut label_tops = Vec::new();
            for (j, bar) in group.bars.iter().enumerate() {
                let x0 = i as f64 + PAD + j as f64 * (width + GAP);
                let (left, bottom) = at(x0, 0.0);
                let (right, mut top_px) = at(x0 + width, bar.value);
                if bar.value > 0.0 {
                    // A figure too small for the axis still shows its
                    // colour: which of a mode's bars the label belongs to.
                    top_px = top_px.min(bottom - MIN_BAR);
                }
                let mid = (left + right) / 2;
                let rect = [(left, top_px), (right, bottom)];
                if bar.pale {
                    area.draw(&Rectangle::new(rect, pale(bar.color).filled()))
                        .map_err(plot_err)?;
                    hatch(area, rect, bar.color)?;
                    area.draw(&Rectangle::new(rect, bar.color.stroke_width(1)))
                        .map_err(plot_err)?;
                } else {
                    area.draw(&Rectangle::new(rect, bar.color.filled()))
                        .map_err(plot_err)?;
                }
                let mut above = top_px;
                let whisker = bar.range.map(|(lo, hi)| (at(0.0, lo).1, at(0.0, hi).1));
                // A spread too narrow to see at this scale gets no whisker.
                if let Some((y_lo, y_hi)) = whisker.filter(|(lo, hi)| lo - hi >= 4) {
                    let cap = ((right - left) / 4).clamp(4, 10);
                    let style = WHISKER_COLOR.stroke_width(2);
                    for path in [
                        vec![(mid, y_lo), (mid, y_hi)],
                        vec![(mid - cap, y_lo), (mid + cap, y_lo)],
                        vec![(mid - cap, y_hi), (mid + cap, y_hi)],
                    ] {
                        area.draw(&PathElement::new(path, style))
                            .map_err(plot_err)?;
                    }
                    above = above.min(y_hi);
                }
                let ink = if bar.pale { GREY_TEXT } else { BLACK_TEXT };
                let lines = wrap(&bar.label, LABEL_PX, self.label_room(k));
                label_tops.push(stack_up(area, &lines, ink, (mid, above - 5))?);
            }
            if let Some(note) = &group.note {
                let (x0, x1) = self.column(i);
                let mid = (x0 + x1) / 2 - base.0;
                let y = label_tops.into_iter().min().unwrap_or(0);
                let lines = wrap(note, LABEL_PX, self.column_width() - 8);
                stack_up(area, &lines, UNSERVED, (mid, y))?;
            }
        }
        Ok(())
    }
}

/// Diagonal lines across the rectangle `[(left, top), (right, bottom)]`.
pub(super) fn hatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    [(left, top), (right, bottom)]: [(i32, i32); 2],
    color: RGBColor,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    // Lines of x - y = c, from the rectangle's lower left corner to its
    // upper right, each cut to the rectangle.
    let mut c = left - bottom;
    while c < right - top {
        let from = left.max(top + c);
        let to = right.min(bottom + c);
        if from < to {
            area.draw(&PathElement::new(
                vec![(from, from - c), (to, to - c)],
                color.stroke_width(1),
            ))
            .map_err(plot_err)?;
        }
        c += 12;
    }
    Ok(())
}

/// Draws `lines` centred on `x`, the last one ending at `y`, each above
/// the next; returns the top of the first.
fn stack_up<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[String],
    ink: RGBColor,
    (x, mut y): (i32, i32),
) -> Result<i32, PlotError>
where
    DB::ErrorType: 'static,
{
    for text in lines.iter().rev() {
        area.draw_text(
            text,
            &font(LABEL_PX, ink, HPos::Center, VPos::Bottom),
            (x, y),
        )
        .map_err(plot_err)?;
        y -= line(LABEL_PX) as i32;
    }
    Ok(y)
}
