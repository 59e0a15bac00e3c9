"""Questions about the clock and the calendar, answered by Python's datetime in the session
(for the offline model: it has no clock of its own, and neither does a language model)."""

import re
from dataclasses import dataclass

_NOW = "from datetime import datetime\nnow = datetime.now().astimezone()\n"


@dataclass(frozen=True)
class ClockQuestion:
    """One kind of question: how to recognise it, the code that answers it, the answer's words."""

    pattern: re.Pattern
    code: str
    answer: str  # formatted with {value}: the code's result, or what it printed


QUESTIONS = (
    ClockQuestion(
        re.compile(r"\bcalendar\b"),
        _NOW + "import calendar\nprint(calendar.month(now.year, now.month))",
        "This month's calendar:\n\n```\n{value}\n```",
    ),
    ClockQuestion(
        re.compile(r"\bwhat(?:'s| is)?\s+(?:the\s+)?(?:current\s+|local\s+)?time\b|\btime is it\b"),
        _NOW + 'now.strftime("%H:%M:%S %Z on %A %d %B %Y")',
        "The current time is {value}.",
    ),
    ClockQuestion(
        re.compile(
            r"\bwhat(?:'s| is)?\s+(?:the\s+)?(?:date|day)\b|\btoday'?s date\b"
            r"|\bwhich day is\b|\bday of the week\b|\bwhat date\b"
        ),
        _NOW + 'now.strftime("%A %d %B %Y")',
        "Today is {value}.",
    ),
    ClockQuestion(
        re.compile(r"\bwhat\s+(?:year|month)\b|\bcurrent\s+(?:year|month)\b"),
        _NOW + 'now.strftime("%B %Y")',
        "It is {value}.",
    ),
)


def clock_question(text: str) -> ClockQuestion | None:
    """The clock or calendar question `text` asks, if any."""
    lowered = text.lower().replace("’", "'")
    return next((q for q in QUESTIONS if q.pattern.search(lowered)), None)


def question_for_code(code: str) -> ClockQuestion | None:
    """The question whose code this is (to word the answer once the code has run)."""
    return next((q for q in QUESTIONS if q.code == code), None)
