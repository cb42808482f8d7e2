"""The seed coding agent. Run inside a sandbox as ``python -m coder --task-file TASK``."""
