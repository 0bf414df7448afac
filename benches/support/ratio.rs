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
