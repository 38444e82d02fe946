#!/usr/bin/env python3
"""The reference driver: plays one conformance scenario (FORMAT.md beside
this file) on discord.py's own `discord.ext.tasks.Loop` and prints the
trace, one JSON object per line, on stdout.

usage: dpy_driver.py SCENARIO.json

It needs discord.py 2.7.1 importable; `run` beside this file starts it in
a virtual environment that has it. A scenario that uses what discord.py
lacks (cron, a timeout, a missed-tick policy other than "burst", a
shutdown) is refused with exit status 2: such a scenario carries its
expected trace in a file instead.
"""

import asyncio
import datetime
import json
import logging
import selectors
import sys
import time
import types
import zoneinfo

import discord.utils
from discord.ext import tasks


class CustomError(Exception):
    """The scenario's `Custom` error kind: one discord.py does not retry."""


# The error kinds of the format, as discord.py raises them.
RAISES = {
    "Transient": OSError,
    "Timeout": asyncio.TimeoutError,
    "Custom": CustomError,
    "Fatal": ValueError,
}


def kind_name(error):
    """The kind an error hook was given. `asyncio.TimeoutError` is an
    `OSError` since Python 3.11, so the narrower kinds are tried first."""
    for kind in ("Timeout", "Custom", "Fatal", "Transient"):
        if isinstance(error, RAISES[kind]):
            return kind
    return type(error).__name__


def refuse_what_discord_py_lacks(scenario):
    """Exits with a message when the scenario needs a feature discord.py
    does not have: its trace cannot come from discord.py."""
    spec = scenario.get("loop", {})
    lacking = []
    if "cron" in spec:
        lacking.append("loop.cron")
    if "timeout" in spec:
        lacking.append("loop.timeout")
    if spec.get("missed", "burst") != "burst":
        lacking.append(f"loop.missed {spec['missed']!r}")
    for op in scenario.get("script", []):
        if op.get("op") == "shutdown":
            lacking.append("the shutdown op")
        if "cron" in op:
            lacking.append("change_interval to a cron")
    for act in scenario.get("calls", {}).values():
        if "cron" in act.get("change_interval", {}):
            lacking.append("change_interval to a cron")
    if lacking:
        sys.stderr.write(
            f"discord.py has no {', '.join(sorted(set(lacking)))}: "
            "write the scenario's expected trace beside it (NAME.expected.jsonl)\n"
        )
        sys.exit(2)


# ---------------------------------------------------------------- the clocks


class RealTime:
    """The machine's clocks: the trace is timed on the monotonic clock, and
    the scenario's times of day are counted from the wall clock read when
    it begins."""

    wall_at_start = None

    def begin(self):
        self.wall_at_start = datetime.datetime.now(datetime.timezone.utc)
        return self.seconds()

    @staticmethod
    def seconds():
        return time.monotonic()

    def play(self, coroutine):
        asyncio.run(coroutine)


class VirtualTime:
    """Time that jumps: whenever the event loop would wait for its next
    timer, the clock moves to that timer instead, so a month of timers
    passes in moments, in the order real time would take them. Every turn
    of the event loop moves the clock on by a microsecond, as a real turn
    takes time. discord.py reads the wall clock as `start` plus the time
    elapsed, so both clocks advance together."""

    TURN = 1e-6

    def __init__(self, start):
        self.now = 0.0
        self.wall_at_start = start

    def begin(self):
        return self.now

    def seconds(self):
        return self.now

    def play(self, coroutine):
        self._show_discord_py_this_wall_clock()
        event_loop = _JumpingEventLoop(self)
        try:
            event_loop.run_until_complete(coroutine)
        finally:
            event_loop.close()

    def _show_discord_py_this_wall_clock(self):
        clock = self

        class Datetime(datetime.datetime):
            @classmethod
            def now(cls, tz=None):
                at = clock.wall_at_start + datetime.timedelta(seconds=clock.now)
                if tz is None:
                    return at.astimezone().replace(tzinfo=None)
                return at.astimezone(tz)

        # discord.py reads the time as `datetime.datetime.now(...)` in these
        # two modules: each gets a `datetime` module whose class reads this
        # clock, everything else of the module left as it is.
        seen_as = types.ModuleType("datetime")
        seen_as.__dict__.update(vars(datetime))
        seen_as.datetime = Datetime
        tasks.datetime = seen_as
        discord.utils.datetime = seen_as


class _JumpingSelector(selectors.BaseSelector):
    """The event loop's selector, with waiting replaced by a jump of the
    virtual clock. Registrations go to a real selector, which is still
    polled (without waiting) for whatever is ready."""

    def __init__(self, clock):
        self._clock = clock
        self._real = selectors.DefaultSelector()

    def register(self, fileobj, events, data=None):
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj):
        return self._real.unregister(fileobj)

    def modify(self, fileobj, events, data=None):
        return self._real.modify(fileobj, events, data)

    def get_map(self):
        return self._real.get_map()

    def close(self):
        self._real.close()

    def select(self, timeout=None):
        # `timeout` is what the loop would wait, from the clock it read
        # before this turn: the next timer's instant minus that reading.
        read_at = self._clock.now
        self._clock.now += VirtualTime.TURN
        if timeout is None:
            return self._real.select(None)  # no timer at all: truly wait
        ready = self._real.select(0)
        if not ready and timeout > 0:
            self._clock.now = max(self._clock.now, read_at + timeout)
        return ready


class _JumpingEventLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock):
        self._virtual = clock
        super().__init__(selector=_JumpingSelector(clock))

    def time(self):
        return self._virtual.now


# ------------------------------------------------------------- the scenario


