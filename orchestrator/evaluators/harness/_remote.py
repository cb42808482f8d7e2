"""The checker's view of a solution: modules and objects that live in another process.

``import pkg.mod`` inside the tests gives a :class:`RemoteModule`; its attributes are plain
data (copied) or :class:`RemoteObject` handles, which can be called and asked for
attributes and nothing else: no ``==`` but identity, no truth value, no ordering, no
``repr`` from the solution. Each call sends plain arguments to the solution's process and
waits, up to the grade's deadline, for a plain answer. Lists, dicts and sets passed as
arguments stay one object on the solution's side, and their state is copied back after
every call, so tests that check aliasing (a caller's list changed or kept) still work.

Standard library only: this module's source also runs inside the grading sandbox.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.abc
import importlib.machinery
import os
import resource
import select
import subprocess
import sys
import time
import types
from collections.abc import Callable
from typing import Any

if __package__:  # imported on the host; in the sandbox plain.py's source comes first
    from .plain import (
        MAX_MESSAGE_BYTES,
        NotPlain,
        decode,
        encode,
        loads,
        send,
    )

#: Items of an iterator the tests may read from the solution at once.
LIST_LIMIT = 100_000


class HarnessFault(BaseException):
    """Not an ``Exception``: no ``assertRaises(Exception)`` in a test can swallow it, so a
    broken protocol or a timeout always fails the test it happens in."""


class GradeTimeout(HarnessFault):
    """The grade's time is up: every further call to the solution fails at once."""


class RemoteError(HarnessFault):
    """The solution's process died, or answered out of protocol."""


class SolutionError(Exception):
    """The solution raised something that is not a builtin exception."""


class Session:
    """One solution process (started on first use, again after it dies) and its protocol."""

    def __init__(
        self, source: str, folder: str, scratch: str, deadline: float, memory_mb: int = 1024
    ) -> None:
        self.source, self.folder, self.scratch = source, folder, scratch
        self.deadline, self.memory = deadline, memory_mb << 20
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.timed_out = False
        self.modules: dict[str, RemoteObject] = {}
        self._buffer = b""
        self._refs: dict[int, Any] = {}  # id(local container) -> the container

    # -- the process --------------------------------------------------------------------
    def _start(self) -> subprocess.Popen[bytes]:
        env = {"HOME": self.scratch, "TMPDIR": self.scratch, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", self.source, self.folder],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.scratch,
            env=env,
            close_fds=True,
            start_new_session=True,
            preexec_fn=self._limits,
        )
        self.generation += 1
        self.modules, self._buffer = {}, b""
        return proc

    def _limits(self) -> None:
        resource.setrlimit(resource.RLIMIT_AS, (self.memory, self.memory))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:
            with open("/proc/self/oom_score_adj", "w") as handle:
                handle.write("1000")  # the solution, not the checker, goes first at the limit
        except OSError:
            pass

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, 9)
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    # -- one request ----------------------------------------------------------------------
    def request(self, message: dict[str, Any]) -> Any:
        """Send ``message``; the decoded ``ok`` value, or raise what the solution raised."""
        self.ensure()
        assert self.proc is not None and self.proc.stdin is not None
        try:
            send(self.proc.stdin, message)
        except OSError:
            self.close()
            raise RemoteError("the solution's process exited") from None
        try:
            reply = loads(self._line())
            if type(reply) is not dict:
                raise NotPlain("not a message")
            if "raise" in reply:
                failure = _exception(reply["raise"])
            else:
                value = decode(reply.get("ok"), self._handle)
                self._sync(reply.get("refs"))
                return value
        except NotPlain as exc:  # never let a broken answer pass for a ValueError
            self.close()
            raise RemoteError(f"the solution's process answered out of protocol: {exc}") from None
        raise failure

    def ensure(self) -> None:
        """A live solution process (a new one if the last died), or GradeTimeout."""
        if self.timed_out or time.monotonic() >= self.deadline:
            self.timed_out = True
            raise GradeTimeout("the grade ran past its timeout")
        if self.proc is None or self.proc.poll() is not None:
            self.close()
            self.proc = self._start()

    def _line(self) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.timed_out = True
                self.close()
                raise GradeTimeout("the grade ran past its timeout")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self.close()
                raise RemoteError("the solution's process exited")
            self._buffer += chunk
            if len(self._buffer) > MAX_MESSAGE_BYTES:
                self.close()
                raise RemoteError("the solution's process sent too much")
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _handle(self, number: int) -> RemoteObject:
        return RemoteObject(self, self.generation, number)

    def _sync(self, refs: Any) -> None:
        if type(refs) is not dict:
            return
        for key, data in refs.items():
            local = self._refs.get(int(key)) if str(key).isdigit() else None
            if local is None:
                continue
            fresh = decode(data, self._handle)
            if type(fresh) is type(local):
                if type(local) is list:
                    local[:] = fresh
                else:
                    local.clear()
                    local.update(fresh)

    # -- encoding the tests' arguments ---------------------------------------------------
    def argument(self, value: Any) -> Any:
        if type(value) in (list, dict, set):
            self._refs[id(value)] = value
            return {"$ref": id(value), "value": encode(value, self._outgoing)}
        return encode(value, self._outgoing)

    def _outgoing(self, value: Any) -> int:
        if type(value) is RemoteObject and value._session is self:
            if value._generation != self.generation:
                raise RemoteError("an object of a solution process that has since exited")
            return value._number
        raise TypeError(f"a {type(value).__name__} cannot be passed to the solution")


