"""Semantic Kernel's SessionsPythonTool against the local pool (over https, which it requires)."""

import asyncio
from io import BytesIO

import httpx
from semantic_kernel.core_plugins.sessions_python_tool import SessionsPythonTool


def run(pool, folder, scenario) -> None:
    """One event loop per test: the tool's httpx client belongs to the loop it first used."""

    async def main():
        async with httpx.AsyncClient(verify=pool.certificate, timeout=60) as http:
            tool = SessionsPythonTool(
                auth_callback=lambda: pool.key,
                pool_management_endpoint=pool.endpoint,
                http_client=http,
                enable_dangerous_file_uploads=True,
                allowed_upload_directories=[str(folder)],
            )
            await scenario(tool)

    asyncio.run(main())


def test_code_runs_with_state(https_pool, tmp_path):
    async def scenario(tool):
        await tool.execute_code("x = 6")
        answer = await tool.execute_code("print('hi')\nx * 7")
        assert answer == "Status:\nSuccess\nResult:\n42\nStdout:\nhi\n\nStderr:\n"

    run(https_pool, tmp_path, scenario)


def test_an_error_is_reported(https_pool, tmp_path):
    async def scenario(tool):
        answer = await tool.execute_code("1 / 0")
        assert answer.startswith("Status:\nFailure\nResult:\n\nStdout:\n\nStderr:\n")
        assert "ZeroDivisionError" in answer

    run(https_pool, tmp_path, scenario)


def test_upload_list_and_download(https_pool, tmp_path):
    local = tmp_path / "numbers.txt"
    local.write_text("1\n2\n3\n")

    async def scenario(tool):
        uploaded = await tool.upload_file(local_file_path=str(local))
        assert (uploaded.filename, uploaded.size_in_bytes) == ("numbers.txt", 6)
        assert uploaded.full_path == "/mnt/data/numbers.txt"
        code = "sum(int(n) for n in open('/mnt/data/numbers.txt'))"
        assert "Result:\n6\n" in await tool.execute_code(code)
        listed = await tool.list_files()
        assert [(f.filename, f.size_in_bytes) for f in listed] == [("numbers.txt", 6)]
        data = await tool.download_file(remote_file_name="numbers.txt")
        assert isinstance(data, BytesIO) and data.read() == b"1\n2\n3\n"

    run(https_pool, tmp_path, scenario)
