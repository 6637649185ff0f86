"""A circuit breaker per merchant whose state lives in Redis, so every process shares it.

Keys under `<namespace>:breaker:<name>:<merchant>:` —
`failures` (consecutive failures), `open` (present, with a TTL of the cooldown, while calls
fail fast), `tripped` (present from opening until a trial succeeds: without `open` it
means half-open) and `probe` (`SET NX PX`: the one trial call). The set
`<namespace>:breaker:<name>:tripped-merchants` lists merchants not closed, for metrics.

Why not pybreaker or purgatory (see the README): pybreaker's Redis storage lets every
process send its own trial call and replaces the tripping call's error; purgatory's sync
Redis storage is broken. Three short Lua scripts give one round trip per call and exactly
one trial across all processes.

When Redis is unreachable the breaker fails open: calls proceed, and it is logged.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Literal, TypeVar
from urllib.parse import quote

import redis

from catalog.errors import CatalogError, CatalogUnavailable, ErrorKind
from store.redis import Keys
from store.settings import Settings
from store.timeutil import AtMostEvery

logger = logging.getLogger(__name__)

T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]

_CLOSED, _TRIAL, _OPEN, _TRIAL_RUNNING = 0, 1, 2, 3

# KEYS: open, tripped, probe, failures. ARGV: probe token, probe ttl (ms).
_ADMIT = """
local open_ms = redis.call('PTTL', KEYS[1])
if open_ms > 0 then return {2, open_ms} end
if redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
  return {3, redis.call('PTTL', KEYS[3])}
end
return {0, tonumber(redis.call('GET', KEYS[4]) or '0')}
"""
# KEYS: failures, open, tripped, probe, registry.
# ARGV: threshold, cooldown ms, memory ms, is trial, merchant.
_FAILED = """
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if ARGV[4] == '1' or n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[4])
  redis.call('SADD', KEYS[5], ARGV[5])
  return 1
end
return 0
"""
# KEYS: failures, open, tripped, probe, registry. ARGV: is trial, merchant.
# A success closes the breaker only when it was the trial; a call admitted before the
# breaker opened and answering late does not close it.
_SUCCEEDED = """
if ARGV[1] == '1' or redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
  redis.call('SREM', KEYS[5], ARGV[2])
