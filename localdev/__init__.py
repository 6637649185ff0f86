"""Local stand-ins for what lies outside our machine: Redis, the catalog API, Twilio.

Used by `make run` (embedded Redis, demo catalog), the test suite and the benchmarks.
Each is a real server on 127.0.0.1 speaking the real protocol, so our real clients run.
"""
