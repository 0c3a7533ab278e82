"""git po: run coding agents in parallel on their own branches and worktrees, all state in git."""

__version__ = "0.1.0"
