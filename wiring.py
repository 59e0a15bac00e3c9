"""Build the service's parts from the settings once; start and stop the closable ones."""

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from agents import build_code_agent
from azure_auth import POSTGRES_SCOPE, entra_token_provider
from chains import build_chat_chain, build_route_decider
from conversations import (
    ConversationFiles,
    Conversations,
    ConversationStore,
    Memory,
    build_engine,
    build_file_storage,
    open_checkpointer,
    save_locks,
)
from llms import build_chat_model, close_chat_model, describe_model
from security.links import Links, build_links
from settings import Settings
from tools import PoolClient, PythonTool, SessionPool, build_session_pool

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request needs, built once per app."""

    settings: Settings
    model_kind: str
    llm: BaseChatModel
    pool: SessionPool
    http: httpx.AsyncClient
    pool_client: PoolClient
    conversations: Conversations
    files: ConversationFiles
    python_tool: PythonTool
    agent: Runnable
    chat: Runnable
    links: Links

    async def start(self) -> None:
        await self.conversations.start()
        try:
            await self.files.storage.start()
            log.info("conversation files are kept in %s", self.files.storage.where)
            await self.links.keep_key(self.files.storage)
            await self.pool.start()
        except BaseException:
            # The store's connection threads would otherwise keep a failed start from exiting.
            await self.files.storage.close()
            await self.conversations.close()
            raise

    async def stop(self) -> None:
        await self.pool.stop()
        await self.http.aclose()
        await close_chat_model(self.llm)
        await self.files.storage.close()
        await self.conversations.close()


def build_services(settings: Settings, llm: BaseChatModel | None = None) -> Services:
    """Wire model, pool, tool, agent, chains and store; nothing touches the network here."""
    _export_langsmith(settings)
    llm = llm or build_chat_model(settings)
    pool = build_session_pool(settings)
    http = httpx.AsyncClient(timeout=httpx.Timeout(60.0, connect=5.0))
    pool_client = PoolClient(
        pool,
        http,
        code_timeout=settings.code_timeout_seconds,
        cooldown=settings.session_pool_cooldown_seconds,
    )
    conversations = build_conversations(settings)
    files = build_conversation_files(settings, conversations, pool_client)
    python_tool = PythonTool(
        pool_client=pool_client, result_max_chars=settings.tool_result_max_chars
    )
    agent = build_code_agent(llm, python_tool, files, settings.max_tool_calls_per_turn)
    chat = build_chat_chain(
        build_route_decider(llm),
        llm,
        agent,
        conversations,
        model_retries=settings.llm_max_retries,
        turn_timeout=settings.turn_timeout_seconds,
    )
    kind = describe_model(settings)
    return Services(
        settings,
        kind,
        llm,
        pool,
        http,
        pool_client,
        conversations,
        files,
        python_tool,
        agent,
        chat,
        build_links(settings),
    )


def build_conversations(settings: Settings) -> Conversations:
    """The store and the memory, on SQLite in DATA_DIR or on DATABASE_URL."""
    where = (settings.database_url, settings.data_dir, _database_password(settings))
    store = ConversationStore(build_engine(*where))
    memory = Memory(
        lambda: open_checkpointer(*where),
        settings.history_max_tokens,
        save_locks(settings.database_url, settings.data_dir, store.engine),
    )
    return Conversations(store, memory, settings.tool_result_max_chars)


def build_conversation_files(
    settings: Settings, conversations: Conversations, pool_client: PoolClient
) -> ConversationFiles:
    """Kept files: bytes in DATA_DIR/files or Blob Storage, their index beside the store's."""
    connection_string = settings.azure_storage_connection_string
    storage = build_file_storage(
        settings.data_dir,
        settings.azure_storage_blob_endpoint,
        settings.azure_storage_container,
        connection_string.get_secret_value() if connection_string else None,
        settings.azure_client_id,
    )
    return ConversationFiles(
        conversations.store.engine, storage, pool_client, settings.conversation_files_max_bytes
    )


def _database_password(settings: Settings) -> Callable[[], str] | None:
    """With DATABASE_ENTRA_AUTH, each connection's password is a fresh Entra ID token."""
    if not settings.database_entra_auth:
        return None
    return entra_token_provider(POSTGRES_SCOPE, settings.azure_client_id)


def _export_langsmith(settings: Settings) -> None:
    # The LangSmith SDK reads its own environment variables; values from .env must reach it.
    if not settings.langsmith_tracing:
        return
    os.environ["LANGSMITH_TRACING"] = "true"
    if settings.langsmith_api_key:
        os.environ["LANGSMITH_API_KEY"] = settings.langsmith_api_key.get_secret_value()
    if settings.langsmith_project:
        os.environ["LANGSMITH_PROJECT"] = settings.langsmith_project
