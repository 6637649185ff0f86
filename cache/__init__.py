"""The two-tier catalog cache (in-process cachetools + Redis) with single-flight."""
