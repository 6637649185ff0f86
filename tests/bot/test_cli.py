import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from store.models import ApiKey, PersonalAccessToken, Restaurant, RestaurantBot
from store.tokens import hash_token

CREATE = [
    "restaurants", "create", "--id", "r1", "--name", "Burger Bros / برجر",
    "--whatsapp-number", "+966500000010", "--merchant-id", "m1",
]  # fmt: skip


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def assert_serving(db_session, restaurant_id):
    """The restaurant is active and its bot enabled, as the database has it now."""
    db_session.expire_all()
    restaurant = db_session.get(Restaurant, restaurant_id)
    assert restaurant.is_active
    assert restaurant.bot.enabled


def count(db_session, model):
    return db_session.scalar(select(func.count()).select_from(model))


def test_creating_a_restaurant_stores_it_with_default_allowances(runner, db_session, settings):
    result = invoke(runner, *CREATE)
    assert result.exit_code == 0, result.output
    restaurant = db_session.get(Restaurant, "r1")
    assert restaurant.name == "Burger Bros / برجر"
    assert restaurant.timezone == "UTC"
    assert restaurant.is_active
    bot = db_session.get(RestaurantBot, "r1")
    assert bot.max_messages_per_day == settings.default_max_messages_per_day
    assert bot.max_messages_per_min == settings.default_max_messages_per_min
    assert bot.max_conversations_per_month == settings.default_max_conversations_per_month
    assert bot.enabled


def test_limit_options_and_timezone_are_stored(runner, db_session):
    result = invoke(
        runner, *CREATE, "--timezone", "Asia/Riyadh", "--daily-limit", "5",
        "--per-minute-limit", "2", "--monthly-limit", "7", "--welcome-content-sid", "HX" + "a" * 32,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    bot = db_session.get(RestaurantBot, "r1")
    assert (bot.max_messages_per_day, bot.max_messages_per_min) == (5, 2)
    assert bot.max_conversations_per_month == 7
    assert bot.welcome_content_sid == "HX" + "a" * 32
    assert db_session.get(Restaurant, "r1").timezone == "Asia/Riyadh"


@pytest.mark.parametrize(
    ("extra", "complaint"),
    [
        (["--timezone", "Mars/Olympus"], "unknown timezone 'Mars/Olympus'"),
        (["--daily-limit", "-3"], "--daily-limit: must be 0 or more"),
        (["--monthly-limit", "lots"], "--monthly-limit: expected a whole number"),
        (["--welcome-content-sid", "welcome"], "is not a Content SID"),
    ],
)
def test_bad_input_is_one_line_on_stderr_exit_1_and_nothing_written(
    runner, db_session, extra, complaint
):
    result = invoke(runner, *CREATE, *extra)
    assert result.exit_code == 1
    assert complaint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
    assert count(db_session, Restaurant) == 0
    assert count(db_session, RestaurantBot) == 0


@pytest.mark.parametrize("number", ["0500000010", "+0123456789", "+9665", "whatsapp:+966500000010"])
def test_a_number_that_is_not_e164_is_refused(runner, db_session, number):
    args = list(CREATE)
    args[args.index("--whatsapp-number") + 1] = number
    result = invoke(runner, *args)
    assert result.exit_code == 1
    assert "is not E.164" in result.stderr
    assert count(db_session, Restaurant) == 0


def test_a_number_already_in_use_is_refused(runner, db_session):
    assert invoke(runner, *CREATE).exit_code == 0
    args = list(CREATE)
    args[args.index("r1")] = "r2"
    result = invoke(runner, *args)
    assert result.exit_code == 1
    assert "already in use" in result.stderr
    assert count(db_session, Restaurant) == 1


def test_update_changes_only_the_given_options(runner, db_session):
    invoke(runner, *CREATE, "--daily-limit", "5")
    result = invoke(
        runner, "restaurants", "update", "r1", "--inactive", "--bot-disabled",
        "--monthly-limit", "9", "--name", "Burger Brothers",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    restaurant = db_session.get(Restaurant, "r1")
    assert restaurant.name == "Burger Brothers"
    assert not restaurant.is_active
    assert not restaurant.bot.enabled
    assert restaurant.bot.max_conversations_per_month == 9
    assert restaurant.bot.max_messages_per_day == 5


def test_contradicting_flags_are_refused_and_change_nothing(runner, db_session):
    invoke(runner, *CREATE)
    for pair in (["--active", "--inactive"], ["--bot-disabled", "--bot-enabled"]):
        result = invoke(runner, "restaurants", "update", "r1", *pair)
        assert result.exit_code == 1
        assert "contradict each other" in result.stderr
    assert_serving(db_session, "r1")


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["tokens", "create"], "Missing option '--restaurant'"),
        (["tokens", "create", "--restaurant", "r1", "--bogus"], "No such option '--bogus'"),
        (["tokens", "revoke"], "Missing argument 'PREFIX'"),
        (["api-keys", "create"], "Missing option '--name'"),
        (["tokens", "bogus"], "No such command 'bogus'"),
        (["restaurants", "create", "--id", "r1"], "Missing option '--name'"),
        (["simulate"], "Missing option '--to'"),
    ],
)
def test_a_usage_mistake_is_one_line_on_stderr_and_exit_1_too(runner, args, complaint):
    result = invoke(runner, *args)
    assert result.exit_code == 1
    assert complaint in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_updating_an_unknown_restaurant_fails_cleanly(runner):
    result = invoke(runner, "restaurants", "update", "ghost", "--active")
    assert result.exit_code == 1
    assert "unknown restaurant 'ghost'" in result.stderr


