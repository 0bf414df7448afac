#!/usr/bin/env bash
# Resident memory of tokio_server holding many idle connections, over loopback: one
# client process (Python, stdlib asyncio) opens N connections (10,000 by default), each
# reads the greeting, sends EHLO and reads its reply, then all stay idle while the
# server's resident memory (/proc/PID/status: VmRSS now, VmHWM its peak) is read.
# Prints the connections held, the RSS before and after, the RSS per connection, and
# PASS if the server held every connection within the budget (64 MiB), FAIL otherwise
# (exit 1). Stops everything it started; the whole run is bounded in time.
# Usage: bash scripts/bench-connections.sh [N]   (1 to 15000)
set -uo pipefail
cd "$(dirname "$0")/.."
connections=${1:-10000}
budget_kib=$((64 * 1024))
# Opening and greeting every connection must be done within this (seconds).
open_timeout=120
if ! [[ "$connections" =~ ^[0-9]+$ ]] || [ "$connections" -lt 1 ] || [ "$connections" -gt 15000 ]; then
    echo "usage: $0 [N]   (N connections, 1 to 15000)"
    exit 2
fi
# One descriptor per connection on each side, plus a few: the hard limit here is 20,000.
ulimit -n "$(ulimit -Hn)" || exit 1
if [ "$(ulimit -n)" -lt $((connections + 100)) ]; then
    echo "open files are limited to $(ulimit -n): too few for $connections connections"
    exit 1
fi

work=$(mktemp -d /tmp/smtp-sansio-connections.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

cargo build -q --release --example tokio_server || exit 1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# Resident memory of a process in KiB: "VmRSS VmHWM".
memory() { awk '/^VmRSS:/ {rss = $2} /^VmHWM:/ {hwm = $2} END {print rss, hwm}' "/proc/$1/status"; }

port=$(free_port)
target/release/examples/tokio_server --listen "127.0.0.1:$port" --maildir "$work/maildir" --no-fsync \
    --max-connections "$connections" >"$work/server.log" 2>&1 &
server=$!
pids+=("$server")
wait_port "$port" || { echo "the server did not start"; cat "$work/server.log"; exit 1; }
read -r rss_before _ < <(memory "$server")

# The client: opens the connections (a bounded number of handshakes at a time, so that
# the listen queue does not overflow), says EHLO on each, writes how many got their
# 250 to $work/held, and keeps them open until it is killed or its own time is up.
python3 - "$port" "$connections" "$work/held" "$open_timeout" >"$work/client.log" 2>&1 <<'PY' &
import asyncio, sys

port, count, report, timeout = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])

async def reply(reader):
    """Reads one SMTP reply (every line up to the one without a '-' after its code)."""
    while True:
        line = await reader.readline()
        if len(line) < 4:
            raise ConnectionError("connection closed")
        if line[3:4] != b"-":
            return line[:3]

async def open_one(gate, held):
    async with gate:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if await reply(reader) != b"220":
            raise ConnectionError("no greeting")
        writer.write(b"EHLO bench.example\r\n")
        if await reply(reader) != b"250":
            raise ConnectionError("EHLO refused")
    held.append(writer)

async def main():
    held, gate = [], asyncio.Semaphore(200)
    tasks = [asyncio.create_task(open_one(gate, held)) for _ in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    failed = sum(1 for task in done if task.exception() is not None)
    errors = {repr(task.exception()) for task in done if task.exception() is not None}
    with open(report + ".tmp", "w") as out:
        print(len(held), failed, len(pending), "; ".join(sorted(errors))[:300], file=out)
    import os
    os.rename(report + ".tmp", report)
    # Idle until killed; bounded all the same.
    await asyncio.sleep(timeout)

asyncio.run(main())
PY
pids+=($!)

# Wait for the client's count (it waits at most open_timeout for the connections).
for _ in $(seq $(((open_timeout + 30) * 10))); do
    [ -s "$work/held" ] && break
    sleep 0.1
done
if ! [ -s "$work/held" ]; then
    echo "FAIL: the client reported nothing"
    tail -5 "$work/client.log"
    exit 1
fi
read -r held failed unfinished errors < "$work/held"
# Let the server settle (its last replies are out, its tasks are waiting) before measuring.
sleep 2
read -r rss_after hwm < <(memory "$server")

echo "tokio_server: $held connections held after EHLO ($failed failed, $unfinished unfinished) ${errors:+errors: $errors}"
echo "resident memory: ${rss_before} KiB before, ${rss_after} KiB with the connections (peak ${hwm} KiB)"
python3 - "$held" "$rss_before" "$rss_after" "$hwm" "$budget_kib" <<'PY'
import sys
held, before, after, peak, budget = map(int, sys.argv[1:])
print(f"per connection: {after * 1024 / max(held, 1):.0f} bytes of the total, "
      f"{(after - before) * 1024 / max(held, 1):.0f} bytes above the idle server")
print(f"total {after / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB; budget {budget / 1024:.0f} MiB")
PY
if [ "$held" -eq "$connections" ] && [ "$hwm" -le "$budget_kib" ]; then
    echo "PASS: $connections connections within $((budget_kib / 1024)) MiB"
else
    echo "FAIL: $held of $connections connections held, peak ${hwm} KiB for a budget of ${budget_kib} KiB"
    exit 1
fi
