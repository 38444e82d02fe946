#!/usr/bin/env python3
"""discord.py's ``tasks.Loop`` in the scenarios of the benchmark.

Run by ``tasks-bench all`` (through ``bench/run``) in a fresh process per
scenario, with the same parameters as the Rust peers; prints one JSON record
with the keys of ``Record`` in ``src/measure.rs``.

    python dpy_bench.py SCENARIO [--n N] [--interval-ms MS] [--duration-ms MS]
                                 [--settle-ms MS] [--reps R]
"""

import argparse
import asyncio
import datetime
import gc
import json
import math
import os
import platform
import sys
import time

import discord
from discord.ext import tasks

UTC = datetime.timezone.utc


def runtime_name():
    return f"asyncio, CPython {platform.python_version()}, discord.py {discord.__version__}"


def rss_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def percentile(sorted_samples, p):
    """Nearest rank, as in src/measure.rs."""
    if not sorted_samples:
        return 0
    rank = math.ceil(p / 100.0 * len(sorted_samples))
    return sorted_samples[min(max(rank, 1), len(sorted_samples)) - 1]


def cdf_percentiles():
    return [float(p) for p in range(100)] + [99.5, 99.9, 99.99, 100.0]


def lateness(samples, expected):
    samples = sorted(samples)
    return {
        "count": len(samples),
        "expected": expected,
        "p50_ns": percentile(samples, 50.0),
        "p99_ns": percentile(samples, 99.0),
        "max_ns": samples[-1] if samples else 0,
        "mean_ns": sum(samples) / len(samples) if samples else 0.0,
        "cdf": [[p, percentile(samples, p)] for p in cdf_percentiles()],
    }


def downsample(values, points):
    if not values:
        return []
    bucket = -(-len(values) // max(points, 1))
    out = []
    for i in range(0, len(values), bucket):
        chunk = values[i : i + bucket]
        out.append([i + len(chunk) - 1, max(chunk)])
    return out


def record(scenario, **fields):
    rec = {"scenario": scenario, "peer": "discord.py", "runtime": runtime_name()}
    rec.update(fields)
    return rec


# 1. Overhead -----------------------------------------------------------------


async def overhead(args):
    async def body():
        pass

    async def run(n):
        loop = tasks.loop(seconds=0, count=n)(body)
        start = time.perf_counter()
        await loop.start()
        return time.perf_counter() - start

    await run(min(args.n, 10_000))
    runs = []
    cpu0 = time.process_time()
    for _ in range(args.reps):
        runs.append((await run(args.n)) * 1e9 / args.n)
    cpu = time.process_time() - cpu0
    return record(
        "overhead",
        iterations=args.n,
        interval_ms=0.0,
        ns_per_iter=sorted(runs)[len(runs) // 2],
        ns_per_iter_runs=runs,
        cpu_ns_per_iter=cpu * 1e9 / (args.reps * args.n),
        note="seconds=0: each iteration is a call_later(0) on the event loop",
    )


# 2. Scale --------------------------------------------------------------------


async def scale(args):
    done = [0]

    async def body():
        done[0] += 1

    interval = args.interval_ms / 1e3
    await asyncio.sleep(0.1)
    gc.collect()
    rss0 = rss_bytes()
    start = time.perf_counter()
    loops = []
    for _ in range(args.n):
        loop = tasks.loop(seconds=interval)(body)
        loop.start()
        loops.append(loop)
    # The tasks only start once the event loop runs them.
    await asyncio.sleep(0)
    setup = time.perf_counter() - start
    await asyncio.sleep(args.settle_ms / 1e3)
    rss1 = rss_bytes()
    i0, c0, w0 = done[0], time.process_time(), time.perf_counter()
    await asyncio.sleep(args.duration_ms / 1e3)
    i1, c1, w1 = done[0], time.process_time(), time.perf_counter()
    wall = w1 - w0
    ran = max(i1 - i0, 1)
    return record(
        "scale",
        loops=args.n,
        interval_ms=args.interval_ms,
        iterations=i1 - i0,
        setup_ms=setup * 1e3,
        rss_base_bytes=rss0,
        rss_per_loop_bytes=(rss1 - rss0) / args.n,
        cpu_percent=(c1 - c0) / wall * 100.0,
        cpu_us_per_iter=(c1 - c0) * 1e6 / ran,
        iters_per_s=(i1 - i0) / wall,
        expected_iters_per_s=args.n / interval,
    )


# 3. Precision ----------------------------------------------------------------


class Probe:
    """One loop: its body turns the loop's next deadline (a wall-clock
    time, `next_iteration`) into a monotonic one, as the Rust probe does."""

    __slots__ = ("loop", "pending", "samples")

    def __init__(self):
        self.loop = None
        self.pending = None
        self.samples = []


async def probe_body(probe):
    now = time.monotonic_ns()
    wall = datetime.datetime.now(UTC)
    if probe.pending is not None:
        probe.samples.append(now - probe.pending)
    following = probe.loop.next_iteration
    if following is not None:
        ahead = following - wall
        probe.pending = now + (ahead // datetime.timedelta(microseconds=1)) * 1000


LEAD = 0.3


async def precision(args):
    # As in the Rust peers: the loops start LEAD after they are made, their
    # starts spread evenly over one interval.
    interval = args.interval_ms / 1e3
    duration = args.duration_ms / 1e3
    await asyncio.sleep(0.1)
    event_loop = asyncio.get_running_loop()
    t0 = event_loop.time() + LEAD
    probes = []
    for i in range(args.n):
        probe = Probe()
        probe.loop = tasks.loop(seconds=interval)(probe_body)
        event_loop.call_at(t0 + interval * i / args.n, probe.loop.start, probe)
        probes.append(probe)
    await asyncio.sleep(t0 + duration - event_loop.time())
    for probe in probes:
        probe.loop.cancel()
    samples = [s for probe in probes for s in probe.samples]
    expected = sum(int((duration - interval * i / args.n) // interval) for i in range(args.n))
    return record(
        "precision",
        loops=args.n,
        interval_ms=args.interval_ms,
        lateness=lateness(samples, expected),
    )


# 4. Drift --------------------------------------------------------------------


async def drift(args):
    times = []

    async def body():
        times.append(time.monotonic_ns())

    interval_ns = int(args.interval_ms * 1e6)
    loop = tasks.loop(seconds=args.interval_ms / 1e3, count=args.n)(body)
    await loop.start()
    first = times[0]
    late = [t - (first + k * interval_ns) for k, t in enumerate(times)]
    early, last = sorted(late[:10]), sorted(late[-10:])
    return record(
        "drift",
        interval_ms=args.interval_ms,
        iterations=len(times),
        early_lateness_ns=early[len(early) // 2],
        late_lateness_ns=last[len(last) // 2],
        last_lateness_ns=late[-1],
        max_lateness_ns=max(late),
        series=downsample(late, 400),
    )


SCENARIOS = {"overhead": overhead, "scale": scale, "precision": precision, "drift": drift}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--interval-ms", type=float, default=0.0)
    parser.add_argument("--duration-ms", type=float, default=1000.0)
    parser.add_argument("--settle-ms", type=float, default=1000.0)
    parser.add_argument("--reps", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(SCENARIOS[args.scenario](args))
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    # Leaves at once: the scale and precision scenarios leave loops behind.
    os._exit(0)


if __name__ == "__main__":
    main()
