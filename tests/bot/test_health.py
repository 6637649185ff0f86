from bot import create_app
from bot.runtime import Runtime
from localdev.embedded_redis import EmbeddedRedis


def test_healthz_answers_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_200_when_database_and_redis_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_turns_503_naming_redis_when_redis_stops(settings, engine):
    with EmbeddedRedis() as private_redis:
        runtime = Runtime(settings.replace(redis_url=private_redis.url), engine=engine)
        client = create_app(runtime=runtime).test_client()
        assert client.get("/readyz").status_code == 200
        private_redis.stop()
        response = client.get("/readyz")
        runtime.redis.close()
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("unreachable")
    assert body["error"]["message"] == "not ready: redis down"


def test_readyz_names_the_database_when_it_is_unreachable(settings):
    # Nothing listens on port 1: the connection is refused at once.
    broken = settings.replace(database_url="postgresql+psycopg://postgres@127.0.0.1:1/nothing")
    runtime = Runtime(broken)
    response = create_app(runtime=runtime).test_client().get("/readyz")
    runtime.close()
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"].startswith("unreachable")
    assert body["checks"]["redis"] == "ok"
    assert body["error"]["message"] == "not ready: database down"


def test_unknown_api_paths_get_a_json_404(client):
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_wrong_method_gets_a_json_405(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_a_body_over_64_kib_gets_a_json_413(client):
    response = client.post("/healthz", data=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_an_unexpected_error_gets_a_json_500_without_details(app):
    @app.get("/api/boom")
    def boom():
        raise RuntimeError("secret detail")

    response = app.test_client().get("/api/boom")
    assert response.status_code == 500
    assert response.get_json() == {
        "error": {"code": "internal_error", "message": "internal error; it has been logged"}
    }


def test_a_nul_character_in_a_filter_is_a_400_not_a_500(client, db_session, settings):
    from store.credentials import create_api_key

    key = create_api_key(db_session, name="ops").secret
    for path in (
        "/api/admin/jobs?actor=a%00b",
        "/api/admin/jobs?restaurant=r%00",
        "/api/usage?limit=1%00",
    ):
        response = client.get(path, headers={"X-API-Key": key})
        assert response.status_code == 400, path
        assert response.get_json()["error"]["code"] == "invalid_parameter"
