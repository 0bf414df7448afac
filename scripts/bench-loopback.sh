#!/usr/bin/env bash
# Messages per second over loopback, in one run: Postfix's smtp-source (50 sessions,
# 20000 messages of 1 KiB) against our tokio_server, against Postfix's smtp-sink
# storing every message (-d), and against aiosmtpd storing to a Maildir, five rounds
# interleaved. Prints each rate, the medians and their ratios, each round's ratio to
# smtp-sink, and the CPU time each server used per message (which the machine's other
# load moves far less than the rates). A benchmark, not a CI gate: the noise shows.
# Usage: bash scripts/bench-loopback.sh [--fsync]   (our server skips fsync unless asked)
set -uo pipefail
cd "$(dirname "$0")/.."
PATH="$PATH:/usr/sbin"
fsync_flag=--no-fsync
[ "${1:-}" = "--fsync" ] && fsync_flag=""
sessions=50
messages=20000
rounds=5

work=$(mktemp -d /tmp/smtp-sansio-bench.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

for tool in smtp-source smtp-sink; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/interop.sh once to install it"; exit 1; }
done
python3 -c 'import aiosmtpd' 2>/dev/null || { echo "aiosmtpd is missing: run scripts/interop.sh once to install it"; exit 1; }
cargo build -q --release --example tokio_server || exit 1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }

# Sends the load to a port; prints messages per second.
load() {
    local start end
    start=$(date +%s.%N)
    smtp-source -c -s "$sessions" -m "$messages" -l 1024 -f a@example.net -t b@example.org "127.0.0.1:$1" >/dev/null || return 1
    end=$(date +%s.%N)
    python3 -c "print(round($messages / ($end - $start)))"
}
# The CPU time (user and system) a process has used, in microseconds per message. The
# rate depends on what else runs on the machine (smtp-source itself needs about as
# much CPU per message as the servers); this depends far less on it.
cpu_per_message() {
    awk -v ticks="$(getconf CLK_TCK)" -v n="$messages" '{print int(($14 + $15) * 1e6 / ticks / n)}' "/proc/$1/stat"
}
# Measures the server just started (its pid, its port) as one of "ours", "sink" and
# "aio", and stops it, so that it takes nothing from the next ones.
declare -A rates cpus
measure() {
    local name=$1 server=$2 port=$3
    pids+=("$server")
    if wait_port "$port"; then
        rates[$name]+=" $(load "$port")"
        cpus[$name]+=" $(cpu_per_message "$server")"
    fi
    kill "$server" 2>/dev/null
    wait "$server" 2>/dev/null
}

# Each server once per round, the rounds interleaved, so that the machine's drift
# touches all of them alike; the medians are compared.
for round in $(seq "$rounds"); do
    port=$(free_port)
    target/release/examples/tokio_server --listen "127.0.0.1:$port" --maildir "$work/ours-$round" $fsync_flag >/dev/null 2>&1 &
    measure ours $! "$port"
    stored=$(ls "$work/ours-$round/new" | wc -l)
    [ "$stored" -eq "$messages" ] || echo "round $round: tokio_server stored $stored of $messages"

    port=$(free_port)
    mkdir -p "$work/sink-$round"
    smtp-sink -u root -d "$work/sink-$round/%M." "127.0.0.1:$port" 1024 >/dev/null 2>&1 &
    measure sink $! "$port"

    port=$(free_port)
    python3 -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$work/aiosmtpd-$round" >/dev/null 2>&1 &
    measure aio $! "$port"
done

echo "smtp-source: $sessions sessions, $messages messages of 1 KiB, over loopback; $rounds rounds"
echo "tokio_server (Maildir, $([ -n "$fsync_flag" ] && echo "no fsync" || echo "fsync")): ${rates[ours]} messages/s; CPU per message (µs):${cpus[ours]}"
echo "smtp-sink -d (Postfix):           ${rates[sink]} messages/s; CPU per message (µs):${cpus[sink]}"
echo "aiosmtpd (Maildir):               ${rates[aio]} messages/s; CPU per message (µs):${cpus[aio]}"
python3 - "${rates[ours]}" "${rates[sink]}" "${rates[aio]}" "${cpus[ours]}" "${cpus[sink]}" "${cpus[aio]}" <<'PY'
import statistics, sys
ours, sink, aio, ours_cpu, sink_cpu, aio_cpu = (statistics.median(map(float, arg.split())) for arg in sys.argv[1:])
print(f"medians: tokio_server {ours:.0f}, smtp-sink {sink:.0f}, aiosmtpd {aio:.0f} messages/s")
print(f"tokio_server is {ours / sink:.2f}x smtp-sink and {ours / aio:.2f}x aiosmtpd")
rounds = zip(sys.argv[1].split(), sys.argv[2].split())
print("each round, tokio_server / smtp-sink:", " ".join(f"{float(a) / float(b):.2f}x" for a, b in rounds))
print(f"CPU per message, medians: tokio_server {ours_cpu:.0f} µs, smtp-sink {sink_cpu:.0f} µs, "
      f"aiosmtpd {aio_cpu:.0f} µs (smtp-sink takes {sink_cpu / ours_cpu:.2f}x ours)")
PY
