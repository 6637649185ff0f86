"""Channel secrets at rest: encrypted with SECRETS_KEY, keys rotate (SPEC §15)."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from alerts.models import AlertChannel
from alerts.secrets import SecretBox, SecretsUnavailable
from store.settings import Settings, SettingsError
from tests.usage_api.conftest import add_restaurant, owner_headers


def test_a_webhook_secret_is_stored_encrypted_and_never_listed(
    client, db_session, settings, runtime
):
    add_restaurant(db_session, settings, "r1")
    owner = owner_headers(db_session, "r1")
    created = client.post(
        "/api/alerts/channels",
        json={"type": "webhook", "target": "https://hooks.example.com/x"},
        headers=owner,
    ).get_json()
    stored = db_session.scalars(select(AlertChannel.secret)).one()
    assert created["secret"] not in stored
    assert runtime.secret_box.decrypt(stored) == created["secret"]
    assert created["secret"] not in client.get("/api/alerts", headers=owner).get_data(as_text=True)


def test_keys_rotate_the_first_encrypts_and_every_one_decrypts():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox(old).encrypt("whsec_x")
    rotated_box = SecretBox(f"{new},{old}")
    assert rotated_box.decrypt(token) == "whsec_x"
    rewritten = rotated_box.rotate(token)
    assert SecretBox(new).decrypt(rewritten) == "whsec_x"
    with pytest.raises(SecretsUnavailable):
        SecretBox(new).decrypt(token)


def test_without_a_key_nothing_can_be_encrypted():
    with pytest.raises(SecretsUnavailable):
        SecretBox(None).encrypt("whsec_x")


def test_a_key_that_is_not_a_fernet_key_stops_start_up_with_one_line():
    with pytest.raises(SettingsError, match="SECRETS_KEY: key 2 is not a Fernet key"):
        Settings.from_env({"SECRETS_KEY": f"{Fernet.generate_key().decode()},nope"})
    with pytest.raises(SettingsError, match="ALERT_WEBHOOK_ALLOW_PRIVATE"):
        Settings.from_env({"ALERT_WEBHOOK_ALLOW_PRIVATE": "maybe"})
    with pytest.raises(SettingsError, match="SMTP_URL"):
        Settings.from_env({"SMTP_URL": "http://mail.example.com"})


def test_a_webhook_channel_without_secrets_key_is_a_503(db_session, engine, settings):
    from bot import create_app
    from bot.runtime import Runtime

    add_restaurant(db_session, settings, "r1")
    owner = owner_headers(db_session, "r1")
    keyless = Runtime(
        settings.replace(secrets_key=None),
        engine=engine,
        session_factory=db_session.info["factory"],
    )
    answer = (
        create_app(runtime=keyless)
        .test_client()
        .post(
            "/api/alerts/channels",
            json={"type": "webhook", "target": "https://hooks.example.com/x"},
            headers=owner,
        )
    )
    keyless.close_clients()
    assert (answer.status_code, answer.get_json()["error"]["code"]) == (503, "unavailable")
