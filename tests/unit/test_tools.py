"""The pool client's answers that need no pool."""

import httpx
import pytest

from errors import NotSupported
from tests.support.aio import run_async
from tools import PoolClient, RemoteSessionPool


def test_interrupt_on_azure_is_not_supported():
    pool = RemoteSessionPool("https://x.eastus.dynamicsessions.io/", lambda: "t", local=False)

    async def interrupt():
        async with httpx.AsyncClient() as http:
            await PoolClient(pool, http).interrupt("conv-1")

    with pytest.raises(NotSupported) as error:
        run_async(interrupt())
    assert error.value.status_code == 501
