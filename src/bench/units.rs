//! Numbers scaled for people: durations in µs, ms or s, rates without
//! false precision, and axis ticks whose labels are exact and all
//! different.
//!
//! The table, the chart and the timeline all show times, and a learner
//! compares them across the three: one set of rules keeps `3.00 s` in the
//! table and `3 s` on an axis telling the same story.

/// A unit for showing a time measured in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TimeUnit {
    /// Microseconds.
    Micros,
    /// Milliseconds.
    Millis,
    /// Seconds.
    Secs,
}

impl TimeUnit {
    /// The unit in which a largest value of `max_us` microseconds reads
    /// best: µs below a millisecond, ms below a second, else s. Rounding is
    /// taken into account, so 999.7 µs is shown as `1.00 ms`, not `1000 µs`.
    pub(super) fn for_max(max_us: f64) -> TimeUnit {
        if max_us < 999.5 {
            TimeUnit::Micros
        } else if max_us < 999_500.0 {
            TimeUnit::Millis
        } else {
            TimeUnit::Secs
        }
    }

    /// The symbol after a number: `µs`, `ms` or `s`.
    pub(super) fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Micros => "µs",
            TimeUnit::Millis => "ms",
            TimeUnit::Secs => "s",
        }
    }

    /// `us` microseconds in this unit.
    pub(super) fn of(self, us: f64) -> f64 {
        match self {
            TimeUnit::Micros => us,
            TimeUnit::Millis => us / 1e3,
            TimeUnit::Secs => us / 1e6,
        }
    }
}

/// `us` microseconds as people read them: `73 µs`, `1.25 ms`, `12.5 ms`,
/// `250 ms`, `3.00 s`. At most three significant digits (whole µs below a
/// millisecond): more would be noise in a run of a few seconds.
pub(super) fn duration_us(us: f64) -> String {
    let unit = TimeUnit::for_max(us);
    let v = unit.of(us);
    match unit {
        TimeUnit::Micros => format!("{v:.0} µs"),
        _ => format!("{} {}", three_digits(v), unit.symbol()),
    }
}

/// `secs` seconds as people read them (see [`duration_us`]).
pub(super) fn duration_s(secs: f64) -> String {
    duration_us(secs * 1e6)
}