def test_list_shows_every_restaurant(runner):
    invoke(runner, *CREATE)
    result = invoke(runner, "restaurants", "list")
    assert result.exit_code == 0
    assert "r1\tBurger Bros / برجر\t+966500000010" in result.stdout


def test_a_token_is_printed_once_alone_on_the_last_line_and_only_its_hash_stored(
    runner, db_session
):
    invoke(runner, *CREATE)
    result = invoke(runner, "tokens", "create", "--restaurant", "r1", "--name", "laptop")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("rbpat_")
    stored = db_session.scalars(select(PersonalAccessToken)).one()
    assert stored.token_hash == hash_token(secret)
    assert stored.prefix == secret[:14]
    assert stored.name == "laptop"
    assert secret not in invoke(runner, "tokens", "list").stdout


def test_a_token_with_an_expiry_records_it(runner, db_session):
    invoke(runner, *CREATE)
    result = invoke(runner, "tokens", "create", "--restaurant", "r1", "--expires-in-days", "30")
    assert result.exit_code == 0
    assert db_session.scalars(select(PersonalAccessToken)).one().expires_at is not None


def test_a_token_for_an_unknown_restaurant_is_refused(runner, db_session):
    result = invoke(runner, "tokens", "create", "--restaurant", "nope")
    assert result.exit_code == 1
    assert "unknown restaurant 'nope'" in result.stderr
    assert count(db_session, PersonalAccessToken) == 0


def test_revoking_a_token_by_prefix_marks_it_revoked(runner, db_session):
    invoke(runner, *CREATE)
    secret = invoke(runner, "tokens", "create", "--restaurant", "r1").stdout.splitlines()[-1]
    result = invoke(runner, "tokens", "revoke", secret[:14])
    assert result.exit_code == 0
    assert db_session.scalars(select(PersonalAccessToken)).one().revoked_at is not None
    assert "revoked" in invoke(runner, "tokens", "list").stdout
    assert invoke(runner, "tokens", "revoke", "rbpat_nothere").exit_code == 1


def test_revoking_with_the_whole_token_works_too(runner, db_session):
    invoke(runner, *CREATE)
    secret = invoke(runner, "tokens", "create", "--restaurant", "r1").stdout.splitlines()[-1]
    assert invoke(runner, "tokens", "revoke", secret).exit_code == 0
    assert db_session.scalars(select(PersonalAccessToken)).one().revoked_at is not None


