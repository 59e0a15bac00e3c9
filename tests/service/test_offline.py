"""The configuration `make run` uses: no model configured (offline model), the pool supervised."""

import logging
import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from llms import build_chat_model
from settings import Settings
from tests.service.conftest import run_service
from tests.service.helpers import config, new_id, pool_pid


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


SERVICE_SECRET = "a-secret-of-the-service-only"


@pytest.fixture(scope="module")
def offline_service(tmp_path_factory):
    env = {"LANGSMITH_API_KEY": SERVICE_SECRET}
    with run_service(env, tmp_path_factory.mktemp("offline-data")) as service:
        yield service


def test_the_supervised_pool_gets_none_of_the_services_secrets(offline_service):
    environ = Path(f"/proc/{pool_pid(offline_service.proc.pid)}/environ").read_bytes()
    names = {entry.split(b"=", 1)[0] for entry in environ.split(b"\0") if entry}
    assert SERVICE_SECRET.encode() not in environ
    assert b"SESSION_POOL_API_KEY" in names and b"PATH" in names


def test_offline_model_computes_and_follows_up(offline_service):
    chat = offline_service.remote("/chat")
    conversation = new_id()
    first = chat.invoke({"message": "What is 25 * 847?"}, config(conversation))
    second = chat.invoke({"message": "What's the square root of that?"}, config(conversation))

    assert first["route"] == "python" and first["steps"][0]["result"] == 21175
    assert first["output"] == "[offline model] 25 * 847 = 21175"
    assert second["output"].startswith("[offline model] math.sqrt(21175) = 145.51")


def test_the_original_samples_three_flows(offline_service):
    chat = offline_service.remote("/chat")
    conversation = new_id()
    product = chat.invoke({"message": "What is 25 * 847?"}, config(conversation))
    root = chat.invoke({"message": "What's the square root of that?"}, config(conversation))
    clock = chat.invoke({"message": "What time is it right now?"}, config(conversation))

    assert "21175" in product["output"]
    assert re.search(r"= 145\.5\d*$", root["output"])
    assert clock["route"] == "python" and "datetime" in clock["steps"][0]["code"]
    told = re.search(r"The current time is (\d\d:\d\d:\d\d) UTC", clock["output"])
    assert told, clock["output"]
    # The session's clock, not a made-up time: within a few minutes of this machine's.
    now = datetime.now(UTC)
    said = datetime.combine(now.date(), datetime.strptime(told[1], "%H:%M:%S").time(), UTC)
    assert min(abs(said - now + timedelta(days=d)) for d in (-1, 0, 1)) < timedelta(minutes=5)


def test_that_never_refers_to_the_help_messages_example(offline_service):
    chat = offline_service.remote("/chat")
    conversation = new_id()
    hello = chat.invoke({"message": "hello"}, config(conversation))
    follow_up = chat.invoke({"message": "What's the square root of that?"}, config(conversation))

    assert "25 * 847" in hello["output"]  # the help's own example
    assert follow_up["route"] == "chat" and not follow_up["steps"]
    assert "847" not in follow_up["output"].split("for example")[0]
    assert "no earlier result" in follow_up["output"]


def test_scientific_notation_is_one_number(offline_service):
    chat = offline_service.remote("/chat")
    small = chat.invoke({"message": "What is 1.5e3 * 2?"})
    huge = chat.invoke({"message": "What is 1e308 * 10"})

    assert "1.5e3 * 2" in small["steps"][0]["code"]
    assert small["output"] == "[offline model] 1.5e3 * 2 = 3000.0"
    assert "1e308 * 10" in huge["steps"][0]["code"]
    # The pool sends no value for infinity (JSON has none); the model never says "= None".
    assert huge["output"] == (
        "[offline model] 1e308 * 10 is beyond the range of floating-point numbers (infinity or NaN)"
    )


def test_two_requests_in_one_message_are_both_answered(offline_service):
    result = offline_service.remote("/chat").invoke({"message": "25 * 847? Also what time is it?"})

    assert [step["status"] for step in result["steps"]] == ["Success", "Success"]
    assert "25 * 847 = 21175" in result["output"]
    assert "The current time is" in result["output"]


def test_the_part_it_cannot_do_is_named_not_dropped(offline_service):
    result = offline_service.remote("/chat").invoke({"message": "25 * 847? Also tell me a joke"})

    assert "25 * 847 = 21175" in result["output"]
    assert "I cannot answer “tell me a joke”: no language model is configured" in result["output"]


def test_date_questions_run_python(offline_service):
    result = offline_service.remote("/chat").invoke({"message": "What's the date today?"})

    assert result["route"] == "python" and "datetime" in result["steps"][0]["code"]
    days = [datetime.now(UTC) + timedelta(days=d) for d in (-1, 0, 1)]  # near midnight
    assert any(f"Today is {day:%A %d %B %Y}." in result["output"] for day in days), result["output"]


def test_the_start_up_log_names_the_model(caplog):
    with caplog.at_level(logging.INFO, logger="llms"):
        build_chat_model(Settings(_env_file=None))

    assert "chat model: offline model (no language model configured" in caplog.text


def test_offline_model_explains_how_to_configure_a_model(offline_service):
    result = offline_service.remote("/chat").invoke({"message": "Tell me a joke"})

    assert result["route"] == "chat"
    assert result["output"].startswith("[offline model]")
    assert "AZURE_OPENAI_ENDPOINT" in result["output"] and "OPENAI_BASE_URL" in result["output"]


def test_offline_model_streams_its_answer(offline_service):
    chunks = list(
        offline_service.remote("/chat").stream({"message": "What is 2 to the power of 10?"})
    )

    tokens = [c["output"] for c in chunks if c.get("output")]
    assert len(tokens) > 1 and "".join(tokens) == "[offline model] 2 ** 10 = 1024"


def test_a_dead_pool_is_restarted_and_the_reset_is_reported(offline_service):
    chat = offline_service.remote("/chat")
    conversation = new_id()
    chat.invoke({"message": "What is 2 * 21?"}, config(conversation))
    old_pool = pool_pid(offline_service.proc.pid)
    os.killpg(old_pool, signal.SIGKILL)

    after = chat.invoke({"message": "What is 3 * 5?"}, config(conversation))

    assert after["steps"][0]["result"] == 15
    assert "session was reset" in after["output"]
    assert pool_pid(offline_service.proc.pid) != old_pool
    with offline_service.http() as http:
        assert http.get("/readyz").json()["session_pool"] == "ok"


def test_restart_keeps_history_and_shutdown_stops_the_pool(tmp_path):
    conversation = new_id()
    with run_service({}, tmp_path) as service:
        service.remote("/chat").invoke({"message": "What is 25 * 847?"}, config(conversation))
        first_pool = pool_pid(service.proc.pid)
    deadline = time.monotonic() + 10
    while is_running(first_pool) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_running(first_pool)

    with run_service({}, tmp_path) as service:
        second = service.remote("/chat").invoke(
            {"message": "What's the square root of that?"}, config(conversation)
        )
    assert "145.51" in second["output"]


def test_a_killed_service_takes_its_pool_down_with_it(tmp_path):
    with run_service({}, tmp_path) as service:
        pool = pool_pid(service.proc.pid)
        os.kill(service.proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while is_running(pool) and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not is_running(pool)
