"""Dramatiq actors and the broker they run on.

Import order matters: `actors.broker.setup_broker()` must run before any actor module is
imported, because Dramatiq binds an actor to the global broker when it is declared.
"""
