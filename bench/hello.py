"""The baseline app: a hello-world Flask POST endpoint, served like the real one."""

from flask import Flask

app = Flask(__name__)


@app.post("/whatsapp/webhook")
def hello() -> str:
    """Answer a POST with a constant body."""
    return "hello"
