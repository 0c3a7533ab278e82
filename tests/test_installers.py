"""git po installed as users install it — `pip`, `pipx` and `uv tool` — into a sealed HOME,
offline from one wheelhouse built once: `git help po` shows the manual (after `git po man
--install` where the installer leaves it out of man's reach) and `git po completion --install`
puts the script where the shell loads it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from git_po import completion
from tests.conftest import ROOT

BIN = Path(sys.executable).parent  # pipx and uv, pinned in the dev extras
NAME_LINE = "git-po - run coding agents in parallel"

pytestmark = pytest.mark.skipif(shutil.which("man") is None, reason="man is not installed")


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """git po's wheel and every wheel it needs (and pip, which pipx upgrades itself to)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    for args in (
        ["wheel", "-w", str(out), str(ROOT)],
        ["download", "--no-deps", "-d", str(out), "pip"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "pip", *args, "-q", "--disable-pip-version-check"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot build the wheelhouse here: {proc.stderr.strip()[-400:]}")
    return out


def _wheel(wheelhouse: Path) -> Path:
    (found,) = wheelhouse.glob("git_po-*.whl")
    return found


class User:
    """A person with an empty HOME whose PATH has ~/.local/bin first, and no network."""

    def __init__(self, tmp_path: Path, wheelhouse: Path) -> None:
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        git_dir = str(Path(shutil.which("git") or "/usr/bin/git").parent)
        man_dir = str(Path(shutil.which("man") or "/usr/bin/man").parent)
        self.path = [str(self.home / ".local" / "bin"), git_dir, man_dir, "/usr/bin", "/bin"]
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("XDG_", "PIPX_", "UV_", "PIP_", "VIRTUAL_ENV", "PYTHON", "MAN"))
        }
        self.env |= {
            "HOME": str(self.home),
            "SHELL": "/bin/bash",
            "PAGER": "cat",
            "MANPAGER": "cat",
            "MANWIDTH": "80",
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(wheelhouse),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }

    def run(self, *argv: str | Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = self.env | {"PATH": os.pathsep.join(dict.fromkeys(self.path))}
        return subprocess.run(
            [str(a) for a in argv],
            cwd=self.home,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def git_help_po(self) -> subprocess.CompletedProcess[str]:
        return self.run("git", "help", "po")


def _pip(user: User, wheelhouse: Path) -> None:
    venv = user.home / "venv"
    # python -m venv && venv/bin/pip install git-po (pip from outside the venv: no ensurepip)
    assert user.run(sys.executable, "-m", "venv", "--without-pip", venv).returncode == 0
    done = user.run(
        sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q",
        _wheel(wheelhouse),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    user.path.insert(0, str(venv / "bin"))  # an activated venv


def _pipx(user: User, wheelhouse: Path) -> None:
    done = user.run(BIN / "pipx", "install", _wheel(wheelhouse))
    assert done.returncode == 0, done.stderr + done.stdout


def _uv(user: User, wheelhouse: Path) -> None:
    done = user.run(
        BIN / "uv", "tool", "install", "--offline", "--no-index", "--find-links", wheelhouse,
        "--python", sys.executable, _wheel(wheelhouse),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


INSTALLERS: dict[str, tuple[Callable[[User, Path], None], bool]] = {
    # installer: (how, whether man finds the page without `git po man --install`)
    "pip": (_pip, True),
    "pipx": (_pipx, True),
    "uv": (_uv, False),
}


@pytest.mark.parametrize("installer", sorted(INSTALLERS))
def test_git_help_po_and_completion_after_an_install(
    installer: str, wheelhouse: Path, tmp_path: Path
) -> None:
    user = User(tmp_path, wheelhouse)
    install, man_finds_it = INSTALLERS[installer]
    install(user, wheelhouse)

    first = user.git_help_po()
    if man_finds_it:
        assert first.returncode == 0, first.stderr
        assert NAME_LINE in first.stdout
    else:  # the installer keeps the tool's data files in its own folder, out of man's reach
        assert first.returncode != 0 and "No manual entry for git-po" in first.stderr, first
        done = user.run("git", "po", "man", "--install")
        assert done.returncode == 0, done.stderr
        page = user.home / ".local" / "share" / "man" / "man1" / "git-po.1"
        assert done.stdout.splitlines() == [f"installed {page}"]  # and man finds it: no note
        again = user.git_help_po()
        assert again.returncode == 0 and NAME_LINE in again.stdout, again
    found = user.run("man", "-w", "git-po").stdout.strip()
    assert found.startswith(str(user.home)), found  # this install's page, not another one

    done = user.run("git", "po", "completion", "--install")  # SHELL=/bin/bash
    script = user.home / ".local" / "share" / "bash-completion" / "completions" / "git-po"
    assert done.returncode == 0 and done.stdout.startswith(f"installed {script}\n"), done
    assert script.read_text() == completion.script("bash")


@pytest.mark.skipif(
    not Path("/usr/share/bash-completion/bash_completion").exists(),
    reason="the bash-completion package is not installed",
)
def test_bash_completion_loads_the_installed_script_for_git_po(
    wheelhouse: Path, tmp_path: Path
) -> None:
    user = User(tmp_path, wheelhouse)
    _uv(user, wheelhouse)
    assert user.run("git", "po", "completion", "--install", "bash").returncode == 0

    # what git's completion does for `git po <Tab>` when _git_po is not defined yet
    probe = (
        ". /usr/share/bash-completion/bash_completion; "
        "__load_completion git-po; declare -F _git_po && echo $__git_po_subcommands"
    )
    done = user.run("bash", "--norc", "--noprofile", "-c", probe)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("_git_po\n") and " man " in done.stdout, done.stdout


def test_other_shells_and_bad_input(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("XDG_DATA_HOME", None)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "cfg")

    def po(*args: str, shell: str = "/bin/zsh") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "git_po", *args],
            cwd=tmp_path,
            env=env | {"SHELL": shell},
            capture_output=True,
            text=True,
            check=False,
        )

    zsh = po("completion", "--install")
    fish = po("completion", "--install", "fish")
    unknown = po("completion", "--install", shell="/bin/tcsh")
    bare = po("completion")

    target = tmp_path / ".local" / "share" / "zsh" / "site-functions" / "_git-po"
    assert zsh.returncode == 0 and target.read_text() == completion.script("zsh")
    assert f"fpath=({target.parent} $fpath)" in zsh.stdout
    assert (tmp_path / "cfg" / "fish" / "conf.d" / "git-po.fish").read_text() == (
        completion.script("fish")
    )
    assert fish.returncode == 0, fish
    assert unknown.returncode == 2 and "cannot tell your shell" in unknown.stderr, unknown
    assert bare.returncode == 2 and "name a shell" in bare.stderr, bare
    path = po("man", "--path")
    assert path.returncode == 0 and Path(path.stdout.strip()).read_text().startswith('.\\"')
