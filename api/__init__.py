"""The plain routes beside LangServe, by resource: one turn by GET and health, conversations,
their files and images, the OpenAI-compatible API (/v1) and the MCP server (/mcp)."""

from fastapi import APIRouter

from api import chat, conversations, files

router = APIRouter()
router.include_router(chat.router)
router.include_router(conversations.router)
router.include_router(files.router)
