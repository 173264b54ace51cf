"""The functional core: immutable records and pure transitions.

Nothing in this package reads the clock, makes ids, sleeps, locks or does
I/O. "Now" (integer UTC milliseconds) and new uuids are parameters, so the
same functions drive real workers, the simulator and property tests.
"""