def _exception(info: Any) -> Exception:
    types_ = info.get("types") if type(info) is dict else None
    message = str(info.get("message", ""))[:1000] if type(info) is dict else ""
    for name in types_ if type(types_) is list else []:
        found = getattr(builtins, name, None) if type(name) is str else None
        if isinstance(found, type) and issubclass(found, Exception):
            return found(message)
    return SolutionError(message)


class RemoteObject:
    """A handle on an object of the solution's process."""

    __slots__ = ("_generation", "_number", "_path", "_session")

    def __init__(self, session: Session, generation: int, number: int) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "_number", number)
        #: (module, attribute, ...) when reached from a module: found again in a new process.
        object.__setattr__(self, "_path", ())

    def _target(self) -> int:
        session = self._session
        session.ensure()
        if self._generation != session.generation:
            if not self._path:
                raise RemoteError("an object of a solution process that has since exited")
            found = session.request({"op": "import", "name": self._path[0]})
            for name in self._path[1:]:
                found = session.request({"op": "getattr", "target": found._number, "name": name})
            if type(found) is not RemoteObject:
                raise RemoteError(f"{'.'.join(self._path)} is no longer an object")
            object.__setattr__(self, "_generation", found._generation)
            object.__setattr__(self, "_number", found._number)
        return self._number

    def _named(self, path: tuple[str, ...]) -> RemoteObject:
        object.__setattr__(self, "_path", path)
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        found = self._session.request({"op": "getattr", "target": self._target(), "name": name})
        if type(found) is RemoteObject and self._path and not found._path:
            found._named((*self._path, name))
        return found

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session = self._session
        message = {
            "op": "call",
            "target": self._target(),
            "args": [session.argument(a) for a in args],
            "kwargs": {str(k): session.argument(v) for k, v in kwargs.items()},
        }
        return session.request(message)

    def __iter__(self) -> Any:
        items = self._session.request({"op": "list", "target": self._target(), "limit": LIST_LIMIT})
        return iter(items if type(items) is list else [])

    def __bool__(self) -> bool:
        raise TypeError("an object of the solution has no truth value here: return plain data")

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("objects of the solution cannot be changed from the tests")

    def __repr__(self) -> str:
        return f"<object {self._number} of the solution>"


class RemoteModule(types.ModuleType):
    """A module of the solution, as the tests import it."""

    def __init__(self, name: str, session: Session) -> None:
        super().__init__(name)
        self.__dict__["_clade_session"] = session

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        session: Session = self.__dict__["_clade_session"]
        session.ensure()
        module = session.modules.get(self.__name__)
        if module is None or module._generation != session.generation:
            module = session.request({"op": "import", "name": self.__name__})
            if type(module) is not RemoteObject:
                raise RemoteError(f"importing {self.__name__} gave no module")
            session.modules[self.__name__] = module._named((self.__name__,))
        return getattr(module, name)


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, session: Session, tops: set[str]) -> None:
        self.session, self.tops = session, tops

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.split(".")[0] not in self.tops:
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        module = RemoteModule(spec.name, self.session)
        module.__dict__["__path__"] = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        # Import it over there now, so a solution that does not import fails the import.
        self.session.request({"op": "import", "name": module.__name__})


def install(session: Session, tops: set[str]) -> Callable[[], None]:
    """Make the solution's top-level modules ``tops`` importable as remote modules; returns
    the function that takes them away again."""
    finder = _Finder(session, tops)
    sys.meta_path.insert(0, finder)

    def undo() -> None:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if n.split(".")[0] in tops]:
            del sys.modules[name]

    return undo
