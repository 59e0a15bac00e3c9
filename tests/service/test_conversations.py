"""Conversations and their files over HTTP: list, read, delete, upload, download, interrupt."""

import threading
import time

from tests.service.helpers import agent_requests, config, new_id, script_code_turn
from tests.support.scripted_llm import arithmetic_brain


def test_conversations_are_listed_newest_first_with_titles(azure_service, llm):
    chat = azure_service.remote("/chat")
    older, newer = new_id(), new_id()
    chat.invoke({"message": "hello, older one"}, config(older))
    chat.invoke({"message": "hello, newer one"}, config(newer))

    with azure_service.http() as http:
        listed = http.get("/conversations").json()
    ids = [c["id"] for c in listed]
    assert ids.index(newer) < ids.index(older)
    assert listed[ids.index(older)]["title"] == "hello, older one"
    assert listed[0]["updated_at"]


def test_a_message_can_replace_an_earlier_turn_and_the_ones_after_it(azure_service, llm):
    chat, conversation = azure_service.remote("/chat"), new_id()
    for question in ("What is 2 * 3?", "What is 4 * 5?", "What is 6 * 7?"):
        chat.invoke({"message": question}, config(conversation))
    llm.reset(arithmetic_brain)

    edited = chat.invoke({"message": "What is 5 * 5?", "replace_turn": 1}, config(conversation))
    beyond = chat.invoke({"message": "What is 1 + 1?", "replace_turn": 9}, config(conversation))

    assert "25" in edited["output"] and "2" in beyond["output"]
    seen = str(llm.requests[0]["body"]["messages"])  # what the model saw for the edit
    assert "2 * 3" in seen and "4 * 5" not in seen and "6 * 7" not in seen
    with azure_service.http() as http:
        history = http.get(f"/conversations/{conversation}").json()["messages"]
        refused = http.post(
            "/chat/invoke",
            json={"input": {"message": "x", "replace_turn": -1}, "config": config(conversation)},
        )
    asked = [m["content"] for m in history if m["role"] == "user"]
    assert asked == ["What is 2 * 3?", "What is 5 * 5?", "What is 1 + 1?"]
    assert refused.status_code == 422


def test_a_conversation_can_be_renamed(azure_service, llm):
    conversation = new_id()
    azure_service.remote("/chat").invoke({"message": "What is 9 * 9?"}, config(conversation))
    with azure_service.http() as http:
        renamed = http.patch(f"/conversations/{conversation}", json={"title": "  Squares \n"})
        listed = {c["id"]: c["title"] for c in http.get("/conversations").json()}
        blank = http.patch(f"/conversations/{conversation}", json={"title": "   "})
        unknown = http.patch(f"/conversations/{new_id()}", json={"title": "x"})

    assert renamed.json() == {"id": conversation, "title": "Squares"}
    assert listed[conversation] == "Squares"
    assert blank.status_code == 422 and unknown.status_code == 404


def test_delete_forgets_history_variables_and_files(azure_service, llm):
    conversation = new_id()
    script_code_turn(llm, "kept = 5\nopen('/mnt/data/note.txt', 'w').write('hi')")
    azure_service.remote("/chat").invoke({"message": "keep 5"}, config(conversation))

    with azure_service.http() as http:
        assert http.delete(f"/conversations/{conversation}").status_code == 204
        assert http.get(f"/conversations/{conversation}").status_code == 404
        assert http.get(f"/conversations/{conversation}/files").json() == {"files": []}
    script_code_turn(llm, "kept")
    again = azure_service.remote("/chat").invoke({"message": "kept?"}, config(conversation))
    assert "NameError" in again["steps"][0]["stderr"]


def test_uploaded_files_are_listed_downloadable_and_told_to_the_agent(azure_service, llm):
    conversation = new_id()
    with azure_service.http() as http:
        uploaded = http.post(
            f"/conversations/{conversation}/files",
            files={"file": ("data.csv", b"x,y\n1,2\n", "text/csv")},
        )
        listed = http.get(f"/conversations/{conversation}/files").json()["files"]
        download = http.get(f"/conversations/{conversation}/files/data.csv")

    assert uploaded.json() == {"name": "data.csv", "size": 8}
    assert [(f["name"], f["size"]) for f in listed] == [("data.csv", 8)]
    assert listed[0]["last_modified"]
    assert download.content == b"x,y\n1,2\n"
    assert download.headers["content-disposition"].startswith("attachment;")

    script_code_turn(llm, "open('/mnt/data/data.csv').read()")
    result = azure_service.remote("/chat").invoke({"message": "read it"}, config(conversation))
    assert "x,y" in str(result["steps"][0]["result"])
    system_prompt = agent_requests(llm)[0]["body"]["messages"][0]["content"]
    assert "data.csv (8 bytes)" in system_prompt


