"""Reading time on a case, as reader-study tools count it: the time between the rater's own actions
on the case, each gap counted up to ``idle`` seconds (a rater who walked away is not reading), and
nothing while the rating window is not the active one."""

from __future__ import annotations

import time

IDLE_SECONDS = 60.0


class ActiveClock:
    def __init__(self, idle: float = IDLE_SECONDS, clock=time.monotonic):
        self.idle, self.clock, self.paused = idle, clock, False
        self.restart()

    def restart(self) -> None:
        """A new case on screen (a paused clock stays paused: the window is still not the active one)."""
        self.total, self.last = 0.0, self.clock()

    def touch(self) -> None:
        """An action (a key, a click, a zoom): the time since the last one counts, up to ``idle``."""
        now = self.clock()
        if not self.paused:
            self.total += min(max(0.0, now - self.last), self.idle)
        self.last = now

    def pause(self) -> None:
        """The window lost the focus: time up to now counts, none after."""
        self.touch()
        self.paused = True

    def resume(self) -> None:
        if self.paused:
            self.last, self.paused = self.clock(), False

    def seconds(self) -> float:
        self.touch()
        return self.total
