//! Table, JSON and CSV from made-up reports: columns kept in place, optional
//! columns shown only when they apply, streamed output the same as whole.

use super::*;
use crate::Framing;
use crate::bench::report::{LatencySummary, SCHEMA_VERSION};

fn report(churn: bool, protocol: Protocol) -> BenchReport {
    BenchReport {
        version: SCHEMA_VERSION,
        addr: "host,\"x\":1".into(),
        clients: 4,
        threads: 2,
        framing: Framing::Line,
        protocol,
        size: 64,
        churn,
        messages_per_client: None,
        warmup_secs: 0.25,
        duration_secs: 1.23456,
        sent: 100,
        replies_ok: 90,
        abandoned: 1,
        connections: 5,
        clients_answered: 2,
        errors: ErrorCounts {
            refused: 1,
            reset: 2,
            timeout: 0,
            wrong_reply: 3,
            closed_early: 0,
            other: 4,
            total: 10,
        },
        msgs_per_sec: 99.999,
        conns_per_sec: 150.5,
        latency_us: LatencySummary {
            samples: 90,
            p50: 10,
            p90: 20,
            p99: 30,
            p999: 40,
            max: 50,
            mean: 12.345,
        },
        clients_unanswered: 1,
        wait_us: LatencySummary {
            samples: 5,
            p50: 100,
            p90: 200,
            p99: 3_000_000,
            p999: 3_000_000,
            max: 3_000_000,
            mean: 600_060.0,
        },
        queue_us: None,
        unanswered: 3,
        rate: None,
        timeline: Vec::new(),
        never_answered: Default::default(),
        repeat: None,
        exchange: None,
    }
}

/// The CSV columns scripts read, in their places; new ones go last.
#[test]
fn csv_keeps_its_columns_and_quotes_fields() {
    let out = render(&report(true, Protocol::Echo), OutputFormat::Csv);
    assert_eq!(
        out,
        "label,addr,clients,threads,framing,size,churn,messages_per_client,\
         warmup_secs,duration_secs,sent,replies_ok,abandoned,connections,msgs_per_sec,\
         conns_per_sec,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,samples,err_refused,\
         err_reset,err_timeout,err_wrong_reply,err_closed_early,err_other,err_total,\
         protocol,clients_answered,clients_unanswered,wait_p50_us,wait_p90_us,wait_p99_us,\
         wait_max_us,unanswered,rate,queue_p50_us,queue_p99_us,queue_max_us,runs,\
         msgs_per_sec_min,msgs_per_sec_median,msgs_per_sec_max\n\
         ,\"host,\"\"x\"\":1\",4,2,line,64,true,,0.250,1.235,100,90,1,5,100.0,150.5,\
         10,20,30,40,50,12.3,90,1,2,0,3,0,4,10,echo,2,1,100,200,3000000,3000000,3,,,,,1,,,\n"
    );
}

#[test]
fn table_shows_optional_columns_only_when_they_apply() {
    let echo = report(false, Protocol::Echo);
    assert_eq!(
        render(&echo, OutputFormat::Table),
        "addr        clients  answered  unanswered clients  framing  size  secs  msgs/s    \
         p50    p90    p99  p99.9    max  wait p99  sent  errors\n\
         host,\"x\":1        4         2                   1  line       64  1.23  100.00  \
         10 µs  20 µs  30 µs  40 µs  50 µs    3.00 s   100  \
         10 (refused 1, reset 2, wrong_reply 3, other 4)\n"
    );
    let rows = [
        ("serial".to_string(), echo),
        ("threads".to_string(), report(true, Protocol::Daytime)),
    ];
    let t = render_comparison(&rows, OutputFormat::Table);
    let header: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        &header[..5],
        ["mode", "served", "wait", "p99", "msgs/s"],
        "{t}"
    );
    assert!(
        header.contains(&"conns/s") && header.contains(&"protocol"),
        "{t}"
    );
    assert!(t.lines().nth(2).unwrap().contains("daytime"), "{t}");

    // The rate asked for shows only for open-loop runs, next to msgs/s.
    let mut open = report(false, Protocol::Echo);
    open.rate = Some(100.0);
    let t = render(&open, OutputFormat::Table);
    let header: Vec<&str> = t.lines().next().unwrap().split_whitespace().collect();
    let at = header
        .iter()
        .position(|h| *h == "rate")
        .expect("rate column");
    assert_eq!(header[at + 1], "msgs/s");
    assert!(t.lines().nth(1).unwrap().contains(" 100  "), "{t}");
    let csv = render(&open, OutputFormat::Csv);
    assert!(csv.trim_end().ends_with(",3,100.0,,,,1,,,"), "{csv}");
}

/// Streamed piece by piece, a comparison is the same text as rendered
/// at once, in every format.
#[test]
fn a_streamed_comparison_is_the_rendered_one() {
    let rows = [
        ("serial".to_string(), report(false, Protocol::Echo)),
        ("threads".to_string(), report(false, Protocol::Echo)),
    ];
    for format in [OutputFormat::Table, OutputFormat::Csv, OutputFormat::Json] {
        let stream = ComparisonStream::new(format, &Shape::of(&rows));
        let mut out = stream.header();
        for (l, r) in &rows {
            out.push_str(&stream.row(l, r));
        }
        out.push_str(&stream.end(&rows));
        assert_eq!(out, render_comparison(&rows, format), "{format:?}");
    }
    let csv = render_comparison(&rows, OutputFormat::Csv);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with("serial,"), "{csv}");
}

#[test]
fn every_table_column_has_its_own_place() {
    let mut places: Vec<u8> = COLUMNS
        .iter()
        .filter_map(|c| c.table.as_ref().map(|t| t.place))
        .collect();
    places.sort_unstable();
    let n = places.len() as u8;
    assert_eq!(places, (0..n).collect::<Vec<u8>>());
}
