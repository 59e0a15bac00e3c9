"""History survives a restart of the service: the follow-up still finds "that"."""

from tests.service.conftest import azure_env, pool_env, run_service
from tests.service.helpers import config, new_id


def test_follow_up_after_the_service_restarts(scripted_llm, llm, session_pool, tmp_path):
    conversation = new_id()
    env = {**azure_env(scripted_llm), **pool_env(session_pool)}
    with run_service(env, tmp_path) as service:
        first = service.remote("/chat").invoke(
            {"message": "What is 25 * 847?"}, config(conversation)
        )
    with run_service(env, tmp_path) as service:
        second = service.remote("/chat").invoke(
            {"message": "What's the square root of that?"}, config(conversation)
        )
        with service.http() as http:
            stored = http.get(f"/conversations/{conversation}").json()

    assert first["output"] == "The result is 21175."
    assert second["output"].startswith("The result is 145.51")
    assert len(stored["messages"]) == 4
