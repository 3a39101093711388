"""The ``prompt`` rule: OpenID Connect's space-separated list; ``+`` also separates values."""

import re

DEFAULT_PROMPT = "login"
MAX_PROMPT_LENGTH = 256
_VALUE = re.compile(r"[\x21-\x2a\x2c-\x7e]+")  # printable ASCII except space and '+'


class InvalidPrompt(ValueError):
    """The prompt cannot be sent to a provider as given."""


def normalise_prompt(prompt: str) -> str:
    """``consent+select_account`` and ``consent select_account`` both become the latter.

    Values other than the four standard ones are allowed (the specification permits new
    ones), but each value must be non-empty, and ``none`` cannot be combined with another
    value (OpenID Connect Core §3.1.2.1: the provider would answer with an error).
    """
    if len(prompt) > MAX_PROMPT_LENGTH:
        raise InvalidPrompt(f"must be at most {MAX_PROMPT_LENGTH} characters")
    values = re.split(r"[+ ]", prompt)
    if not all(_VALUE.fullmatch(value) for value in values):
        raise InvalidPrompt(
            "must be one or more values separated by '+' or a single space, each printable ASCII"
        )
    if "none" in values and len(values) > 1:
        raise InvalidPrompt("'none' cannot be combined with other values")
    return " ".join(values)
