"""What a python turn costs the pool, counted by a recording proxy in front of the real pool:
one execution and the read of its outputs (a local pool's extension), two file listings (before
the turn, to restore the conversation's files into a new session; after it, to keep what the
code wrote), no probe, on one kept-alive connection."""

from collections import Counter

from tests.service.conftest import azure_env, run_service
from tests.service.helpers import ask_chat, new_id, script_code_turn
from tests.support.pool_proxy import recording_proxy


def test_a_python_turn_makes_one_execution_and_two_listings(
    scripted_llm, llm, session_pool, tmp_path
):
    with recording_proxy(session_pool.endpoint) as proxy:
        env = {
            **azure_env(scripted_llm),
            "POOL_MANAGEMENT_ENDPOINT": proxy.url,
            "SESSION_POOL_API_KEY": session_pool.api_key,
        }
        conversation = new_id()
        with run_service(env, tmp_path) as service:
            per_turn = []
            for code in ("x = 20", "x + 1", "x * 2"):
                before = len(proxy.calls)
                script_code_turn(llm, code)
                ask_chat(service, conversation, f"run {code}")
                per_turn.append(Counter(proxy.routes()[before:]))
            calls = list(proxy.calls)

    for counted in per_turn:
        assert counted == {
            ("POST", "code/execute"): 1,
            ("GET", "session/outputs"): 1,
            ("GET", "files"): 2,
        }  # no probe (GET session) before the execution, no file moved
    assert {call.identifier for call in calls} == {calls[0].identifier}
    connections = {call.connection for call in calls}
    assert len(connections) == 1, f"each call on a new connection: {connections}"
