"""The imperative shell: clocks, ids, storage, threads and processes.

It reads the clock once per step, asks ``alsek.pure`` what to do, and does
it. Business rules live in the pure core, not here.
"""
