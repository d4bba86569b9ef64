//! `--histogram FILE`: the whole latency distribution as text, in the
//! format HdrHistogram's `outputPercentileDistribution` (Java) and
//! `hdr_percentiles_print` (C, `CLASSIC`) print and wrk2 shows under
//! `--latency` as its "Detailed Percentile spectrum", so the tools that
//! plot those files (HdrHistogram's plotter, wrk2 scripts) read ours:
//!
//! ```text
//!        Value   Percentile   TotalCount 1/(1-Percentile)
//!
//!        0.050     0.000000            1         1.00
//!        …
//!       52.735     1.000000       997641          inf
//! #[Mean    =        0.850, StdDeviation   =        0.980]
//! #[Max     =       52.704, Total count    =       997641]
//! #[Buckets =           27, SubBuckets     =         2048]
//! ```
//!
//! Values are in milliseconds (recorded in µs, scaled by 1000, as wrk2
//! does), with as many decimals as the histogram has significant digits;
//! percentiles step by halving the distance to 100%, 5 ticks per half, as
//! wrk2 asks.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Ticks per half distance to 100%, as wrk2 prints.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// Recorded values (µs) per printed unit (ms).
const VALUE_SCALE: f64 = 1000.0;

/// The percentile distribution of `h` (values in µs), printed in ms.
pub(super) fn percentile_distribution(h: &Histogram<u64>) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>12} {:>12} {:>12}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let _ = writeln!(
                out,
                "{:>12.digits$} {:>12.6} {:>12} {:>12.2}",
                v.value_iterated_to() as f64 / VALUE_SCALE,
                q,
                total,
                1.0 / (1.0 - q),
            );
        }
    }
    let (mean, stdev, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean(), h.stdev(), h.max() as f64)
    };
    let _ = write!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]\n\
         #[Max     = {:>12.3}, Total count    = {:>12}]\n\
         #[Buckets = {:>12}, SubBuckets     = {:>12}]\n",
        mean / VALUE_SCALE,
        stdev / VALUE_SCALE,
        max / VALUE_SCALE,
        h.len(),
        h.buckets(),
        sub_buckets(h.sigfig()),
    );
    out
}

/// Sub-buckets per bucket of a histogram with `sigfig` significant digits:
/// the smallest power of two that holds `2 * 10^sigfig` values, as every
/// HdrHistogram computes it (2048 for 3 digits). The crate does not expose
/// it, and the footer prints it.
fn sub_buckets(sigfig: u8) -> u32 {
    (2 * 10u32.pow(u32::from(sigfig))).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_wrk2s_detailed_percentile_spectrum() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for us in 1..=1000u64 {
            h.record(us * 100).unwrap(); // 0.1 ms to 100 ms
        }
        let text = percentile_distribution(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value   Percentile   TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "       0.100     0.000000            1         1.00"
        );
        let last = lines[lines.len() - 4];
        assert!(
            last.ends_with("1.000000         1000          inf"),
            "{last}"
        );
        assert!(last.trim_start().starts_with("100.0"), "{last}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("     0.500000          500         2.00")),
            "{text}"
        );
        let footer = &lines[lines.len() - 3..];
        assert!(
            footer[0].starts_with("#[Mean    =       50.0"),
            "{footer:?}"
        );
        assert!(
            footer[0].contains(", StdDeviation   =       28.8"),
            "{footer:?}"
        );
        assert!(
            footer[1].starts_with("#[Max     =      100.0")
                && footer[1].ends_with(", Total count    =         1000]"),
            "{footer:?}"
        );
        assert_eq!(
            footer[2],
            format!(
                "#[Buckets = {:>12}, SubBuckets     =         2048]",
                h.buckets()
            )
        );
        // Every row has the four columns, and percentiles only grow.
        let rows: Vec<Vec<f64>> = lines[2..lines.len() - 3]
            .iter()
            .map(|l| l.split_whitespace().map(|f| f.parse().unwrap()).collect())
            .collect();
        assert!(rows.iter().all(|r| r.len() == 4));
        assert!(
            rows.windows(2)
                .all(|w| w[0][1] <= w[1][1] && w[0][2] <= w[1][2])
        );
    }

    #[test]
    fn an_empty_histogram_still_has_header_and_footer() {
        let h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        let text = percentile_distribution(&h);
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.contains("Total count    =            0]"));
    }
}