/// `v` with three significant digits for values from 1 to 999: `1.25`,
/// `12.5`, `250`.
fn three_digits(v: f64) -> String {
    if v < 9.995 {
        format!("{v:.2}")
    } else if v < 99.95 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A rate (messages or connections per second): whole numbers, but with
/// decimals where the lesson's slow runs (1 or 2 msgs/s) would otherwise
/// round away the point.
pub(super) fn per_sec(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// Axis ticks from 0 up: evenly spaced at 1, 2 or 5 × 10^k, with as many
/// decimals as the step needs and no more, so `0, 0.5, 1, 1.5, 2` reads
/// as such instead of `0, 0, 1, 2, 2`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Ticks {
    /// The tick values, from 0 to [`Ticks::top`].
    pub(super) values: Vec<f64>,
    /// Decimals every label needs for the step.
    pub(super) decimals: usize,
}

impl Ticks {
    /// About `target` ticks from 0 to at least `max` (at least two ticks:
    /// 0 and one step). A `max` of 0 or less, or not finite, gets the
    /// ticks of 1, so an empty chart still has an axis.
    pub(super) fn up_to(max: f64, target: usize) -> Ticks {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let raw = max / target.max(1) as f64;
        let mut exp = raw.log10().floor() as i32;
        let norm = raw / 10f64.powi(exp);
        // Steps of 1, 2, 5, then 10 = 1 × 10^(k+1).
        let mult: u64 = if norm <= 1.0 + 1e-9 {
            1
        } else if norm <= 2.0 + 1e-9 {
            2
        } else if norm <= 5.0 + 1e-9 {
            5
        } else {
            exp += 1;
            1
        };
        let step = mult as f64 * 10f64.powi(exp);
        let n = (max / step - 1e-9).ceil().max(1.0) as u64;
        // Each value is computed from integers, not by adding steps, so
        // no rounding error accumulates.
        let values = (0..=n)
            .map(|i| (i * mult) as f64 * 10f64.powi(exp))
            .collect();
        Ticks {
            values,
            decimals: usize::try_from(-exp).unwrap_or(0),
        }
    }

    /// The largest tick: where the axis ends.
    pub(super) fn top(&self) -> f64 {
        self.values.last().copied().unwrap_or(1.0)
    }

    /// The label of tick value `v`.
    pub(super) fn label(&self, v: f64) -> String {
        format!("{v:.*}", self.decimals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_scaled_to_a_unit_people_read() {
        assert_eq!(duration_us(0.0), "0 µs");
        assert_eq!(duration_us(73.0), "73 µs");
        assert_eq!(duration_us(999.0), "999 µs");
        assert_eq!(duration_us(999.7), "1.00 ms");
        assert_eq!(duration_us(1_250.0), "1.25 ms");
        assert_eq!(duration_us(12_500.0), "12.5 ms");
        assert_eq!(duration_us(250_000.0), "250 ms");
        assert_eq!(duration_us(999_400.0), "999 ms");
        assert_eq!(duration_us(999_600.0), "1.00 s");
        assert_eq!(duration_us(3_004_000.0), "3.00 s");
        assert_eq!(duration_us(125_000_000.0), "125 s");
        assert_eq!(duration_s(6.0), "6.00 s");
    }

    #[test]
    fn rates_keep_decimals_only_when_small() {
        assert_eq!(per_sec(1.0), "1.00");
        assert_eq!(per_sec(99.5), "99.50");
        assert_eq!(per_sec(25_318.4), "25318");
    }

    #[test]
    fn the_old_duplicate_labels_are_gone() {
        let t = Ticks::up_to(2.0, 4);
        let labels: Vec<String> = t.values.iter().map(|v| t.label(*v)).collect();
        assert_eq!(labels, ["0.0", "0.5", "1.0", "1.5", "2.0"]);
    }

    /// Over ranges from 10^-4 to 10^10, at many points within each
    /// decade: labels all different, exact to their step, starting at 0,
    /// covering the maximum, and a readable count.
    #[test]
    fn tick_labels_are_distinct_and_exact_over_many_ranges() {
        for decade in -4..=10 {
            for i in 1..=97 {
                let max = (1.0 + i as f64 * 0.093) * 10f64.powi(decade);
                for target in [3, 4, 5, 6, 8] {
                    let t = Ticks::up_to(max, target);
                    let labels: Vec<String> = t.values.iter().map(|v| t.label(*v)).collect();
                    let mut unique = labels.clone();
                    unique.sort();
                    unique.dedup();
                    assert_eq!(unique.len(), labels.len(), "max {max}: {labels:?}");
                    assert!(t.top() >= max * (1.0 - 1e-9), "max {max}: {labels:?}");
                    assert_eq!(t.values[0], 0.0);
                    assert!(
                        (2..=2 * target + 2).contains(&labels.len()),
                        "max {max} target {target}: {labels:?}"
                    );
                    let step = t.values[1] - t.values[0];
                    for (v, l) in t.values.iter().zip(&labels) {
                        let back: f64 = l.parse().unwrap();
                        assert!((back - v).abs() < step / 100.0, "{l} for {v}");
                        // No trailing decimals beyond what the step needs.
                        if t.decimals > 0 {
                            assert!(l.contains('.'), "{l}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn empty_or_bad_ranges_still_get_an_axis() {
        for max in [0.0, -3.0, f64::NAN, f64::INFINITY] {
            let t = Ticks::up_to(max, 4);
            assert!(t.values.len() >= 2, "{max}: {t:?}");
            assert_eq!(t.top(), 1.0);
        }
    }
}
