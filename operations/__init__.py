"""What operators work with besides the jobs themselves: the audit log of their actions,
the SQL index of the broker's dead letters, the hourly rollup of job outcomes, and the
operations snapshot (queues, workers, breakers, cache, health)."""
