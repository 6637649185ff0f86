"""Conversation insights (SPEC §12): events → batches → analysis jobs → hourly aggregates.

- `events`: the append-only event rows a conversation leaves (written by the webhook's
  transaction, deferred replies, delivery results), and the unrecognised-text rule.
- `batches`: the `open → sealed → analyzed` state machine; sealing takes a restaurant's
  waiting events in one statement, so the webhook never touches a batch row.
- `batch_reads`: the admin list of batches and their counts by status;
  `batch_operations`: what operators do (list, seal now, analyze), audited — the API,
  the dashboard and the CLI call it.
- `folding`: one batch into the hourly aggregates, exactly once.
- `report`, `findings`: what `GET /api/insights` and `insights show` read.
- `narrator`: the optional summary from an OpenAI-compatible endpoint, behind a breaker.
- `retention`: what the scheduler's cleanup deletes.
"""
