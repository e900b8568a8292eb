"""Scenarios: what a run sets up, does and breaks, and the shipped ones.

``schema`` reads scenario files; ``faults`` is the fault catalog (and ``fault_policies`` its seeded
schedules), applied over time by ``injector``; ``checkers`` is the registry of invariant checks;
``runner`` runs one scenario in simulated time (``workload`` drives it, ``history`` records it);
``sweep`` and ``shrink`` run many seeds and cut a failure down; ``live_record`` keeps the same
record of a live server.
"""
