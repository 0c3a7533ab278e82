"""`git po demo`: a real orchestration on a throwaway repository, with no API key.

The scheduler, worktrees, refs, hooks and protocol are the real ones; only the agent is the
deterministic `shell` profile, whose tasks write files and commit with protocol prefixes.
"""

from __future__ import annotations

from pathlib import Path

from git_po.errors import UsageError
from git_po.repo import init_repository

PLAN_FILE = "plan.toml"

PLAN = '''\
# A sample git po plan: five tasks, a diamond of dependencies, done by the offline shell agent.
# With Claude Code you would write prompts instead of run commands (see the README).
name = "demo"
base = "main"
max_workers = 3
agent = "shell"

[tasks.models]
prompt = "Add the Order model."
writes = ["shop/models.py"]
run = """
set -e
sleep 1
printf 'class Order:\\n    def __init__(self, total):\\n        self.total = total\\n' > shop/models.py
git add -A && git commit -q -m "[CHECKPOINT] models: Order class"
sleep 1
printf '\\n\\ndef order_total(orders):\\n    return sum(o.total for o in orders)\\n' >> shop/models.py
git add -A && git commit -q -m "[COMPLETE] models: Order and order_total"
"""

[tasks.docs]
prompt = "Write the user guide."
writes = ["docs/**"]
run = """
set -e
mkdir -p docs
sleep 2
printf '# Shop guide\\n\\nOrders have a total.\\n' > docs/guide.md
git add -A && git commit -q -m "[COMPLETE] docs: user guide"
"""

[tasks.api]
prompt = "Add the HTTP API over the models."
depends_on = ["models"]
writes = ["shop/api.py"]
run = """
set -e
test -f shop/models.py || { git commit -q --allow-empty -m "[BLOCKED:models missing] api cannot start"; exit 0; }
sleep 1
printf 'from shop.models import Order\\n\\n\\ndef create(total):\\n    return Order(total)\\n' > shop/api.py
git add -A && git commit -q -m "[COMPLETE] api: create endpoint"
"""

[tasks.reports]
prompt = "Add sales reports over the models."
depends_on = ["models"]
writes = ["shop/reports.py"]
run = """
set -e
sleep 2
printf 'from shop.models import order_total\\n\\n\\ndef daily(orders):\\n    return order_total(orders)\\n' > shop/reports.py
git add -A && git commit -q -m "[CHECKPOINT] reports: daily total"
printf '\\n\\ndef weekly(days):\\n    return sum(days)\\n' >> shop/reports.py
git add -A && git commit -q -m "[COMPLETE] reports: daily and weekly"
"""

[tasks.cli]
prompt = "Add a command line that uses the API and the reports."
depends_on = ["api", "reports"]
writes = ["shop/cli.py"]
run = """
set -e
test -f shop/api.py && test -f shop/reports.py
sleep 1
printf 'from shop.api import create\\nfrom shop.reports import daily\\n\\nprint(daily([create(3), create(4)]))\\n' > shop/cli.py
git add -A && git commit -q -m "[COMPLETE] cli: prints the daily total"
"""
'''

FILES = {
    "README.md": b"# shop\n\nA throwaway repository made by `git po demo`.\n",
    "shop/__init__.py": b"",
    PLAN_FILE: PLAN.encode(),
}


def create(directory: Path) -> Path:
    """Make the demo repository in directory (which must be empty or absent)."""
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} is not empty", hint="name a new or empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    init_repository(
        directory,
        FILES,
        "Initial commit of the demo shop\n",
        ("git po demo", "demo@git-po.invalid"),
    )
    return directory
