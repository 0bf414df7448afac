//! Prints, after a criterion run, how each peer compares with smtp-sansio in that same
//! run: the ratio of mean times, read back from criterion's own estimates.

use std::path::PathBuf;

/// The mean time, in nanoseconds, criterion measured for `group/bench` in this run.
fn mean_ns(group: &str, bench: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    let file = target.join("criterion").join(group).join(bench.replace('/', "_")).join("new/estimates.json");
    let json = std::fs::read_to_string(file).ok()?;
    // {"mean":{"confidence_interval":{...},"point_estimate":123.4,...},...}
    let mean = &json[json.find("\"mean\"")?..];
    let value = &mean[mean.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    value[..value.find([',', '}'])?].trim().parse().ok()
}

/// Prints `ours` against each of `peers`: how many times faster ours is (above 1: ours
/// is faster).
pub fn report(group: &str, ours: &str, peers: &[&str]) {
    let Some(our_time) = mean_ns(group, ours) else { return };
    println!("\n{group}: {ours} takes {:.1} µs", our_time / 1000.0);
    for peer in peers {
        if let Some(time) = mean_ns(group, peer) {
            println!("  {peer:<28} {:>9.1} µs   {ours} is {:.2}x as fast", time / 1000.0, time / our_time);
        }
    }
}

/// Whether this is a whole `cargo bench` run: not `--test`, `--list` or `--profile-time`,
/// and no filter naming some benches only.
#[allow(dead_code)] // not every bench pairs its runs
pub fn whole_run() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut takes_value = false;
    let mut filtered = false;
    for arg in &args {
        if core::mem::take(&mut takes_value) {
            continue;
        }
        match arg.as_str() {
            "--test" | "--list" | "--profile-time" => return false,
            "--warm-up-time" | "--measurement-time" | "--sample-size" | "--save-baseline" | "--baseline" => {
                takes_value = true
            }
            other if !other.starts_with('-') => filtered = true,
            _ => {}
        }
    }
    args.iter().any(|arg| arg == "--bench") && !filtered
}

/// Times `ours` and each peer one after the other, round after round, and prints for
/// each peer the median over the rounds of its time divided by ours, with the quartiles.
///
/// Criterion measures each bench alone for seconds; on a shared machine a slow phase
/// that long moves one bench and not the other, and the ratio of criterion's means by
/// 20% or more either way. Here every round's runs are a few hundred microseconds
/// apart, under the same conditions, and the median over rounds drops the rounds a
/// slow phase cut through.
#[allow(dead_code)] // not every bench pairs its runs
pub fn paired(group: &str, rounds: usize, ours: &mut dyn FnMut(), peers: &mut [(&str, &mut dyn FnMut())]) {
    use std::time::Instant;
    let time = |run: &mut dyn FnMut()| {
        let start = Instant::now();
        run();
        start.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); peers.len()];
    let mut ours_times = Vec::with_capacity(rounds);
    let mut peer_times = vec![0.0; peers.len()];
    for round in 0..rounds {
        // Every other round the peers go first: no one always runs in the cache the
        // other left.
        let peers_first = round % 2 == 1;
        let mut our_time = if peers_first { 0.0 } else { time(ours) };
        for ((_, peer), peer_time) in peers.iter_mut().zip(&mut peer_times) {
            *peer_time = time(*peer);
        }
        if peers_first {
            our_time = time(ours);
        }
        ours_times.push(our_time);
        for (peer_time, ratios) in peer_times.iter().zip(&mut ratios) {
            ratios.push(peer_time / our_time);
        }
    }
    let quartiles = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let at = |q: usize| values[(values.len() - 1) * q / 4];
        (at(1), at(2), at(3))
    };
    let (_, our_median, _) = quartiles(&mut ours_times);
    println!(
        "\n{group}, paired: {rounds} rounds, each running every contender once; smtp-sansio's median {:.1} µs",
        our_median * 1e6
    );
    for ((name, _), ratios) in peers.iter().zip(&mut ratios) {
        let (low, median, high) = quartiles(ratios);
        println!(
            "  {name:<28} smtp-sansio is {median:.2}x as fast (median of the rounds; quartiles {low:.2}x to {high:.2}x)"
        );
    }
}

/// Runs every contender once a round (in the opposite order every other round), each
/// timing itself and returning the seconds of the part to measure (so that its setup is
/// left out), and prints for each pair `(a, b)` of `ratios` the median over the rounds of
/// `a`'s time divided by `b`'s, with the quartiles: how many times `b`'s time `a` takes.
///
/// Like [`paired`], for the same reason: on a shared machine only times taken a few
/// hundred microseconds apart compare.
#[allow(dead_code)] // not every bench pairs its runs
pub fn paired_times(
    group: &str,
    rounds: usize,
    contenders: &mut [(&str, &mut dyn FnMut() -> f64)],
    ratios: &[(&str, &str)],
) {
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); contenders.len()];
    for round in 0..rounds {
        let order: Vec<usize> = match round % 2 {
            0 => (0..contenders.len()).collect(),
            _ => (0..contenders.len()).rev().collect(),
        };
        for index in order {
            times[index].push((contenders[index].1)());
        }
    }
    let index = |name: &str| contenders.iter().position(|(n, _)| *n == name).expect("a contender's name");
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!("\n{group}, paired: {rounds} rounds, each running every contender once; medians:");
    for (name, _) in contenders.iter() {
        println!("  {name:<28} {:>9.1} µs", median(&mut times[index(name)].clone()) * 1e6);
    }
    for (a, b) in ratios {
        let mut per_round: Vec<f64> = times[index(a)].iter().zip(&times[index(b)]).map(|(a, b)| a / b).collect();
        per_round.sort_by(f64::total_cmp);
        let at = |q: usize| per_round[(per_round.len() - 1) * q / 4];
        println!(
            "  {a} takes {:.2}x {b}'s time (median of the rounds; quartiles {:.2}x to {:.2}x)",
            at(2),
            at(1),
            at(3)
        );
    }
}

/// Runs `run` once and returns how many seconds it took.
#[allow(dead_code)] // not every bench pairs its runs
pub fn seconds(run: impl FnOnce()) -> f64 {
    let start = std::time::Instant::now();
    run();
    start.elapsed().as_secs_f64()
}
