"""Order-history import (SPEC §13): POS orders from the catalog API, their hourly
aggregates, and the `orders` part of the insights."""
