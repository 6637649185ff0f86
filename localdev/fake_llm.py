"""A local OpenAI-compatible chat-completions endpoint, for the insights narrative.

    .venv/bin/python -m localdev.fake_llm --port 0      # prints LLM_URL=http://127.0.0.1:…/v1

`POST /v1/chat/completions` answers like OpenAI's API (`choices[0].message.content`).
`mode` picks the answer: `good` (a short summary that quotes the conversation count it
was given), `garbage` (a 200 whose body is not a chat completion), `empty` (a completion
without text). Being down (stopped), failing (`add_fault("fail", …)`) and slow
(`add_fault("timeout", …, seconds=…)`) come from the shared stand-in base. Every request is
recorded, so tests can check what left the machine.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from typing import Any, Literal

from localdev._http import RecordedRequest, Reply, StandInServer

Mode = Literal["good", "garbage", "empty"]


class FakeLLM(StandInServer):
    """An OpenAI-compatible `chat/completions` endpoint on 127.0.0.1."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.mode: Mode = "good"

    @property
    def base_url(self) -> str:
        """Return the base URL an OpenAI client takes (`…/v1`)."""
        return f"{self.url}/v1"

    def prompts(self) -> list[dict[str, Any]]:
        """Return the JSON bodies of the chat requests received so far."""
        return [json.loads(r.body) for r in self.requests if r.path.endswith("/chat/completions")]

    def route(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or not request.path.endswith("/chat/completions"):
            return Reply(404, {"error": {"message": f"no route {request.path}"}})
        try:
            body = json.loads(request.body)
            facts = json.loads(body["messages"][-1]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            return Reply(400, {"error": {"message": "expected a chat completion request"}})
        if self.mode == "garbage":
            return Reply(200, "<html>not a completion</html>")
        content = "" if self.mode == "empty" else _summary(facts)
        return Reply(
            200,
            {
                "id": "chatcmpl-local",
                "object": "chat.completion",
                "model": body.get("model", "local"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            },
        )


def _summary(facts: dict[str, Any]) -> str:
    conversations = facts.get("conversations", 0) if isinstance(facts, dict) else 0
    return (
        f"This week the bot had {conversations} conversations. Most customers look at the "
        "menu; make the most opened categories easy to reach."
    )


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=("good", "garbage", "empty"), default="good")
    args = parser.parse_args(argv)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    server = FakeLLM(args.host, args.port)
    server.mode = args.mode
    with server:
        print(f"LLM_URL={server.base_url}", flush=True)
        while not stopping.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
