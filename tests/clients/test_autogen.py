"""AutoGen's ACADynamicSessionsCodeExecutor (autogen-ext[azure]) against the local pool."""

import asyncio
import time
from pathlib import Path

from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock
from autogen_ext.code_executors.azure import ACADynamicSessionsCodeExecutor
from azure.core.credentials import AccessToken


class PoolKey:
    """AutoGen's TokenProvider: the pool's bearer key stands in for an Entra token."""

    def __init__(self, key: str) -> None:
        self.key = key

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken(self.key, int(time.time()) + 3600)


def run(executor: ACADynamicSessionsCodeExecutor, *codes: str):
    blocks = [CodeBlock(code=code, language="python") for code in codes]
    return asyncio.run(executor.execute_code_blocks(blocks, CancellationToken()))


def new_executor(pool, work_dir) -> ACADynamicSessionsCodeExecutor:
    return ACADynamicSessionsCodeExecutor(
        pool_management_endpoint=pool.endpoint, credential=PoolKey(pool.key), work_dir=work_dir
    )


def test_blocks_run_with_state_and_the_packages_are_known(pool, tmp_path):
    executor = new_executor(pool, tmp_path)
    first = run(executor, "x = 20\nprint('hi')", "import numpy as np\nint(np.int64(x) + 22)")
    assert (first.exit_code, first.output) == (0, "hi\n42")
    # AutoGen lists the session's packages with pkg_resources and splits IPython's output.
    assert {"numpy", "pandas", "matplotlib", "scikit-learn"} <= executor._available_packages
    assert all("\n" not in name and "Warning" not in name for name in executor._available_packages)
    later = run(executor, "import os\nprint(os.getcwd(), x)")
    assert (later.exit_code, later.output) == (0, "/mnt/data 20\n")


def test_an_error_gives_exit_code_1_and_the_traceback(pool, tmp_path):
    result = run(new_executor(pool, tmp_path), "def f():\n    return 1 / 0\nf()")
    assert result.exit_code == 1
    assert "ZeroDivisionError: division by zero" in result.output and "\x1b[" not in result.output


def test_files_upload_list_and_download(pool, tmp_path):
    executor = new_executor(pool, tmp_path)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n3,4\n")
    token = CancellationToken()
    asyncio.run(executor.upload_files(["data.csv"], token))
    result = run(
        executor,
        "import pandas as pd\nprint(pd.read_csv('data.csv')['b'].sum())\n"
        "pd.read_csv('data.csv').to_csv('out.csv', index=False)",
    )
    assert (result.exit_code, result.output) == (0, "6\n")
    assert sorted(asyncio.run(executor.get_file_list(token))) == ["data.csv", "out.csv"]
    (tmp_path / "out.csv").unlink(missing_ok=True)
    [path] = asyncio.run(executor.download_files(["out.csv"], token))
    assert Path(path).read_text() == "a,b\n1,2\n3,4\n"


def test_restart_gives_a_fresh_session(pool, tmp_path):
    executor = new_executor(pool, tmp_path)
    run(executor, "secret = 7")
    asyncio.run(executor.restart())
    result = run(executor, "print('secret' in globals())")
    assert (result.exit_code, result.output) == (0, "False\n")
