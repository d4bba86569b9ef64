//! `--repeat N`: one measurement run N times, told as its median with the
//! smallest and largest, because one run on a shared machine can be off by
//! far (a class's laptops run other things).
//!
//! The report kept is a real run, the one with the median throughput, so
//! its figures belong together; [`Spread`] adds the minimum, median and
//! maximum of the headline figures over all runs.

use super::report::{BenchReport, MinMedianMax, Spread};

/// The run with the median throughput, with the spread of all `runs`;
/// a single run comes back as it is.
pub(super) fn combine(mut runs: Vec<BenchReport>) -> Option<BenchReport> {
    if runs.len() <= 1 {
        return runs.pop();
    }
    let throughput = |r: &BenchReport| {
        if r.churn {
            r.conns_per_sec
        } else {
            r.msgs_per_sec
        }
    };
    let spread = Spread {
        runs: runs.len(),
        msgs_per_sec: MinMedianMax::of(runs.iter().map(throughput)),
        latency_p99_us: MinMedianMax::of(runs.iter().map(|r| r.latency_us.p99 as f64)),
        wait_p99_us: MinMedianMax::of(runs.iter().map(|r| r.wait_us.p99 as f64)),
        queue_p99_us: runs
            .iter()
            .map(|r| r.queue_us.as_ref().map(|q| q.p99 as f64))
            .collect::<Option<Vec<f64>>>()
            .map(MinMedianMax::of),
        clients_answered: MinMedianMax::of(runs.iter().map(|r| r.clients_answered as f64)),
    };
    // The lower middle run of an even count: a real run, never an average.
    runs.sort_by(|a, b| throughput(a).total_cmp(&throughput(b)));
    let mut median = runs.swap_remove((runs.len() - 1) / 2);
    median.repeat = Some(spread);
    Some(median)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(msgs: f64, p99: u64) -> BenchReport {
        let mut r = BenchReport {
            msgs_per_sec: msgs,
            clients_answered: 2,
            ..BenchReport::default()
        };
        r.latency_us.p99 = p99;
        r
    }

    #[test]
    fn the_median_run_is_kept_with_the_spread_of_all() {
        let r = combine(vec![run(300.0, 9), run(100.0, 1), run(200.0, 5)]).unwrap();
        assert_eq!(r.msgs_per_sec, 200.0);
        assert_eq!(r.latency_us.p99, 5, "the kept run's own figures");
        let s = r.repeat.unwrap();
        assert_eq!(s.runs, 3);
        assert_eq!(
            s.msgs_per_sec,
            MinMedianMax {
                min: 100.0,
                median: 200.0,
                max: 300.0
            }
        );
        assert_eq!(s.latency_p99_us.median, 5.0);
        assert!(s.queue_p99_us.is_none(), "no run knew its queue");
        // Even counts keep the lower middle run; the median is the mean.
        let r = combine(vec![run(100.0, 1), run(200.0, 2)]).unwrap();
        assert_eq!(r.msgs_per_sec, 100.0);
        assert_eq!(r.repeat.unwrap().msgs_per_sec.median, 150.0);
        let one = combine(vec![run(7.0, 1)]).unwrap();
        assert!(one.repeat.is_none(), "one run is no repeat");
    }
}
