"""The man page and the shell completions must not drift from the code.

The man page (man/git-po.1) is checked against the click commands and options, the plan keys,
the exit codes, the git config keys, the ref layout, the protocol and the status JSON fields.
The completions (completions/git-po.{bash,zsh,fish}) are checked for every command and option,
and run through real shells: bash with git's own completion, and zsh and fish when installed.
"""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest

from git_po import __version__, config, jsonout, layout, plan, protocol, run_launch
from git_po.cli import cli
from git_po.cliopts import CommonOption
from git_po.errors import ExitCode
from git_po.state import State

from .conftest import ROOT, git

MAN = ROOT / "man" / "git-po.1"
BASH = ROOT / "completions" / "git-po.bash"
ZSH = ROOT / "completions" / "git-po.zsh"
FISH = ROOT / "completions" / "git-po.fish"

# --- reading roff ------------------------------------------------------------------------------

_FONT = re.compile(r"\\f(?:[BIRP1-4]|\(..|\[[^\]]*\])")
_OPTION = re.compile(r"(?<![\w/-])(--?[A-Za-z][A-Za-z0-9-]*)")


def plain(roff: str) -> str:
    """Roff source as the reader sees it: no font changes, `\\-` as `-`, named glyphs."""
    text = _FONT.sub("", roff)
    for escape, char in (
        ("\\-", "-"),
        ("\\(em", "\u2014"),
        ("\\(>=", "\u2265"),
        ("\\&", ""),
        ("\\e", "\\"),
    ):
        text = text.replace(escape, char)
    return text


def man_lines() -> list[str]:
    return [line for line in MAN.read_text().splitlines() if not line.startswith('.\\"')]


def _title(line: str) -> str:
    return plain(line.split(None, 1)[1] if " " in line else "").strip().strip('"')


