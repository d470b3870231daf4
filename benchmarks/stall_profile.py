"""What the GUI thread is doing while a probe tick is late: a sampling watchdog for ui_stall.

A stall probe (:mod:`benchmarks.ui_stall`) only says *that* the GUI thread was busy. This
watchdog thread says *with what*: every millisecond or two it looks at how long ago the probe
last ticked; once a tick is ``threshold_ms`` overdue it samples the Python stack of the GUI
thread (and the innermost frame of every other thread, to see who holds the GIL). When the late
tick finally arrives, its samples are filed under that stall. :meth:`StallSampler.report` prints
the worst stalls with their most frequent stacks.

A GUI thread in C++ (Qt painting, layout) shows the Python frame that called into Qt, usually
the event loop's ``exec()``; then the other threads' frames tell whether Python elsewhere held
the interpreter.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

__all__ = ["StallSampler"]


@dataclass
class _Stall:
    """The samples taken while one tick was late."""

    gap_ms: float = 0.0
    at_s: float = 0.0
    stacks: list[tuple[str, ...]] = field(default_factory=list)
    others: list[tuple[str, ...]] = field(default_factory=list)


def _frames(frame: object, depth: int) -> tuple[str, ...]:
    """The innermost ``depth`` frames of a stack as ``file:line func`` strings."""
    summary = traceback.extract_stack(frame)[-depth:]  # type: ignore[arg-type]
    return tuple(f"{fr.filename.rsplit('/site-packages/', 1)[-1].rsplit('/work/main/', 1)[-1]}"
                 f":{fr.lineno} {fr.name}" for fr in summary)


class StallSampler(threading.Thread):
    """Samples the GUI thread's stack while a probe tick is overdue.

    Args:
        period_ms: the probe's tick period.
        threshold_ms: start sampling once a tick is this much later than ``period_ms``.
        depth: how many innermost frames of each stack to keep.
    """

    def __init__(self, period_ms: float, threshold_ms: float = 8.0, depth: int = 10) -> None:
        super().__init__(name="stall-sampler", daemon=True)
        self.period = period_ms / 1000.0
        self.threshold = threshold_ms / 1000.0
        self.depth = depth
        self.gui_ident = threading.get_ident()
        self.t0 = time.perf_counter()
        self.last_tick = self.t0
        self.current = _Stall()
        self.stalls: list[_Stall] = []
        self._halt = threading.Event()

    def tick(self) -> None:
        """Call on the GUI thread at every probe tick."""
        now = time.perf_counter()
        if self.current.stacks:
            self.current.gap_ms = (now - self.last_tick) * 1000
            self.current.at_s = now - self.t0
            self.stalls.append(self.current)
            self.current = _Stall()
        self.last_tick = now

    def run(self) -> None:  # noqa: D102 - the watchdog loop
        while not self._halt.wait(0.0015):
            late = time.perf_counter() - self.last_tick - self.period
            if late < self.threshold:
                continue
            frames = sys._current_frames()  # noqa: SLF001 - the documented way to sample
            gui = frames.get(self.gui_ident)
            if gui is None:
                continue
            self.current.stacks.append(_frames(gui, self.depth))
            me = threading.get_ident()
            self.current.others.append(tuple(
                _frames(f, 2)[-1] for ident, f in frames.items()
                if ident not in (me, self.gui_ident)))

    def stop(self) -> None:
        """End the watchdog."""
        self._halt.set()

    def report(self, worst: int = 6, file: object = None) -> None:
        """Print the ``worst`` stalls with their most frequent GUI-thread stacks."""
        out = file or sys.stdout
        for stall in sorted(self.stalls, key=lambda s: -s.gap_ms)[:worst]:
            print(f"--- stall {stall.gap_ms - self.period * 1000:.0f} ms at {stall.at_s:.1f} s "
                  f"({len(stall.stacks)} samples)", file=out)
            for stack, n in collections.Counter(stall.stacks).most_common(2):
                print(f"  GUI thread x{n}:", file=out)
                for line in stack:
                    print(f"    {line}", file=out)
            other = collections.Counter(f for fs in stall.others for f in fs).most_common(4)
            if other:
                print("  other threads: " + "; ".join(f"{f} x{n}" for f, n in other), file=out)
