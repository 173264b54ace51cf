"""The worker pool, split by the state each part owns.

``slots`` (the one lock, the policy state, jobs and runners), ``dispatcher``
(the claim loop), ``completion`` (what runners ask: prepare, start, record),
``acks`` (acks riding on claims), ``monitor`` (renewals, thread timeouts),
``shutdown`` (signals, hand-back), ``events`` (observers) and ``pool``
(``WorkerPool``: wiring, run, stop, drain). None of the parts imports
``pool``; the policy they carry out is ``alsek.pure.pool``'s.
"""
