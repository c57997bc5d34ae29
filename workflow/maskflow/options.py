"""Command-line option values every stage's command reads: `json_option` for the JSON ones.

    from maskflow.options import json_option
    spec = json_option(args.spec, "--spec")                 # a JSON object
    classes = json_option(args.classes, "--classes", list)  # a JSON list

A leaf module (it imports only maskflow.errors), so the stage modules that read JSON options
do not import the command-line entry point (maskflow.cli) nor each other.
"""

from __future__ import annotations

import json
from typing import Any

from maskflow.errors import ConfigError

JSON_KINDS = {dict: "object", list: "list", str: "string"}


def json_option(text: str, option: str, expect: type = dict) -> Any:
    """The value of a JSON command-line option, e.g. json_option(args.spec, "--spec").

    Raises ConfigError (one line, exit 2) naming the option when the text is not JSON or its
    top-level value is not an `expect` (dict: a JSON object; list: a JSON list)."""
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        raise ConfigError(f"{option} is not valid JSON ({error}): {str(text)[:80]!r}") from None
    if not isinstance(value, expect):
        kind = JSON_KINDS.get(expect, expect.__name__)
        raise ConfigError(f"{option} must be a JSON {kind}, not {json.dumps(value)[:80]}")
    return value
