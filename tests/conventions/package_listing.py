"""Which files reach the deployment package, computed the two ways the deploy tools compute it.

``azd deploy`` (host ``function``) zips the service folder, skipping ``.azure/``, the ignore file itself and
``local.settings.json``, and applies ``.funcignore`` with gitignore rules (a Go port of git's matcher).
Here git itself applies them: the ignore file becomes the ``info/exclude`` of a scratch repository and
``git ls-files --others --exclude-standard`` lists what is left.

``func azure functionapp publish`` (Core Tools) skips ``.git``/``.vscode`` folders and a few file names, then
tests each file's path relative to the app root against one regular expression built from the ignore file
(Core Tools' ``GitIgnoreParser``, a C# port of the npm package gitignore-parser): every pattern is anchored at
the start of the path and must end at a word boundary, ``**`` is any text and ``*`` any text without ``/``.
``core_tools_denies`` reimplements that expression.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

# What each tool leaves out before the ignore file is consulted.
AZD_SKIPPED_DIRS = frozenset({".azure"})
AZD_SKIPPED_FILES = frozenset({".funcignore", "local.settings.json"})
CORE_TOOLS_SKIPPED_DIRS = frozenset({".git", ".vscode"})
CORE_TOOLS_SKIPPED_FILES = frozenset(
    {".funcignore", ".gitignore", "local.settings.json", "project.lock.json"}
)

_ESCAPED = re.compile(r"[\-\[\]/{}()+?.\\^$|]")


def azd_package(root: Path, ignore_text: str) -> set[str]:
    """The paths (relative, ``/``-separated) azd would zip from ``root`` with this ``.funcignore``."""
    kept = set()
    for path in not_ignored_by_git(root, ignore_text):
        *folders, name = path.split("/")
        if not set(folders) & AZD_SKIPPED_DIRS and name not in AZD_SKIPPED_FILES:
            kept.add(path)
    return kept


def not_ignored_by_git(root: Path, ignore_text: str) -> set[str]:
    """The files under ``root`` that git's own matcher keeps with ``ignore_text`` as the only ignore rules."""
    git = shutil.which("git")
    assert git, "git is needed to apply gitignore rules"
    scratch = root / ".git"
    assert not scratch.exists(), f"{root} is already a git repository"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
    try:
        subprocess.run([git, "init", "-q", str(root)], check=True, env=env)  # noqa: S603 - fixed argv
        (scratch / "info").mkdir(exist_ok=True)
        (scratch / "info" / "exclude").write_text(ignore_text, encoding="utf-8")
        listed = subprocess.run(  # noqa: S603 - fixed argv
            [git, "-C", str(root), "-c", "core.quotePath=off", "ls-files", "--others", "--exclude-standard"],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        ).stdout.splitlines()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return set(listed)


def core_tools_denies(ignore_text: str) -> re.Pattern[str]:
    """The expression Core Tools tests each relative file path against (a match means: left out)."""
    patterns = []
    for raw in ignore_text.split("\n"):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "re-includes ('!') are applied differently by the two tools"
        patterns.append(line.removeprefix("/"))
    if not patterns:
        return re.compile(r"$^")
    prepared = [
        _ESCAPED.sub(lambda m: "\\" + m.group(0), p).replace("**", "(.+)").replace("*", "([^\\/]+)")
        for p in sorted(patterns)
    ]
    return re.compile("^((" + ")|(".join(prepared) + "))\\b", re.ASCII)


def core_tools_package(root: Path, ignore_text: str) -> set[str]:
    """The paths (relative, ``/``-separated) Core Tools would zip from ``root`` with this ``.funcignore``."""
    denies = core_tools_denies(ignore_text)
    kept = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in CORE_TOOLS_SKIPPED_DIRS]
        for name in files:
            if name in CORE_TOOLS_SKIPPED_FILES:
                continue
            relative = (Path(folder) / name).relative_to(root).as_posix()
            if not denies.search(relative):
                kept.add(relative)
    return kept
