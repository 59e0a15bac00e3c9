"""A call returns within caps: the result's text, its outputs' text and images; the session
keeps its state, and stderr says what was left out."""

import textwrap

import pytest

from sessionpool import caps
from tests.sessionpool.conftest import (
    GEN1,
    GEN2,
    assert_neighbour_answers,
    forged_answer,
    new_id,
)

CUT = "cut at 1048576, the most a result holds]"


@pytest.mark.parametrize("megabytes", [20, 70])
def test_a_huge_result_is_cut_visibly_and_the_session_kept(client, neighbour, megabytes):
    identifier = new_id()
    client.run("kept = 'state'", identifier)
    properties = client.run(f"'x' * ({megabytes} << 20)", identifier)
    assert properties["status"] == "Success", properties["stderr"]
    result = properties["result"]
    assert len(result) <= caps.TEXT_MAX and result.endswith(CUT)
    assert f"{megabytes << 20} characters in all" in result
    assert client.value("kept", identifier) == "state"
    assert_neighbour_answers(client, neighbour)


def test_outputs_past_the_budget_are_left_out_and_said(client, neighbour):
    identifier = new_id()
    code = textwrap.dedent(
        """
        from IPython.display import Image, display
        for _ in range(3):
            display(Image(data=b"\\x89PNG" + b"\\0" * (4 << 20), format="png"))
        for _ in range(3000):
            display("y" * 1000)
        """
    )
    response = client.http.post(
        "executions", params={"identifier": identifier, "api-version": GEN2}, json={"code": code}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "Succeeded"
    assert "of this call's outputs were left out" in body["result"]["stderr"]
    outputs = client.http.get(
        "session/outputs", params={"identifier": identifier, "api-version": GEN1}
    ).json()["outputs"]
    images = [o for o in outputs if "image/png" in o["data"]]
    assert len(images) == 1  # 5.3 MiB of base64 each: a second would pass 8 MiB
    text = sum(len(o["data"].get("text/plain", "")) for o in outputs)
    assert 0 < text <= caps.OUTPUTS_TEXT_MAX
    assert_neighbour_answers(client, neighbour)


def test_a_huge_traceback_is_cut(client, neighbour):
    identifier = new_id()
    properties = client.run("raise ValueError('e' * (5 << 20))", identifier)
    assert properties["status"] == "Failure" and "ValueError" in properties["stderr"]
    query = {"identifier": identifier, "api-version": GEN1}
    (error,) = client.http.get("session/outputs", params=query).json()["outputs"]
    assert len(error["evalue"]) <= caps.TEXT_MAX and error["evalue"].endswith(CUT)
    assert_neighbour_answers(client, neighbour)


def test_the_pool_cuts_what_a_forged_reply_would_return_whole(client, neighbour):
    identifier = new_id()
    forge = forged_answer(
        "'status': 'ok', 'value': ['z' * (3 << 20)], 'outputs': "
        "[{'output_type': 'execute_result', 'data': {'text/plain': 'z'}}]"
    )
    result = client.run(forge, identifier)["result"]
    assert len(result) <= caps.TEXT_MAX and result.endswith(CUT)
    assert_neighbour_answers(client, neighbour)
