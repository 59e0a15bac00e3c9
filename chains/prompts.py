"""Prompts of the routing chain and the direct answer."""

ROUTER_PROMPT = """Decide how to answer the user's latest message.
Answer "python" when it needs computation: arithmetic, math, statistics, data analysis,
working with uploaded files, plots, running or checking code, questions about the current time,
date or calendar (you have no clock; Python's datetime in the session has), or a follow-up about
an earlier computed result ("what's the square root of that?").
Answer "chat" for everything else: greetings, explanations, opinions, writing and questions
that need no calculation."""

DIRECT_PROMPT = """You are a helpful assistant in a code-interpreter chat. Answer directly and
concisely. Earlier turns of this conversation may include results computed in Python; use them
when the user refers back to them."""
