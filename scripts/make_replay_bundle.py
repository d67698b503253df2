"""Rebuild tests/data/tomli_replay/: a small git bundle of real tomli commits, and its manifest.

The bundle holds the base commit (the parent of the first replayed commit) as a root commit, then each
replayed commit on top of it, with the real trees (same tree shas as upstream, by construction: the new
commits point at the upstream tree objects), messages, authors and dates. Only the first commit's parent
differs from upstream, so the bundle is small (six snapshots, no older history).

    python scripts/make_replay_bundle.py --source /path/to/tomli.git [--check]

``--source`` is any clone of https://github.com/hukkin/tomli (bare or not) holding the commits below.
``--check`` runs the project's own test suite (``python -m pytest -q`` with ``PYTHONPATH=src``) at the
base and at every replayed commit, and runs each replayed commit's tests against the base code to
report which of them fail there (the e2e test relies on at least one doing so).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

UPSTREAM = "https://github.com/hukkin/tomli"
BASE = "e4da05c35a41a4d53fce7af292b94506b1ea68a7"  # "Reorganize test data"
LAST = "794c8e50d676f1e8e081914eb77e4a48a4f6a20b"  # "Eagerly raise an error if parse_float produces illegal types"
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "tomli_replay"
BUNDLE_NAME = "tomli.bundle"
BASE_TAG = "replay-base"


def git(git_dir: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> str:
    proc = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", **(env or {})},
        input=input,
    )
    return proc.stdout


def resolve_git_dir(source: Path) -> Path:
    out = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "--absolute-git-dir"], capture_output=True, text=True, check=True
    )
    return Path(out.stdout.strip())


def commit_info(src: Path, sha: str) -> dict[str, str]:
    fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%s%x00%B"
    fields = git(src, "show", "-s", f"--format={fmt}", sha).split("\x00")
    keys = [
        "sha",
        "tree",
        "parents",
        "author_name",
        "author_email",
        "author_date",
        "committer_name",
        "committer_email",
        "committer_date",
        "subject",
        "message",
    ]
    info = dict(zip(keys, fields, strict=True))
    info["message"] = info["message"].rstrip("\n") + "\n"
    return info


def changed_files(src: Path, parent: str, sha: str) -> list[dict[str, str]]:
    out = git(src, "diff-tree", "-r", "--no-renames", "--name-status", "-z", parent, sha)
    parts = [p for p in out.split("\x00") if p]
    return [{"status": parts[i], "path": parts[i + 1]} for i in range(0, len(parts), 2)]


def replayed_commits(src: Path, base: str, last: str) -> list[str]:
    """First-parent commits after ``base`` up to ``last``, oldest first; merges are refused."""
    shas = git(src, "rev-list", "--first-parent", "--reverse", f"{base}..{last}").split()
    for sha in shas:
        parents = git(src, "show", "-s", "--format=%P", sha).split()
        if len(parents) != 1:
            raise SystemExit(f"{sha} is a merge commit: pick a range without merges")
    if not shas or git(src, "show", "-s", "--format=%P", shas[0]).split() != [base]:
        raise SystemExit(f"{base} is not the parent of the first commit in {base}..{last}")
    return shas


def build(src: Path, base: str, last: str, out: Path) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    shas = replayed_commits(src, base, last)
    with tempfile.TemporaryDirectory() as tmp:
        new = Path(tmp) / "replay.git"
        subprocess.run(["git", "init", "-q", "--bare", str(new)], check=True)
        # Borrow upstream's objects; `git bundle create` packs what the new commits reach, so the bundle
        # is self-contained all the same.
        (new / "objects" / "info" / "alternates").write_text(str(src / "objects") + "\n", encoding="utf-8")
        parent: str | None = None
        entries = []
        for sha in [base, *shas]:
            info = commit_info(src, sha)
            env = {
                "GIT_AUTHOR_NAME": info["author_name"],
                "GIT_AUTHOR_EMAIL": info["author_email"],
                "GIT_AUTHOR_DATE": info["author_date"],
                "GIT_COMMITTER_NAME": info["committer_name"],
                "GIT_COMMITTER_EMAIL": info["committer_email"],
                "GIT_COMMITTER_DATE": info["committer_date"],
            }
            args = ["commit-tree", info["tree"], *(["-p", parent] if parent else []), "-F", "-"]
            new_sha = git(new, *args, env=env, input=info["message"]).strip()
            entry: dict[str, object] = {
                "upstream_sha": info["sha"],
                "bundle_sha": new_sha,
                "tree": info["tree"],
                "subject": info["subject"],
                "message": info["message"],
                "author": f"{info['author_name']} <{info['author_email']}>",
                "date": info["author_date"],
            }
            if sha != base:
                entry["files"] = changed_files(src, info["parents"].split()[0], sha)
            entries.append(entry)
            parent = new_sha
        git(new, "update-ref", "refs/heads/main", str(parent))
        git(new, "update-ref", f"refs/tags/{BASE_TAG}", str(entries[0]["bundle_sha"]))
        bundle = out / BUNDLE_NAME
        git(new, "bundle", "create", str(bundle), "main", BASE_TAG)
        licence = git(src, "show", f"{base}:LICENSE")
    (out / "LICENSE.tomli").write_text(licence, encoding="utf-8")
    manifest: dict[str, object] = {
        "upstream": UPSTREAM,
        "licence": "MIT (LICENSE.tomli, also LICENSE in every tree of the bundle)",
        "bundle": BUNDLE_NAME,
        "branch": "main",
        "base_tag": BASE_TAG,
        "base": entries[0],
        "commits": entries[1:],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return manifest


def check(src: Path, manifest: dict[str, object]) -> None:
    """The project's own tests pass at the base and at every replayed commit; which new tests fail on the base."""
    base = manifest["base"]
    commits = manifest["commits"]
    assert isinstance(base, dict) and isinstance(commits, list)
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for entry in [base, *commits]:
            d = Path(tmp) / entry["upstream_sha"][:12]
            d.mkdir()
            archive = subprocess.run(
                ["git", f"--git-dir={src}", "archive", entry["upstream_sha"]], capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(d)], input=archive.stdout, check=True)
            trees[entry["upstream_sha"]] = d
        base_src = trees[base["upstream_sha"]] / "src"
        for entry in [base, *commits]:
            d = trees[entry["upstream_sha"]]
            own = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                cwd=d,
                env={**env, "PYTHONPATH": str(d / "src")},
                capture_output=True,
                text=True,
            )
            line = own.stdout.strip().splitlines()[-1] if own.stdout.strip() else own.stderr.strip()
            print(f"{entry['upstream_sha'][:12]} own tests: {line}")
            if own.returncode != 0:
                raise SystemExit(f"the test suite fails at {entry['upstream_sha']}")
            if entry is base:
                continue
            on_base = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                cwd=d,
                env={**env, "PYTHONPATH": str(base_src)},
                capture_output=True,
                text=True,
            )
            failed = [ln for ln in on_base.stdout.splitlines() if ln.startswith("FAILED")]
            print(f"{entry['upstream_sha'][:12]} its tests against the base code: {len(failed)} failing {failed}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="a clone of hukkin/tomli (bare or not)")
    parser.add_argument("--base", default=BASE)
    parser.add_argument("--last", default=LAST)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true", help="run tomli's tests at every commit")
    args = parser.parse_args()
    src = resolve_git_dir(args.source)
    base = git(src, "rev-parse", "--verify", f"{args.base}^{{commit}}").strip()
    last = git(src, "rev-parse", "--verify", f"{args.last}^{{commit}}").strip()
    manifest = build(src, base, last, args.out)
    commits = manifest["commits"]
    assert isinstance(commits, list)
    size = (args.out / BUNDLE_NAME).stat().st_size
    print(f"{args.out / BUNDLE_NAME}: {size} bytes, base {base[:12]} + {len(commits)} commits")
    if args.check:
        check(src, manifest)


if __name__ == "__main__":
    main()
