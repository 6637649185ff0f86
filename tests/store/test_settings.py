import pytest

from store.settings import Settings, SettingsError


def test_defaults_match_the_spec_when_nothing_is_set():
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("0.0.0.0", 8000)
    assert settings.redis_namespace == "restaurant-bot"
    assert settings.database_url == "sqlite:///instance/restaurant-bot.db"
    assert settings.redis_url is None
    assert settings.sufrah_cache_ttl_ms == 180_000
    assert (settings.local_cache_ttl_ms, settings.local_cache_size) == (30_000, 10_000)
    assert (settings.queue_retry_attempts, settings.queue_backoff_delay_ms) == (3, 5000)
    assert (settings.bootstrap_concurrency, settings.bootstrap_rate_per_minute) == (5, 20)
    assert settings.default_max_messages_per_day == 1000
    assert settings.default_max_messages_per_min == 60
    assert settings.default_max_conversations_per_month == 30_000
    assert (settings.catalog_breaker_failures, settings.catalog_breaker_cooldown_ms) == (5, 60_000)
    assert (settings.job_retention_days, settings.message_body_retention_days) == (30, 90)
    assert (settings.log_level, settings.log_format) == ("INFO", "text")
    assert settings.console_mode


def test_broker_url_falls_back_to_redis_url():
    settings = Settings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/3"})
    assert settings.effective_broker_url == "redis://127.0.0.1:6379/3"
    amqp = Settings.from_env({"REDIS_URL": "redis://h/0", "BROKER_URL": "amqp://guest@h:5672/"})
    assert amqp.effective_broker_url == "amqp://guest@h:5672/"


def test_content_sid_variables_become_named_templates():
    settings = Settings.from_env({"CONTENT_SID_WELCOME": "HXaaa", "CONTENT_SID_MENU": "HXbbb"})
    assert settings.content_sids == {"welcome": "HXaaa", "menu": "HXbbb"}
    assert settings.welcome_content_sid == "HXaaa"


def test_a_twilio_account_sid_turns_console_mode_off():
    assert not Settings.from_env({"TWILIO_ACCOUNT_SID": "AC123"}).console_mode


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("PORT", "eighty", "PORT: expected an integer"),
        ("PORT", "70000", "PORT: must be at most 65535"),
        ("QUEUE_RETRY_ATTEMPTS", "-1", "QUEUE_RETRY_ATTEMPTS: must be at least 0"),
        ("SUFRAH_CACHE_TTL_MS", "1.5", "SUFRAH_CACHE_TTL_MS: expected an integer"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL: unsupported URL scheme"),
        ("REDIS_URL", "http://localhost", "REDIS_URL: unsupported URL scheme"),
        ("BROKER_URL", "kafka://k:9092", "BROKER_URL: unsupported URL scheme"),
        ("SUFRAH_API_BASE", "ftp://catalog", "SUFRAH_API_BASE: unsupported URL scheme"),
        ("PUBLIC_BASE_URL", "https://", "PUBLIC_BASE_URL: URL 'https://' has no host"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT: expected one of text, json"),
        (
            "REDIS_URL",
            "redis://127.0.0.1:notaport/0",
            "REDIS_URL: URL 'redis://127.0.0.1:notaport/0' has a port that is not a number",
        ),
        ("REDIS_URL", "redis://127.0.0.1:6379/abc", "REDIS_URL: URL 'redis://127.0.0.1:6379/abc'"),
        (
            "DATABASE_URL",
            "postgresql+psycopg://u@127.0.0.1:abc/db",
            "DATABASE_URL: URL 'postgresql+psycopg://u@127.0.0.1:abc/db' has a port",
        ),
        ("SUFRAH_API_BASE", "http://x:abc", "SUFRAH_API_BASE: URL 'http://x:abc' has a port"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: expected one of"),
    ],
)
def test_a_bad_value_stops_start_up_with_one_line_naming_the_variable(variable, value, complaint):
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(complaint)
    assert "\n" not in message


def test_settings_are_read_once_into_an_immutable_object():
    settings = Settings.from_env({"PORT": "9000"})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]
    assert settings.replace(port=9001).port == 9001


def test_the_web_process_needs_redis_url_and_says_so_in_one_line(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "BROKER_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/x.db"
    command = [gunicorn, "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0", "bot:create_app()"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "configuration error: REDIS_URL: required (or BROKER_URL), e.g. redis://host:6379/0"
    ]


def test_the_worker_refuses_a_count_option_that_is_not_a_number(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    env.setdefault("REDIS_URL", "redis://127.0.0.1:1/0")
    command = [sys.executable, "-m", "actors.run_worker", "actors.context:setup", "actors.worker"]
    done = subprocess.run(
        [*command, "--processes", "abc"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "configuration error: WORKER_PROCESSES (--processes): expected a whole number"
        " of 1 or more, got 'abc'"
    ]


def test_the_worker_requires_a_redis_url():
    with pytest.raises(SettingsError, match="REDIS_URL: required"):
        Settings.from_env({}).require_redis_url()


@pytest.mark.parametrize(
    "command",
    [
        ["flask", "--app", "bot", "restaurants", "list"],
        ["python", "-m", "actors.scheduler"],
        ["python", "-m", "actors.run_worker"],
        ["gunicorn", "-c", "gunicorn.conf.py", "--bind", "127.0.0.1:0", "bot:create_app()"],
    ],
    ids=["cli", "scheduler", "worker", "web"],
)
def test_every_process_stops_on_a_bad_value_with_one_line_naming_it(command, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "QUEUE_BACKOFF_DELAY": "soon",
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "configuration error: QUEUE_BACKOFF_DELAY: expected an integer, got 'soon'"
    ]
