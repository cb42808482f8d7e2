"""Render templates an agent wrote, in a child process with its own limits.

Run by :mod:`.procedure` as ``python -I -c <this file's text>`` (so it imports nothing of
Clade and nothing from the agent's tree): it reads one JSON object on stdin,
``{"jobs": [[template source, variables], ...], "max_output": N}``, and writes one JSON
list, ``[["ok", text] | ["error", reason], ...]``, on stdout.

Every template is rendered by Jinja2's sandboxed environment (no attribute that starts
with ``_``, no method that changes data, no ``include`` or ``import``: there is no loader)
with ``StrictUndefined`` (a missing variable is an error, not a blank). The process caps
its own CPU time and memory, and stops a template whose output passes ``max_output``
characters, so a template that loops for ever or builds a huge string fails alone.
"""

import contextlib
import json
import resource
import sys

CPU_SECONDS = 5
MEMORY_BYTES = 768 * 1024 * 1024


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 1))  # SIGXCPU first
    with contextlib.suppress(ValueError, OSError):  # a lower hard limit is set: keep it
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def _render(environment: object, source: str, variables: dict, max_output: int) -> list:
    try:
        template = environment.from_string(source)  # type: ignore[attr-defined]
        out, size = [], 0
        for chunk in template.generate(**variables):
            out.append(chunk)
            size += len(chunk)
            if size > max_output:
                return ["error", f"the rendered prompt passes {max_output} characters"]
        return ["ok", "".join(out)]
    except MemoryError:
        return ["error", "the template ran out of memory"]
    except RecursionError:
        return ["error", "the template recursed too deep"]
    except Exception as exc:  # any failure of the agent's template is its own
        return ["error", f"{type(exc).__name__}: {exc}"[:500]]


def main() -> None:
    _limit()
    from jinja2 import StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    request = json.loads(sys.stdin.read())
    environment = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    results = [
        _render(environment, source, variables, int(request["max_output"]))
        for source, variables in request["jobs"]
    ]
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
