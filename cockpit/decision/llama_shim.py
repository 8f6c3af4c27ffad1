"""The child process of ``cockpit llm serve-local``: llama_cpp.server with llama.cpp's extra CPU
buffer types (AMX/repack) turned off.

Why: on this kind of machine the CPU reports AMX, and llama.cpp's AMX buffers crash the process
(segmentation fault) at the first completion; without them the same model answers normally.
llama_cpp.server has no flag for it, so the model's default parameters are patched before it starts.
Run as ``python -m cockpit.decision.llama_shim <llama_cpp.server arguments>``.
"""

from __future__ import annotations


def main() -> None:
    import llama_cpp.llama_cpp as native

    default_params = native.llama_model_default_params

    def params():
        p = default_params()
        if hasattr(p, "use_extra_bufts"):
            p.use_extra_bufts = False
        return p

    native.llama_model_default_params = params
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