def test_api_keys_are_created_listed_and_revoked(runner, db_session):
    result = invoke(runner, "api-keys", "create", "--name", "ops")
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("rbkey_")
    assert db_session.scalars(select(ApiKey)).one().token_hash == hash_token(secret)
    assert f"{secret[:14]}\tops\tactive" in invoke(runner, "api-keys", "list").stdout
    assert invoke(runner, "api-keys", "revoke", secret[:14]).exit_code == 0
    assert "revoked" in invoke(runner, "api-keys", "list").stdout


def test_a_read_only_key_is_created_with_the_viewer_role(runner, db_session):
    result = invoke(runner, "api-keys", "create", "--name", "eyes", "--read-only")
    secret = result.stdout.strip().splitlines()[-1]
    assert "read-only" in result.stdout
    assert db_session.scalars(select(ApiKey)).one().role == "viewer"
    assert f"{secret[:14]}\teyes\tactive" in invoke(runner, "api-keys", "list").stdout
    assert "role viewer" in invoke(runner, "api-keys", "list").stdout


def test_demo_seed_is_idempotent_and_issues_fresh_credentials_each_run(runner, db_session):
    first = invoke(runner, "demo", "seed")
    second = invoke(runner, "demo", "seed")
    assert first.exit_code == second.exit_code == 0
    assert count(db_session, Restaurant) == 1

    def value(output, label):
        return next(
            line.split(": ", 1)[1] for line in output.splitlines() if line.startswith(label)
        )

    assert value(first.stdout, "Restaurant ID") == "demo"
    assert value(first.stdout, "PAT") != value(second.stdout, "PAT")
    tokens = db_session.scalars(select(PersonalAccessToken).order_by(PersonalAccessToken.id)).all()
    assert [t.revoked_at is None for t in tokens] == [False, True]
    keys = db_session.scalars(select(ApiKey).order_by(ApiKey.id)).all()
    assert [k.revoked_at is None for k in keys] == [False, True]
    assert keys[1].token_hash == hash_token(value(second.stdout, "Admin key"))


def test_demo_seed_turns_a_switched_off_demo_back_on(runner, db_session):
    invoke(runner, "demo", "seed")
    invoke(runner, "restaurants", "update", "demo", "--inactive", "--bot-disabled")
    again = invoke(runner, "demo", "seed")
    assert again.exit_code == 0
    assert "turned on" in again.stderr
    assert_serving(db_session, "demo")


def flask_command(tmp_path, *args, **env_changes):
    """Run `flask --app bot ARGS` in a process of its own; None in `env_changes` unsets."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    flask = str(Path(sys.executable).with_name("flask"))
    command = [flask, "--app", "bot", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_an_unreachable_or_unmigrated_database_is_one_line_not_a_traceback(tmp_path):
    done = flask_command(tmp_path, "restaurants", "list")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: database error: no such table: restaurants (is DATABASE_URL right, and the"
        " schema migrated? flask --app bot db upgrade)"
    ]


@pytest.mark.parametrize(
    ("configured", "complaint"),
    [
        ("redis://127.0.0.1:1/0", "Error: Redis is unreachable: "),
        (None, "Error: REDIS_URL is not set (this command needs Redis)"),
    ],
)
def test_redis_being_unreachable_is_one_line_not_a_traceback(tmp_path, configured, complaint):
    done = flask_command(tmp_path, "dead-letters", "list", REDIS_URL=configured, BROKER_URL=None)
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(complaint)


def test_a_token_cannot_expire_past_a_hundred_years(runner, db_session):
    invoke(runner, *CREATE)
    result = invoke(
        runner, "tokens", "create", "--restaurant", "r1", "--expires-in-days", "99999999"
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: --expires-in-days: must be 36500 or less, got 99999999"
    assert count(db_session, PersonalAccessToken) == 0
