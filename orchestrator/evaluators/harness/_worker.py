"""The solution's side of a grade: import the solution's modules and answer the checker.

Runs inside the grading sandbox as ``python3 -I -S -c <plain.py + this>``, importing only
built-in modules (a new process per grade must start fast) (isolated mode,
no ``site``: no user site, no ``.pth`` files, no ``sitecustomize``/``usercustomize``, no
``PYTHON*`` variables, the script's folder not on ``sys.path``). The solution's folder is
appended to the *end* of ``sys.path``, so its files can never shadow the standard library.

Nothing here is trusted: the solution runs in this process and may rewrite all of it. The
checker therefore reads only plain data from this process (see ``plain.py``) and decides
the verdict itself. One marshal frame per request on the protocol's input, one JSON line per
answer:

    {"op": "import", "name": "pkg.mod"}                       -> {"ok": {"$handle": n}}
    {"op": "getattr", "target": n, "name": "f"}               -> {"ok": value}
    {"op": "call", "target": n, "args": [...], "kwargs": {...}} -> {"ok": value, "refs": {...}}
    {"op": "list", "target": n, "limit": k}                   -> {"ok": [first k items]}
    anything that raised                                      -> {"raise": {"types": [...], "message": "..."}}

Arguments may carry ``{"$ref": id, "value": v}``: a mutable container of the checker's that
stays one object here across calls; after each call its state is sent back under ``refs``,
so a test can see that a solution kept (or changed) the list it was given.
"""

from __future__ import annotations

import builtins
import itertools
import os
import sys

if __package__:  # type names only: this process imports nothing it does not need
    from typing import Any

if __package__:  # imported on the host; in the sandbox plain.py's source comes first
    from .plain import NotPlain, decode, dumps, encode, receive


class _Worker:
    def __init__(self, root: str) -> None:
        self.objects: dict[int, Any] = {}
        self.ids: dict[int, int] = {}  # id(object) -> handle
        self.refs: dict[int, Any] = {}
        self.sent: dict[int, Any] = {}  # ref -> the state last sent back
        sys.path.append(root)

    def handle(self, value: Any) -> int:
        key = id(value)
        if key not in self.ids:
            self.ids[key] = len(self.objects) + 1
            self.objects[self.ids[key]] = value
        return self.ids[key]

    def lookup(self, number: int) -> Any:
        return self.objects[number]

    def arg(self, data: Any) -> Any:
        if type(data) is dict and set(data) == {"$ref", "value"}:
            fresh = decode(data["value"], self.lookup)
            kept = self.refs.get(data["$ref"])
            self.sent[data["$ref"]] = data["value"]
            if kept is None or type(kept) is not type(fresh):
                self.refs[data["$ref"]] = fresh
                return fresh
            _assign(kept, fresh)  # the checker may have changed it since: same object, new state
            return kept
        return decode(data, self.lookup)

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "import":
            __import__(request["name"])
            return {"ok": {"$handle": self.handle(sys.modules[request["name"]])}}
        target = self.lookup(request["target"])
        if op == "getattr":
            return {"ok": encode(getattr(target, request["name"]), self.handle)}
        if op == "list":
            return {"ok": encode(list(itertools.islice(target, request["limit"])), self.handle)}
        if op == "call":
            args = [self.arg(a) for a in request["args"]]
            kwargs = {k: self.arg(v) for k, v in request["kwargs"].items()}
            value = target(*args, **kwargs)
            return {"ok": encode(value, self.handle), "refs": self.changed()}
        raise ValueError(f"unknown op {op!r}")

    def changed(self) -> dict[str, Any]:
        """The refs whose state differs from what the checker last saw."""
        out = {}
        for ref, value in self.refs.items():
            state = encode(value, self.handle)
            if self.sent.get(ref) != state:
                self.sent[ref] = out[str(ref)] = state
        return out


def _assign(kept: Any, fresh: Any) -> None:
    if isinstance(kept, list):
        kept[:] = fresh
    elif isinstance(kept, dict | set):
        kept.clear()
        kept.update(fresh)


def _raised(exc: BaseException) -> dict[str, Any]:
    types = [t.__name__ for t in type(exc).__mro__ if getattr(builtins, t.__name__, None) is t]
    try:
        message = str(exc)[:1000]
    except Exception:
        message = "?"
    return {"raise": {"types": types, "message": message}}


def main() -> None:
    """Serve the checker until it closes the protocol's input."""
    requests, answers = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the solution's prints and reads never touch the protocol
    os.dup2(null, 1)
    worker = _Worker(sys.argv[1])
    while True:
        request = receive(requests)
        if request is None:
            return
        try:
            reply = worker.answer(request)
            data = dumps(reply)
        except NotPlain as exc:
            data = dumps({"raise": {"types": ["TypeError"], "message": f"not plain data: {exc}"}})
        except BaseException as exc:  # the solution raised (or tried to leave): report it
            data = dumps(_raised(exc))
        answers.write(data)
        answers.flush()


if __name__ == "__main__":
    main()