end
return 0
"""
# KEYS: probe. ARGV: token. Gives the trial back when it ended without a verdict (429…).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


class CircuitBreaker:
    """Fail fast for a merchant whose catalog calls keep failing; one trial call decides.

    Parameters:
      client(redis.Redis): Where the state lives.
      keys(Keys): The namespace of our keys.
      failure_threshold(int): Consecutive failures that open the breaker.
      cooldown_ms(int): How long an open breaker fails calls before one trial.
      trial_timeout_ms(int): How long a trial may run before another may start (a crashed
        process must not hold the breaker half-open forever).
      memory_ms(int): How long failures and the half-open state are remembered without calls.
      name(str): What the breaker guards, part of its keys.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        failure_threshold: int,
        cooldown_ms: int,
        trial_timeout_ms: int = 30_000,
        memory_ms: int = 86_400_000,
        name: str = "catalog",
    ) -> None:
        self.redis = client
        self.keys = keys
        self.name = name
        self.failure_threshold = failure_threshold
        self.cooldown_ms = cooldown_ms
        self.trial_timeout_ms = trial_timeout_ms
        self.memory_ms = max(memory_ms, cooldown_ms)
        self._admit = client.register_script(_ADMIT)
        self._failed = client.register_script(_FAILED)
        self._succeeded = client.register_script(_SUCCEEDED)
        self._release = client.register_script(_RELEASE)
        self._warn_now = AtMostEvery(60)  # Redis outages: one warning a minute, then debug

    @classmethod
    def from_settings(
        cls, settings: Settings, client: redis.Redis, *, name: str = "catalog"
    ) -> CircuitBreaker:
        """Return a breaker configured by `CATALOG_BREAKER_*`; `name` keeps its state apart
        (the orders endpoint has its own, so an import never opens the menu's)."""
        return cls(
            client,
            Keys(settings.redis_namespace),
            failure_threshold=settings.catalog_breaker_failures,
            cooldown_ms=settings.catalog_breaker_cooldown_ms,
            name=name,
        )

    def call(self, merchant_id: str, fn: Callable[[], T]) -> T:
        """Run `fn` unless the merchant's breaker is open, and record how it went.

        Raises:
          CatalogUnavailable: If the breaker is open or another process runs the trial.
          CatalogError: Whatever `fn` raised, unchanged.
        """
        token = uuid.uuid4().hex
        verdict, number = self._ask(merchant_id, token)
        if verdict in (_OPEN, _TRIAL_RUNNING):
            wait = max(number, 0) / 1000 if verdict == _OPEN else None
            state = "open" if verdict == _OPEN else "half-open, trial call running"
            raise CatalogUnavailable(
                f"{self.name} circuit breaker for merchant {merchant_id} is {state}",
                retry_after=wait,
            )
        trial = verdict == _TRIAL
        # `number` is the failure count when closed: a success with none to reset costs
        # no second round trip.
        try:
            result = fn()
        except CatalogError as error:
            if error.trips_breaker:
                opened = self._record_failure(merchant_id, trial)
                if opened and error.retry_after is None:
                    # This failure opened the breaker: a retry before the cooldown ends
                    # would only fail fast, so the caller is told when to come back.
                    error.retry_after = self.cooldown_ms / 1000
            elif error.kind is ErrorKind.REJECTED:
                # A 4xx is an answer: the upstream is up, even if this request was wrong.
                if trial or number > 0:
                    self._record_success(merchant_id, trial)
            elif trial:
                self._release_trial(merchant_id, token)
            raise
        except BaseException:
            if trial:
                self._release_trial(merchant_id, token)
            raise
        if trial or number > 0:
            self._record_success(merchant_id, trial)
        return result

    def state(self, merchant_id: str) -> BreakerState:
        """Return the merchant's breaker state as every process sees it.

        Raises:
          redis.RedisError: If Redis is unreachable.
        """
        pipe = self.redis.pipeline(transaction=False)
        pipe.exists(self._key(merchant_id, "open"))
        pipe.exists(self._key(merchant_id, "tripped"))
        is_open, tripped = pipe.execute()
        if is_open:
            return "open"
        return "half_open" if tripped else "closed"

    def tripped(self) -> dict[str, BreakerState]:
        """Return the merchants whose breaker is open or half-open, with their state.

        Raises:
          redis.RedisError: If Redis is unreachable.
        """
        registry = self.keys("breaker", self.name, "tripped-merchants")
        states: dict[str, BreakerState] = {}
        for raw in sorted(self.redis.smembers(registry)):
            merchant = raw.decode() if isinstance(raw, bytes) else str(raw)
            state = self.state(merchant)
            if state == "closed":
                self.redis.srem(registry, merchant)  # its memory expired without a trial
            else:
                states[merchant] = state
        return states

    def reset(self, merchant_id: str) -> None:
        """Close the merchant's breaker and forget its failures (operators, tests)."""
        self._succeeded(keys=self._all_keys(merchant_id), args=[1, merchant_id])

    # -- internals ---------------------------------------------------------------------

    def _ask(self, merchant_id: str, token: str) -> tuple[int, int]:
        keys = [self._key(merchant_id, part) for part in ("open", "tripped", "probe", "failures")]
        try:
            verdict, number = self._admit(keys=keys, args=[token, self.trial_timeout_ms])
        except redis.RedisError as error:
            self._log_outage(merchant_id, error)
            return _CLOSED, 0
        return int(verdict), int(number)

    def _record_failure(self, merchant_id: str, trial: bool) -> bool:
        """Count a failure; return True when it opened the breaker."""
        args = (self.failure_threshold, self.cooldown_ms, self.memory_ms, int(trial), merchant_id)
        try:
            opened = self._failed(keys=self._all_keys(merchant_id), args=args)
        except redis.RedisError as error:
            self._log_outage(merchant_id, error)
            return False
        if opened:
            logger.warning(
                "%s circuit breaker opened for merchant %s for %d ms",
                self.name,
                merchant_id,
                self.cooldown_ms,
            )
        return bool(opened)

    def _record_success(self, merchant_id: str, trial: bool) -> None:
        try:
            self._succeeded(keys=self._all_keys(merchant_id), args=[int(trial), merchant_id])
        except redis.RedisError as error:
            self._log_outage(merchant_id, error)

    def _release_trial(self, merchant_id: str, token: str) -> None:
        try:
            self._release(keys=[self._key(merchant_id, "probe")], args=[token])
        except redis.RedisError as error:
            self._log_outage(merchant_id, error)

    def _all_keys(self, merchant_id: str) -> list[str]:
        parts = ("failures", "open", "tripped", "probe")
        registry = self.keys("breaker", self.name, "tripped-merchants")
        return [*(self._key(merchant_id, part) for part in parts), registry]

    def _key(self, merchant_id: str, part: str) -> str:
        return self.keys("breaker", self.name, quote(merchant_id, safe=""), part)

    def _log_outage(self, merchant_id: str, error: Exception) -> None:
        logger.log(
            logging.WARNING if self._warn_now() else logging.DEBUG,
            "%s circuit breaker cannot reach Redis (calls proceed) merchant=%s: %s: %s",
            self.name,
            merchant_id,
            type(error).__name__,
            error,
        )
