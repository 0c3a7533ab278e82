"""The built-in agent profiles, written as data in the same form as a plan's [agents.NAME]
table (see spec.py): a new agent needs no code, and any key of these can be replaced with
`po.agent.NAME.KEY` in git config or [agents.NAME] in the plan."""

from __future__ import annotations

import tomllib
from typing import Any

BUILTIN_TOML = r'''
[codex]
about = """permission_mode = "acceptEdits" runs `codex exec --sandbox workspace-write` with the
repository's git directory and the worktree's own git directory added as writable roots
(codex keeps a workspace's git dir read-only otherwise, and commits are written there);
"bypassPermissions" runs it with --dangerously-bypass-approvals-and-sandbox (for machines that
are sandboxed already, or where codex's own sandbox cannot start); "plan" is read-only.
Without a permission_mode codex exec keeps its read-only default and cannot commit."""
command = ["codex", "exec", "--json", "--skip-git-repo-check", "{permission}",
           "--model", "{model}", "{prompt}"]
resume = ["codex", "exec", "--json", "--skip-git-repo-check", "{permission}",
          "--model", "{model}", "resume", "{session}", "{prompt}"]
attach = ["codex", "resume", "{session}"]
format = "jsonl"
session_id = "thread.started:thread_id"
input_tokens = ["+turn.completed:usage.input_tokens"]
output_tokens = ["+turn.completed:usage.output_tokens"]
result = "item.completed:item.text"
error = ["turn.failed:error.message", "error:message"]
text = ["item.completed:item.text", "item.completed:item.command", "item.started:item.command"]
write_modes = ["acceptEdits", "dontAsk", "bypassPermissions"]
[codex.permission]
acceptEdits = ["--sandbox", "workspace-write", "--add-dir", "{commondir}", "--add-dir", "{gitdir}"]
dontAsk = ["--sandbox", "workspace-write", "--add-dir", "{commondir}", "--add-dir", "{gitdir}"]
bypassPermissions = ["--dangerously-bypass-approvals-and-sandbox"]
plan = ["--sandbox", "read-only"]
[codex.errors]
rate_limit = '(?i)\b429\b|too many requests|rate.?limit|exceeded retry limit'
overloaded = '(?i)\b(503|529)\b|overloaded|service unavailable'
auth = '(?i)\b401\b|unauthorized|invalid.{0,20}api.?key|not logged in'

[gemini]
about = """permission_mode = "acceptEdits" runs gemini with --approval-mode auto_edit and
allows its shell tool for git (run_shell_command(git)), so it can edit files and commit;
"bypassPermissions" runs it with --approval-mode yolo; "plan" is read-only. Headless gemini
refuses every tool call that would need an approval, and --skip-trust trusts the task's
worktree for the session (else gemini falls back to the default approval mode there)."""
command = ["gemini", "--output-format", "stream-json", "--skip-trust", "{permission}",
           "--model", "{model}", "--prompt", "{prompt}"]
resume = ["gemini", "--output-format", "stream-json", "--skip-trust", "{permission}",
          "--model", "{model}", "--resume", "{session}", "--prompt", "{prompt}"]
attach = ["gemini", "--resume", "{session}"]
format = "jsonl"
session_id = "init:session_id"
input_tokens = "result:stats.input_tokens"
output_tokens = "result:stats.output_tokens"
result = "result:status"
error = ["result:error.message", "error:message"]
text = ["message:content", "tool_use:tool_name"]
write_modes = ["acceptEdits", "dontAsk", "bypassPermissions"]
[gemini.permission]
acceptEdits = ["--approval-mode", "auto_edit", "--allowed-tools", "run_shell_command(git)"]
dontAsk = ["--approval-mode", "auto_edit", "--allowed-tools", "run_shell_command(git)"]
bypassPermissions = ["--approval-mode", "yolo"]
plan = ["--approval-mode", "plan"]
default = ["--approval-mode", "default"]
[gemini.errors]
rate_limit = '(?i)\b429\b|too many requests|rate.?limit|resource.?exhausted|quota'
overloaded = '(?i)\b(503|529)\b|overloaded|unavailable'
auth = '(?i)\b(401|403)\b|unauthenticated|api key not valid|permission.?denied'

[aider]
about = """aider edits files itself (--yes-always) but does not run shell commands headless
(their confirmation needs an explicit yes), so it cannot make protocol commits on its own:
its auto-commits are off (--no-auto-commits --no-dirty-commits) and git po commits what it
leaves as an auto-saved [CHECKPOINT]; a [COMPLETE] needs a follow-up task or a person.
Its history files go to the worktree's git dir and its repository map is off (--map-tokens 0),
so nothing of aider's own lands in the worktree (and in a commit)."""
command = ["aider", "--yes-always", "--no-auto-commits", "--no-dirty-commits",
           "--no-check-update", "--no-show-release-notes", "--no-show-model-warnings",
           "--no-analytics", "--no-pretty", "--no-stream", "--no-gitignore", "--map-tokens", "0",
           "--chat-history-file", "{gitdir}/aider.chat.history.md",
           "--input-history-file", "{gitdir}/aider.input.history",
           "--model", "{model}", "--message", "{prompt}"]
format = "text"
cost = 'Cost: \$[0-9.]+ message, \$([0-9.]+) session'
input_tokens = '+Tokens: ([0-9.]+[kM]?) sent'
output_tokens = '+([0-9.]+[kM]?) received'
error = '(?i)(litellm\.\w+Error: .*|error: .*)'
[aider.errors]
rate_limit = '(?i)\b429\b|ratelimiterror|rate.?limit'
overloaded = '(?i)\b(503|529)\b|overloaded|serviceunavailable'
auth = '(?i)\b401\b|authenticationerror|invalid.{0,20}api.?key'

[opencode]
about = """opencode run auto-rejects any tool call its configuration sets to "ask"; its
defaults allow edits and shell commands, so the worker can commit with no permission_mode.
permission_mode = "bypassPermissions" adds --auto (approve all that is not denied)."""
command = ["opencode", "run", "--format", "json", "{permission}", "--model", "{model}",
           "{prompt}"]
resume = ["opencode", "run", "--format", "json", "{permission}", "--model", "{model}",
          "--session", "{session}", "{prompt}"]
attach = ["opencode", "--session", "{session}"]
format = "jsonl"
session_id = "sessionID"
cost = "+step_finish:part.cost"
input_tokens = "+step_finish:part.tokens.input"
output_tokens = "+step_finish:part.tokens.output"
result = "text:part.text"
error = ["error:error.data.message", "error:error.message", "error:error.name"]
text = ["text:part.text", "tool_use:part.tool"]
[opencode.permission]
bypassPermissions = ["--auto"]
[opencode.errors]
rate_limit = '(?i)\b429\b|too many requests|rate.?limit'
overloaded = '(?i)\b(503|529)\b|overloaded'
auth = '(?i)\b401\b|unauthorized|invalid.{0,20}api.?key'
'''

BUILTIN: dict[str, dict[str, Any]] = tomllib.loads(BUILTIN_TOML)
