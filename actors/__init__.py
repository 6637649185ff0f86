"""Dramatiq actors and the broker they run on.

Import order matters: `actors.broker.setup_broker()` (run by `actors.context.setup()` in
the worker and the scheduler) must run before any actor module is imported, because an
actor is bound to the installed broker when it is declared (`actors.broker.tracked_actor`).
"""