class Player:
    """One scenario played on one discord.py loop."""

    def __init__(self, scenario, clock):
        self.scenario = scenario
        self.clock = clock
        self.started = clock.begin()
        self.events = []
        self.calls_made = 0
        self.calls = {int(k): act for k, act in scenario.get("calls", {}).items()}
        spec = scenario.get("loop", {})
        self.zone = zoneinfo.ZoneInfo(spec["tz"]) if spec.get("tz") else datetime.timezone.utc
        self.loop = self._build(spec)

    def elapsed(self):
        return self.clock.seconds() - self.started

    def record(self, ev, **fields):
        self.events.append({"t": round(self.elapsed(), 3), "ev": ev, **fields})

    # What a scenario's times and intervals mean to discord.py.

    def time_of_day(self, given):
        if isinstance(given, str):
            return datetime.time.fromisoformat(given).replace(tzinfo=self.zone)
        at = self.clock.wall_at_start + datetime.timedelta(seconds=given)
        return at.astimezone(self.zone).time().replace(tzinfo=self.zone)

    def schedule(self, spec):
        """The keyword arguments of `tasks.loop` or `change_interval`."""
        if "times" in spec:
            return {"time": [self.time_of_day(x) for x in spec["times"]]}
        return {unit: spec.get(unit, 0) for unit in ("seconds", "minutes", "hours")}

    def _build(self, spec):
        if "backoff" in self.scenario:
            seconds = self.scenario["backoff"]["fixed"]

            class Fixed:
                def delay(self):
                    return seconds

            tasks.ExponentialBackoff = Fixed

        the_loop = tasks.loop(
            count=spec.get("count"), reconnect=spec.get("reconnect", True), **self.schedule(spec)
        )(self._body)

        hooks = set(self.scenario.get("hooks", []))
        if "before_loop" in hooks:
            the_loop.before_loop(self._before_loop)
        if "after_loop" in hooks:
            the_loop.after_loop(self._after_loop)
        if "error" in hooks:
            the_loop.error(self._on_error)

        retried = self.scenario.get("exception_types", {})
        if retried.get("clear"):
            the_loop.clear_exception_types()
        for kind in retried.get("remove", []):
            the_loop.remove_exception_type(RAISES[kind])
        for kind in retried.get("add", []):
            the_loop.add_exception_type(RAISES[kind])
        return the_loop

    # The loop's body and hooks.

    async def _body(self):
        call = self.calls_made
        self.calls_made += 1
        self.record("body", call=call, current_loop=self.loop.current_loop)
        act = self.calls.get(call, {})
        if act.get("sleep"):
            await asyncio.sleep(act["sleep"])
        if "change_interval" in act:
            self.loop.change_interval(**self.schedule(act["change_interval"]))
        if act.get("stop"):
            self.loop.stop()
        if act.get("cancel"):
            self.loop.cancel()
        if "raise" in act:
            raise RAISES[act["raise"]](act["raise"])

    async def _before_loop(self):
        self.record("before_loop")
        what = self.scenario.get("before_loop", {})
        if what.get("sleep"):
            await asyncio.sleep(what["sleep"])
        if what.get("stop"):
            self.loop.stop()

    async def _after_loop(self):
        self.record(
            "after_loop",
            cancelled=self.loop.is_being_cancelled(),
            failed=self.loop.failed(),
            current_loop=self.loop.current_loop,
        )

    async def _on_error(self, error):
        self.record("error", kind=kind_name(error), failed=self.loop.failed())

    # What is done from outside.

    def probe(self):
        upcoming = self.loop.next_iteration
        next_in = None
        if upcoming is not None:
            # now: the wall clock at the start, moved on by the trace's clock
            now = self.clock.wall_at_start + datetime.timedelta(seconds=self.elapsed())
            next_in = round((upcoming - now).total_seconds(), 3)
        self.record(
            "probe",
            running=self.loop.is_running(),
            current_loop=self.loop.current_loop,
            failed=self.loop.failed(),
            next_in=next_in,
        )

    def apply(self, op):
        name = op["op"]
        if name == "start":
            try:
                self.loop.start()
            except RuntimeError:
                self.record("start_error")
        elif name == "stop":
            self.loop.stop()
        elif name == "cancel":
            self.loop.cancel()
        elif name == "restart":
            self.loop.restart()
        elif name == "probe":
            self.probe()
        elif name == "change_interval":
            self.loop.change_interval(**self.schedule(op))
        else:
            sys.exit(f"unknown op {name!r}")

    async def wait_until(self, t):
        if t > self.elapsed():
            await asyncio.sleep(t - self.elapsed())

    async def play(self):
        for op in sorted(self.scenario.get("script", []), key=lambda op: op["t"]):
            await self.wait_until(op["t"])
            self.apply(op)
        await self.wait_until(self.scenario.get("until", 1.0))
        trace = list(self.events)
        # Past `until` nothing is recorded: whatever still runs is ended
        # quietly, its hooks' events left out.
        task = self.loop.get_task()
        if task is not None:
            task.cancel()
            try:
                await task
            except BaseException:
                pass
        return trace


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    with open(sys.argv[1]) as f:
        scenario = json.load(f)
    refuse_what_discord_py_lacks(scenario)
    logging.disable(logging.CRITICAL)  # discord.py logs every retried error

    if "clock" in scenario:
        start = datetime.datetime.fromisoformat(scenario["clock"]["start"].replace("Z", "+00:00"))
        clock = VirtualTime(start.astimezone(datetime.timezone.utc))
    else:
        clock = RealTime()
    trace = []

    async def play():
        trace.extend(await Player(scenario, clock).play())

    clock.play(play())
    for event in trace:
        print(json.dumps(event))


if __name__ == "__main__":
    main()