def sections() -> dict[str, list[str]]:
    """The man page's .SH sections, by title, as raw roff lines."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in man_lines():
        if line.startswith(".SH"):
            current = out.setdefault(_title(line), [])
        elif current is not None:
            current.append(line)
    return out


def subsections(lines: list[str]) -> dict[str, list[str]]:
    """The .SS subsections of a section, by title."""
    out: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if line.startswith(".SS"):
            current = out.setdefault(_title(line), [])
        elif current is not None:
            current.append(line)
    return out


def tags(lines: list[str]) -> list[str]:
    """The tag line of every .TP paragraph, as plain text."""
    return [plain(lines[i + 1]) for i, line in enumerate(lines[:-1]) if line.startswith(".TP")]


def bold(lines: list[str]) -> list[str]:
    """Every bold word or phrase, as plain text."""
    return [plain(m) for m in re.findall(r"\\fB(.*?)\\f[RPI]", "\n".join(lines))]


def man_text() -> str:
    """The whole page as plain text, with runs of blanks collapsed."""
    return re.sub(r"\s+", " ", plain("\n".join(man_lines())))


# --- reading click -----------------------------------------------------------------------------


def commands() -> dict[str, click.Command]:
    assert isinstance(cli, click.Group)
    return dict(cli.commands)


def leaves() -> dict[str, click.Command]:
    """Every command that runs, by its name after `git po`: a group's subcommands as
    "plan draft", "plan check"."""
    out: dict[str, click.Command] = {}
    for name, cmd in commands().items():
        if isinstance(cmd, click.Group):
            for sub, leaf in cmd.commands.items():
                out[f"{name} {sub}"] = leaf
        else:
            out[name] = cmd
    return out


def groups() -> dict[str, click.Group]:
    return {n: c for n, c in commands().items() if isinstance(c, click.Group)}


def _own(cmd: click.Command, param: click.Parameter) -> bool:
    """Whether a command documents param itself: the options of every command (--color, -q, -v)
    are documented once, under `git po [options]`."""
    return cmd is cli or not isinstance(param, CommonOption)


def options(cmd: click.Command) -> set[str]:
    """Every option string of a command, its help option included."""
    ctx = click.Context(cmd, info_name=cmd.name, **cmd.context_settings)
    names: set[str] = set()
    for param in cmd.get_params(ctx):
        if isinstance(param, click.Option) and _own(cmd, param):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def every_option(cmd: click.Command) -> set[str]:
    """What a shell completes for cmd: its own options and those of every command."""
    ctx = click.Context(cmd, info_name=cmd.name, **cmd.context_settings)
    return {o for p in cmd.get_params(ctx) if isinstance(p, click.Option) for o in p.opts}


def declared_options(cmd: click.Command) -> set[str]:
    """The options declared in cmd.params (what the code adds, not click's help option)."""
    names: set[str] = set()
    for param in cmd.params:
        if isinstance(param, click.Option) and _own(cmd, param):
            names.update(param.opts)
            names.update(param.secondary_opts)
    return names


def test_every_command_takes_the_common_options() -> None:
    for name, cmd in leaves().items():
        ctx = click.Context(cmd, info_name=cmd.name, **cmd.context_settings)
        every = {o for p in cmd.get_params(ctx) if isinstance(p, click.Option) for o in p.opts}
        assert {"--color", "-q", "--quiet", "-v", "--verbose"} <= every, name
    assert _bash_words("__git_po_common_opts") == {"--color", "-q", "--quiet", "-v", "--verbose"}


def takes_value(cmd: click.Command, name: str) -> bool:
    for param in cmd.params:
        if isinstance(param, click.Option) and name in param.opts:
            return not param.is_flag and not param.count
    return False


# --- the man page: commands and options ----------------------------------------------------------


def command_subsections() -> dict[str | None, list[str]]:
    """COMMANDS subsections by the command they document (None: git po itself)."""
    out: dict[str | None, list[str]] = {}
    for title, lines in subsections(sections()["COMMANDS"]).items():
        m = re.match(r"git po(?: ([a-z][a-z-]*))?(?: ([a-z][a-z-]*))?(?: |$)", title)
        assert m, f"COMMANDS subsection {title!r} does not start with 'git po'"
        name = m.group(1)
        if name in groups() and m.group(2):
            name = f"{name} {m.group(2)}"
        out[name] = lines
    return out


def test_man_page_has_the_expected_sections() -> None:
    assert MAN.read_text().splitlines()[3].startswith('.TH "GIT\\-PO" "1"')
    wanted = [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "COMMANDS",
        "THE PLAN",
        "THE COMMIT PROTOCOL",
        "AGENTS",
        "REFS AND FILES",
        "CONFIGURATION",
        "JSON OUTPUTS",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ]
    have = list(sections())
    assert [s for s in have if s in wanted] == wanted


def test_man_page_version_is_the_package_version() -> None:
    th = next(line for line in man_lines() if line.startswith(".TH"))
    assert f"git\\-po {__version__}" in th


def test_man_page_documents_every_command_and_option() -> None:
    documented = command_subsections()
    text = man_text()
    for name, cmd in leaves().items():
        assert name in documented, f"COMMANDS has no subsection for `git po {name}`"
        tagged = {o for tag in tags(documented[name]) for o in _OPTION.findall(tag)}
        for opt in sorted(options(cmd)):
            assert opt in tagged, f"man page: `git po {name}` does not document {opt}"
            assert opt in text
    top = {o for tag in tags(documented[None]) for o in _OPTION.findall(tag)}
    assert options(cli) <= top, f"man page: git po options {options(cli) - top} missing"


def test_man_page_commands_section_names_only_real_commands_and_options() -> None:
    cmds = leaves()
    for name, lines in command_subsections().items():
        cmd = cli if name is None else cmds.get(name)
        assert cmd is not None, f"man page documents `git po {name}`, which click does not have"
        for tag in tags(lines):
            for opt in _OPTION.findall(tag):
                assert opt in options(cmd), (
                    f"man page documents {opt} for `git po {name or ''}`, which it does not take"
                )


def test_man_page_option_values_match_click() -> None:
    """An option shown with a value (`-j N`) takes one; a flag is shown without one."""
    cmds = leaves()
    for name, lines in command_subsections().items():
        cmd = cli if name is None else cmds[name]
        for tag in tags(lines):
            for part in tag.split(","):
                words = part.split()
                if not words or not words[0].startswith("-"):
                    continue
                shown = len(words) > 1
                assert shown == takes_value(cmd, words[0]), f"`git po {name}` tag {tag!r}"


def test_synopsis_matches_click() -> None:
    lines = [plain(line) for line in sections()["SYNOPSIS"] if not line.startswith(".")]
    usages: dict[str, set[str]] = {}
    current: str | None = None
    for line in lines:
        m = re.match(r"git po (?:([a-z][a-z-]*)\b)?(?: ([a-z][a-z-]*)\b)?", line)
        if m:
            current = m.group(1) or ""
            if current in groups() and m.group(2):
                current = f"{current} {m.group(2)}"
            else:
                m = re.match(r"git po (?:([a-z][a-z-]*)\b)?", line)
                assert m
            rest = line[m.end() :]
        else:  # a continuation line
            rest = line
        assert current is not None
        usages.setdefault(current, set()).update(_OPTION.findall(rest))
    cmds = leaves()
    assert set(usages) - {""} == set(cmds), "SYNOPSIS must show every command, and only those"
    help_opts = {"-h", "--help"}
    for name, cmd in cmds.items():
        assert usages[name] == declared_options(cmd), f"SYNOPSIS of `git po {name}`"
    assert usages[""] == options(cli) | help_opts


def test_man_page_subcommand_help_matches_click_help_texts() -> None:
    """Each option's help text from click and the man page say the same thing in short."""
    documented = command_subsections()
    for name, cmd in leaves().items():
        body = re.sub(r"\s+", " ", plain("\n".join(documented[name])))
        for param in cmd.params:
            if isinstance(param, click.Option) and param.help and _own(cmd, param):
                first = param.help.split(" (")[0].split(";")[0].rstrip(".")
                words = [w for w in re.findall(r"[a-z]{5,}", first.lower())][:3]
                for w in words:
                    assert w in body.lower(), f"`git po {name}` {param.opts}: {w!r} of {first!r}"


# --- the man page: the plan ----------------------------------------------------------------------


def plan_subsections() -> dict[str, list[str]]:
    return subsections(sections()["THE PLAN"])


def _key_of(tag: str) -> str:
    word = tag.split()[0].strip("[]")
    return word.split(".")[0]


def test_man_page_top_level_keys_match_the_plan_parser() -> None:
    keys = [_key_of(t) for t in tags(plan_subsections()["Top-level keys"])]
    assert sorted(keys) == sorted(plan.TOP_KEYS)


def test_man_page_task_keys_match_the_plan_parser() -> None:
    keys = [_key_of(t) for t in tags(plan_subsections()["[tasks.<id>]"])]
    assert sorted(keys) == sorted(plan.TASK_KEYS)


def test_man_page_defaults_keys_match_the_plan_parser() -> None:
    words = {w for w in bold(plan_subsections()["[defaults]"]) if re.fullmatch(r"[a-z_]+", w)}
    assert words == set(plan.DEFAULT_KEYS)


def test_man_page_plan_values_match_the_plan_parser() -> None:
    text = man_text()
    for value in (*plan.AGENTS, *plan.PERMISSION_MODES, *plan.RESERVED_TASK_IDS):
        assert value in text
    assert f"at most {plan.MAX_ID_LENGTH} characters" in text
    assert protocol.ID_PATTERN in text
    assert f"else {plan.DEFAULT_MAX_WORKERS}" in text
    durations = "\n".join(plan_subsections()["Durations"])
    examples = re.findall(r'\\fB("?[0-9.hms]+"?)\\fR', durations)
    assert len(examples) >= 5
    for example in examples:
        value = tomllib.loads(f"d = {example}")["d"]
        assert plan.parse_duration(value), f"duration example {example} does not parse"


def test_man_page_example_plan_is_valid() -> None:
    lines = sections()["THE PLAN"]
    start = lines.index(".nf") + 1
    text = plain("\n".join(lines[start : lines.index(".fi", start)])) + "\n"
    parsed = plan.parse_plan(text, "git-po.1", lambda rel: "prompt text\n", default_name="x")
    assert parsed.name == "shop"
    assert [t.id for t in parsed.tasks] == ["models", "api"]


# --- the man page: protocol, agents, refs, config, JSON, exit codes -------------------------------


def test_man_page_shows_the_protocol_forms() -> None:
    text = man_text()
    for form in protocol.FORMS:
        assert re.sub(r"\s+", " ", form) in text
    assert f"{protocol.AUTOSAVE_TRAILER}:" in text


def test_man_page_ref_layout_matches_layout_module() -> None:
    text = man_text()
    p, t = "<plan>", "<task>"
    for ref in (
        layout.plan_ref(p),
        layout.task_ref(p, t),
        layout.base_ref(p, t),
        layout.wip_ref(p, t),
        layout.archive_prefix(p, 0).replace("/0/", "/<n>/"),
        layout.branch_ref(p, t),
        layout.branch(p, t),
        "refs/notes/po",
    ):
        assert ref in text, ref
    common = Path("/C")
    root = layout.default_worktree_root(Path("/D/git-po"), common, None)
    assert "git-po/worktrees/<repo>-<hash>/" in text
    assert layout.worktree_path(root, p, t).relative_to(root).as_posix() in text
    for path in (
        layout.transcript_path(common, p, t, 0, ".jsonl"),
        layout.plan_dir(common, p) / "lock",
        layout.hooks_dir(common),
    ):
        rel = path.relative_to(layout.private_dir(common)).as_posix().replace("-0.", "-<N>.")
        assert rel in text, rel
    assert layout.worktree_name(p, t) in text
    assert layout.ORIG_HOOKS_FILE in text


def test_man_page_names_the_worker_environment() -> None:
    text = man_text()
    for var in sorted(set(re.findall(r'"(PO_[A-Z]+)"', inspect.getsource(run_launch)))):
        assert var in text, var


def test_man_page_states_match_the_code() -> None:
    body = " ".join(bold(command_subsections()["status"]))
    for state in State:
        assert state.value in body, state


def test_man_page_config_keys_match_the_code() -> None:
    names = {t.split()[0] for t in tags(sections()["CONFIGURATION"])}
    assert names == set(config.KEYS)
    mentioned = set(re.findall(r"\bpo\.[a-z][A-Za-z]+", man_text()))
    assert mentioned <= set(config.KEYS), mentioned - set(config.KEYS)


def test_man_page_status_json_fields_match_the_schema() -> None:
    lines = sections()["JSON OUTPUTS"]
    named = set(bold(lines))
    schema = jsonout.schema("status")
    top = set(schema["properties"]) - {"schema_version"}
    assert {t.split()[0] for t in tags(lines)} == top
    fields = set(schema["properties"]["tasks"]["items"]["properties"])
    fields |= set(schema["properties"]["totals"]["properties"])
    fields |= set(jsonout.schema("status-plans")["properties"]["plans"]["items"]["properties"])
    assert fields <= named, f"JSON OUTPUTS does not name {sorted(fields - named)}"
    assert f'schema_version": {jsonout.SCHEMA_VERSION}' in man_text()


def test_man_page_exit_codes_match_the_code() -> None:
    codes = {int(t.split()[0]) for t in tags(sections()["EXIT STATUS"])}
    assert codes == {int(c) for c in ExitCode}


def test_cli_help_exit_codes_match_the_code() -> None:
    assert cli.help is not None
    listed = re.search(r"Exit codes:(.*)", cli.help, re.S)
    assert listed, "git po --help lists no exit codes"
    codes = {int(n) for n in re.findall(r"(?:^|;)\s*(\d+) ", listed.group(1))}
    assert codes == {int(c) for c in ExitCode}


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff is not installed")
def test_man_page_renders_without_warnings() -> None:
    proc = subprocess.run(
        ["groff", "-man", "-ww", "-z", str(MAN)], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


# --- completions: what they list ---------------------------------------------------------------


def _bash_words(var: str) -> set[str]:
    m = re.search(rf'^{var}="([^"]*)"', BASH.read_text(), re.M)
    assert m, f"{BASH.name} has no {var}"
    return {w.rstrip("=") for w in m.group(1).split()}


def test_bash_completion_lists_every_command_and_option() -> None:
    cmds = commands()
    assert _bash_words("__git_po_subcommands") == set(cmds)
    assert _bash_words("__git_po_global_opts") == options(cli)
    for name, cmd in leaves().items():
        assert _bash_words(f"__git_po_{name.replace(' ', '_')}_opts") == options(cmd), name
        for opt in options(cmd):
            if takes_value(cmd, opt) and opt.startswith("--"):
                assert f"{opt}=" in BASH.read_text(), f"{opt} takes a value: list it as {opt}="


def test_zsh_and_fish_completions_list_every_command_and_option() -> None:
    zsh, fish = ZSH.read_text(), FISH.read_text()
    for name, cmd in leaves().items():
        for word in name.split():
            assert f"'{word}:" in zsh, name
            assert f"-a {word} " in fish, name
        for opt in options(cmd) | options(cli):
            assert re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", zsh), (name, opt)
            flag = f"-l {opt[2:]}" if opt.startswith("--") else f"-s {opt[1:]}"
            assert re.search(rf"{re.escape(flag)}(?![\w-])", fish), (name, opt)


# --- completions: real shells -----------------------------------------------------------------


def git_bash_completion() -> Path | None:
    candidates = [
        Path("/usr/share/bash-completion/completions/git"),
        Path("/usr/share/git/completion/git-completion.bash"),
        Path("/usr/share/git-core/contrib/completion/git-completion.bash"),
        Path("/usr/local/share/bash-completion/completions/git"),
        Path("/opt/homebrew/etc/bash_completion.d/git-completion.bash"),
        Path("/etc/bash_completion.d/git"),
    ]
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if exec_path:
        share = Path(exec_path).parent.parent / "share"
        candidates += [
            share / "git-core" / "contrib" / "completion" / "git-completion.bash",
            share / "bash-completion" / "completions" / "git",
        ]
    return next((p for p in candidates if p.is_file()), None)


Complete = Callable[[str, Path], list[str]]

BASH_FRAMEWORK = Path("/usr/share/bash-completion/bash_completion")

_BASH_DRIVER = r"""
framework=$1 gitcomp=$2 pocomp=$3 line=$4
if [ -n "$framework" ]; then
    source "$framework"
fi
source "$gitcomp" || exit 90
source "$pocomp" || exit 91
COMP_LINE=$line
COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<<"$COMP_LINE"
case "$COMP_LINE" in *" ") COMP_WORDS+=("") ;; esac
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
if declare -F __git_wrap__git_main >/dev/null; then
    __git_wrap__git_main
else
    _git
fi
printf '%s\n' "${COMPREPLY[@]}"
"""


@pytest.fixture
def po_repo(repo: Path) -> Path:
    """The test repository with two started plans, a plan file, a folder and another file."""
    head = git(repo, "rev-parse", "HEAD").strip()
    for name in ("shop", "web"):
        git(repo, "update-ref", f"refs/po/{name}/plan", head)
    git(repo, "update-ref", "refs/po/web/tasks/plan", head)  # a task named plan: not a plan
    (repo / "plan.toml").write_text('[tasks.a]\nprompt = "a"\n')
    (repo / "notes.txt").write_text("not a plan\n")
    (repo / "plans").mkdir()
    (repo / "plans" / "web.toml").write_text('[tasks.a]\nprompt = "a"\n')
    return repo


@pytest.fixture(params=["git-completion-only", "with-bash-completion"])
def bash_complete(request: pytest.FixtureRequest) -> Iterator[Complete]:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    gitcomp = git_bash_completion()
    if gitcomp is None:
        pytest.skip(
            "git's bash completion script was not found "
            "(install the bash-completion package, or git's contrib/completion)"
        )
    framework = ""
    if request.param == "with-bash-completion":
        if not BASH_FRAMEWORK.is_file():
            pytest.skip("the bash-completion package is not installed")
        framework = str(BASH_FRAMEWORK)

    def complete(line: str, cwd: Path) -> list[str]:
        shell = [bash, "--norc", "--noprofile", "-c", _BASH_DRIVER, "bash"]
        proc = subprocess.run(
            [*shell, framework, str(gitcomp), str(BASH), line],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return [w.rstrip(" ") for w in proc.stdout.splitlines() if w.strip()]

    yield complete


def test_bash_completes_git_po(bash_complete: Complete, po_repo: Path) -> None:
    complete = bash_complete
    cmds = commands()
    assert sorted(complete("git po ", po_repo)) == sorted(cmds)
    assert sorted(complete("git po st", po_repo)) == ["start", "status", "stop"]
    assert sorted(complete("git po status ", po_repo)) == ["shop", "web"]
    assert complete("git po status w", po_repo) == ["web"]
    assert complete("git po status shop ", po_repo) == []
    start = cmds["start"]
    assert {w.rstrip("=") for w in complete("git po start --", po_repo)} == {
        o for o in every_option(start) if o.startswith("--")
    }
    assert "--max-workers=" in complete("git po start --", po_repo)
    assert {w.rstrip("=") for w in complete("git po status --", po_repo)} == {
        o for o in every_option(cmds["status"]) if o.startswith("--")
    }
    assert {w.rstrip("=") for w in complete("git po --", po_repo)} == {
        o for o in options(cli) if o.startswith("--")
    }
    plan_files = complete("git po start ", po_repo)
    assert "plan.toml" in plan_files and "plans" in plan_files
    assert "notes.txt" not in plan_files and ".git" not in plan_files
    assert complete("git po start plans/", po_repo) == ["plans/web.toml"]
    assert complete("git po start -j 2 plan.toml ", po_repo) == []
    # git -C: plans and files of the named repository
    assert sorted(complete(f"git -C {po_repo.name} po status ", po_repo.parent)) == ["shop", "web"]
    assert "plan.toml" in complete(f"git -C {po_repo.name} po start ", po_repo.parent)
    # a command group: its subcommands, then their options and files
    plan = groups()["plan"]
    assert sorted(complete("git po plan ", po_repo)) == sorted(plan.commands)
    draft = plan.commands["draft"]
    assert {w.rstrip("=") for w in complete("git po plan draft --", po_repo)} == {
        o for o in every_option(draft) if o.startswith("--")
    }
    assert "notes.txt" in complete("git po plan draft ", po_repo)
    checked = complete("git po plan check ", po_repo)
    assert "plan.toml" in checked and "notes.txt" not in checked


_ZSH_CAPTURE = r"""
zmodload zsh/zpty
zpty z zsh -f -i
local line
setopt rcquotes
() {
    zpty -w z source $1
    repeat 4; do
        zpty -r z line
        [[ $line == ok* ]] && return
    done
    echo 'error initializing.' >&2
    exit 2
} =( <<< '
PROMPT=
fpath=('"$FPATH_DIR"' $fpath)
autoload -Uz compinit
compinit -u -d '"$DUMP"'
bindkey ''^M'' undefined
bindkey ''^J'' undefined
bindkey ''^I'' complete-word
null-line () { echo -E - $''\0'' }
compprefuncs=( null-line )
comppostfuncs=( null-line exit )
zstyle '':completion:*'' list-grouped false
zstyle '':completion:*'' insert-tab false
zstyle '':completion:*'' list-separator ''''
zmodload zsh/zutil
compadd () {
    if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
        builtin compadd "$@"
        return $?
    fi
    typeset -a __hits __dscr __tmp
    if (( $@[(I)-d] )); then
        __tmp=${@[$[${@[(i)-d]}+1]]}
        if [[ $__tmp == \(* ]]; then
            eval "__dscr=$__tmp"
        else
            __dscr=( "${(@P)__tmp}" )
        fi
    fi
    builtin compadd -A __hits -D __dscr "$@"
    setopt localoptions norcexpandparam extendedglob
    typeset -A apre hpre hsuf asuf
    zparseopts -E P:=apre p:=hpre S:=asuf s:=hsuf
    [[ -n $__hits ]] || return
    for i in {1..$#__hits}; do
        echo -E - $IPREFIX$apre$hpre$__hits[$i]$hsuf$asuf
    done
}
echo ok')
zpty -w z "$*"$'\t'
integer tog=0
while zpty -r z; do :; done | while IFS= read -r line; do
    if [[ $line == *$'\0\r' ]]; then
        (( tog++ )) && return 0 || continue
    fi
    (( tog )) && echo -E - $line
done
return 2
"""


def zsh_completer(tmp_path: Path, cwd: Path) -> Callable[[str], set[str]]:
    """Complete a command line with the real zsh and completions/git-po.zsh, in cwd."""
    fpath = tmp_path / "zfunc"
    fpath.mkdir()
    shutil.copy(ZSH, fpath / "_git-po")
    script = tmp_path / "capture.zsh"
    script.write_text(
        _ZSH_CAPTURE.replace("$FPATH_DIR", str(fpath)).replace("$DUMP", str(tmp_path / "zdump"))
    )

    def complete(line: str) -> set[str]:
        proc = subprocess.run(
            ["zsh", "-f", str(script), line],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return {w.strip("\r") for w in proc.stdout.splitlines() if w.strip("\r")}

    return complete


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_git_po(po_repo: Path, tmp_path: Path) -> None:
    complete = zsh_completer(tmp_path, po_repo)

    assert complete("git po ") == set(commands())
    assert complete("git po status ") == {"shop", "web"}
    start = commands()["start"]
    assert complete("git po start --") == {o for o in every_option(start) if o.startswith("--")}
    assert "plan.toml" in complete("git po start ")
    plan = groups()["plan"]
    assert complete("git po plan ") == set(plan.commands)
    draft = plan.commands["draft"]
    assert complete("git po plan draft --") == {
        o for o in every_option(draft) if o.startswith("--")
    }


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_completes_git_po(po_repo: Path, sealed_env: Path) -> None:
    conf = sealed_env / ".config" / "fish" / "conf.d"
    conf.mkdir(parents=True)
    shutil.copy(FISH, conf / "git-po.fish")

    def complete(line: str) -> set[str]:
        proc = subprocess.run(
            ["fish", "-c", f"complete -C '{line}'"],
            cwd=po_repo,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return {w.split("\t")[0] for w in proc.stdout.splitlines() if w}

    assert complete("git po ") == set(commands())
    assert complete("git po st") == {"start", "status", "stop"}
    assert complete("git po status ") == {"shop", "web"}
    assert complete("git-po status ") == {"shop", "web"}
    start = commands()["start"]
    assert {o for o in every_option(start) if o.startswith("--")} <= complete("git po start --")
    assert "po" in complete("git p")
    plan = groups()["plan"]
    assert complete("git po plan ") == set(plan.commands)
    draft = plan.commands["draft"]
    assert {o for o in every_option(draft) if o.startswith("--")} <= complete(
        "git po plan draft --"
    )
    assert "notes.txt" in complete("git po plan draft ")
