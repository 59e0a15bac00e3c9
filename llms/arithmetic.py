"""Find arithmetic in a sentence and write it as a Python expression (for the offline model)."""

import ast
import re

# 25, 0.5, .5, 1.5e3, 1e-9: scientific notation included, so "1e308" is one number. A number
# starts only where no digit precedes it and its digits are never given back (possessive): a
# pattern that fails after a long run of digits then fails once, not once per digit of the
# run, which made a message of a few thousand digits cost seconds of CPU.
NUMBER = r"(?<![\d.])(?:\d++(?:\.\d++)?|\.\d++)(?:e[-+]?\d++)?"
_OPERAND = rf"(?:{NUMBER}|\([^()]*\))"
_FOLLOW_UP = re.compile(r"\b(?:that|it|this|the result|the answer|the previous result)\b")
_WORD_OPERATORS = [
    (r"\bmultiplied by\b|\btimes\b", "*"),
    (r"\bdivided by\b|\bover\b", "/"),
    (r"\bplus\b|\badded to\b", "+"),
    (r"\bminus\b", "-"),
    (r"[×]", "*"),
    (r"[÷]", "/"),
    (r"\^", "**"),
]
_PHRASES = [
    (rf"(?:square root|sqrt)\s*(?:of\s*)?({_OPERAND})", r"math.sqrt(\1)"),
    (rf"√\s*({_OPERAND})", r"math.sqrt(\1)"),
    (rf"cube root\s*(?:of\s*)?({_OPERAND})", r"(\1 ** (1 / 3))"),
    (rf"({_OPERAND})\s*squared\b", r"\1 ** 2"),
    (rf"({_OPERAND})\s*cubed\b", r"\1 ** 3"),
    (rf"({_OPERAND})\s*(?:raised\s+)?to the (?:power of\s*)?({_OPERAND})(?:th)?", r"\1 ** \2"),
    (rf"({NUMBER})\s*(?:%|percent)\s*of\s*({_OPERAND})", r"(\1 / 100 * \2)"),
    (rf"({NUMBER})\s*(?:%|percent)", r"(\1 / 100)"),
    (rf"({NUMBER})\s*x\s*({NUMBER})", r"\1 * \2"),
]
# A run of numbers, operators, brackets and math.sqrt: the arithmetic left in the sentence.
_CANDIDATE = re.compile(rf"(?:math\.sqrt|{NUMBER}|[\s+\-*/()])+")
_ALLOWED_NODES = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Constant,
    ast.Call,
    ast.Attribute,
    ast.Name,
    ast.Load,
    ast.operator,
    ast.unaryop,
)


def mentions_previous_result(text: str) -> bool:
    """Whether the sentence refers back to an earlier result ("that", "it", "the result")."""
    return bool(_FOLLOW_UP.search(text.lower()))


def to_python_expression(text: str, previous: str | None = None) -> str | None:
    """The arithmetic of `text` as a Python expression, or None when there is none.

    `previous` stands in for "that", "it" or "the result" when the sentence refers back.
    """
    normalized = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text.lower())
    if previous is not None:
        normalized = _FOLLOW_UP.sub(f"({previous})", normalized)
    for pattern, replacement in _WORD_OPERATORS + _PHRASES:
        normalized = re.sub(pattern, replacement, normalized)
    candidates = [c.group().strip() for c in _CANDIDATE.finditer(normalized)]
    for candidate in sorted(candidates, key=len, reverse=True):
        expression = _clean(candidate)
        try:
            if expression and _is_arithmetic(expression):
                return _without_spare_parentheses(expression)
        except (RecursionError, MemoryError):
            continue  # nested deeper than Python's parser goes ("1 - - - ... - 1"): not ours
    return None


def _clean(candidate: str) -> str:
    expression = re.sub(r"\s+", " ", candidate).strip().rstrip(".")
    dot_first = re.match(r"\.(?!\d)", expression)
    expression = expression[1:] if dot_first else expression.lstrip("*/+")
    # rstrip, not "[*/+-]+$": a regex retried at each operator of a long run is quadratic.
    return expression.rstrip("*/+-").strip()


def _without_spare_parentheses(expression: str) -> str:
    """`expression` as Python writes it back (math.sqrt(21175), not math.sqrt((21175))), with
    each number as the user wrote it (1.5e3 stays 1.5e3)."""
    tree = ast.parse(expression, mode="eval")

    class AsWritten(ast.NodeTransformer):
        def visit_Constant(self, node: ast.Constant) -> ast.AST:
            return ast.Name(id=ast.get_source_segment(expression, node) or repr(node.value))

    return ast.unparse(AsWritten().visit(tree))


def _is_arithmetic(expression: str) -> bool:
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return False
    if not all(isinstance(node, _ALLOWED_NODES) for node in ast.walk(tree)):
        return False
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    has_work = any(isinstance(node, ast.BinOp | ast.Call) for node in ast.walk(tree))
    return names <= {"math"} and has_work