def test_files_of_one_conversation_are_invisible_to_another(azure_service, llm):
    first, second = new_id(), new_id()
    with azure_service.http() as http:
        http.post(f"/conversations/{first}/files", files={"file": ("a.txt", b"secret")})
        assert http.get(f"/conversations/{second}/files").json() == {"files": []}
        assert http.get(f"/conversations/{second}/files/a.txt").status_code == 404


def test_a_removed_file_is_gone_from_the_session(azure_service, llm):
    conversation = new_id()
    files = f"/conversations/{conversation}/files"
    with azure_service.http() as http:
        http.post(files, files={"file": ("keep.txt", b"1")})
        http.post(files, files={"file": ("drop.txt", b"2")})
        removed = http.delete(f"{files}/drop.txt")
        listed = [f["name"] for f in http.get(files).json()["files"]]
        again = http.delete(f"{files}/drop.txt")
        elsewhere = http.delete(f"/conversations/{new_id()}/files/keep.txt")

    assert removed.status_code == 204 and listed == ["keep.txt"]
    assert again.status_code == 404 and elsewhere.status_code == 404


def test_upload_over_the_limit_is_413(azure_service, llm):
    with azure_service.http() as http:
        response = http.post(
            f"/conversations/{new_id()}/files",
            files={"file": ("big.bin", b"0" * (16 * 1024 * 1024 + 1))},
        )
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_file_names_with_directories_are_refused(azure_service, llm):
    with azure_service.http() as http:
        response = http.post(
            f"/conversations/{new_id()}/files", files={"file": ("../../etc/x", b"1")}
        )
    assert response.status_code == 422 and "plain name" in response.json()["detail"]


def test_interrupt_stops_running_code_and_keeps_the_session(azure_service, llm):
    conversation = new_id()
    script_code_turn(llm, "before = 1\nimport time\ntime.sleep(60)")
    results = {}

    def run() -> None:
        chat = azure_service.remote("/chat")
        results["answer"] = chat.invoke({"message": "sleep"}, config(conversation))

    worker = threading.Thread(target=run)
    worker.start()
    with azure_service.http() as http:
        while not any(r["body"]["messages"][-1]["role"] == "tool" for r in llm.requests):
            http.post(f"/conversations/{conversation}/interrupt")
            worker.join(0.2)
            if not worker.is_alive():
                break
    worker.join(30)

    assert not worker.is_alive()
    step = results["answer"]["steps"][0]
    assert step["status"] == "Failure" and "KeyboardInterrupt" in step["stderr"]
    script_code_turn(llm, "before + 1")
    after = azure_service.remote("/chat").invoke({"message": "still there?"}, config(conversation))
    assert after["steps"][0]["result"] == 2


def test_a_dropped_stream_interrupts_its_code(azure_service, llm):
    """A closed tab or a cancelled client: the code stops too, and the session is free."""
    conversation = new_id()
    code = "open('started', 'w').close()\nimport time\ntime.sleep(60)\nfinished = 1"
    script_code_turn(llm, code)
    body = {"input": {"message": "sleep a minute"}, "config": config(conversation)}
    files = f"/conversations/{conversation}/files"
    with azure_service.http() as http, http.stream("POST", "/chat/stream", json=body):
        while not http.get(files).json()["files"]:
            time.sleep(0.05)  # until the code runs; then the connection drops, no interrupt call

    llm.reset(arithmetic_brain)  # the dropped turn never asked for its final answer
    script_code_turn(llm, "'finished' in globals()")
    after = azure_service.remote("/chat").invoke({"message": "finished?"}, config(conversation))
    assert after["steps"][0]["status"] == "Success"
    assert after["steps"][0]["result"] is False


def test_a_stopped_answer_is_kept_with_its_running_step_marked_stopped(azure_service, llm):
    conversation = new_id()
    script_code_turn(llm, "import time\ntime.sleep(60)")
    body = {"input": {"message": "sleep a minute"}, "config": config(conversation)}
    with azure_service.http() as http:
        with http.stream("POST", "/chat/stream", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("data:") and '"running"' in line:
                    break  # the page's stop button: abort the stream...
        http.post(f"/conversations/{conversation}/interrupt")  # ...then interrupt the code
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stored = http.get(f"/conversations/{conversation}")
            if stored.status_code == 200:
                break
            time.sleep(0.1)

    assert stored.status_code == 200, stored.text
    user, assistant = stored.json()["messages"]
    assert user["content"] == "sleep a minute"
    assert assistant["content"].endswith("(stopped)")
    assert assistant["steps"][0]["status"] == "stopped"
