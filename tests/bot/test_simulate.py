"""`flask --app bot simulate`: a newcomer talks to the running bot without Twilio."""

from tests.support import factories
from tests.support.servers import serving


def test_simulate_posts_a_signed_message_and_prints_the_welcome(
    live_app, live_runtime, settings, fake_twilio
):
    with live_runtime.transaction() as session:
        restaurant = factories.restaurant(session, settings, name="Burger Bros")
    runner = live_app.test_cli_runner()
    with serving(live_app) as url:
        result = runner.invoke(
            args=[
                "simulate", "--url", url, "--to", restaurant.whatsapp_number,
                "--from", "+966511111111", "--wait", "2", "hello",
            ]
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == f"you -> {restaurant.whatsapp_number}: hello"
        assert "Burger Bros" in lines[1]
        assert lines[1].startswith("bot [sent]: ")

        again = runner.invoke(
            args=["simulate", "--url", url, "--to", restaurant.whatsapp_number,
                  "--from", "+966511111111", "--wait", "2", "help"]
        )  # fmt: skip
        assert "MENU" in again.stdout
    assert len(fake_twilio.sent()) == 2


def test_simulate_to_an_unknown_number_says_what_the_server_answered(live_app, settings):
    runner = live_app.test_cli_runner()
    with serving(live_app) as url:
        result = runner.invoke(
            args=["simulate", "--url", url, "--to", "+15550009999", "--from", "+9665111", "hi"]
        )
    assert result.exit_code == 1
    assert "404" in result.stderr


def test_simulate_without_a_server_fails_with_one_clear_line(live_app):
    result = live_app.test_cli_runner().invoke(
        args=["simulate", "--url", "http://127.0.0.1:1", "--to", "+1555", "--from", "+1", "x"]
    )
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:1/whatsapp/webhook" in result.stderr
