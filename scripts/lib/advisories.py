#!/usr/bin/env python3
"""Checks Cargo.lock against a local snapshot of the RustSec advisory database.

Usage: advisories.py [--lock Cargo.lock] [--db DIR]

DIR is the database's root (its `crates/<name>/RUSTSEC-*.md` files); by default
`$FERRY_SHARED/advisory-db`, else `../shared/advisory-db` beside the repository (CI reaches no
git host, so the snapshot is read from there). Exit status: 0 when no locked crates.io package
has a vulnerability, 1 when one has (each listed), 2 when the lock file or the database cannot be
read. Unmaintained, unsound and other informational advisories are listed as warnings and do
not fail the check. Withdrawn advisories are skipped.

Whether a version is affected follows cargo-audit: it is, unless it matches one of the
advisory's `patched` or `unaffected` requirements. Requirements are Cargo's (the semver crate's
rules, pre-release versions included). Python 3.11+ (tomllib), no other dependency: this costs
well under a second, where building cargo-audit would cost minutes of CI.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"

# --- versions and requirements (Cargo's semver rules) -----------------------------------------

_VERSION = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?"
)
_PARTIAL = re.compile(
    r"(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?)?)?(?:\+[0-9A-Za-z.-]+)?"
)


class Pre(tuple):
    """A pre-release (tuple of identifiers); the empty one (a release) ranks above all others."""

    @staticmethod
    def parse(text: str | None) -> "Pre":
        if not text:
            return Pre(())
        return Pre(int(p) if p.isdigit() else p for p in text.split("."))

    def _key(self):
        # Numeric identifiers rank below alphanumeric ones; a shorter list below a longer one
        # it is a prefix of (semver 2.0.0 section 11).
        return (
            1 if not self else 0,
            tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self),
        )

    def __lt__(self, other):  # type: ignore[override]
        return self._key() < other._key()

    def __gt__(self, other):  # type: ignore[override]
        return self._key() > other._key()

    def __le__(self, other):  # type: ignore[override]
        return self._key() <= other._key()

    def __ge__(self, other):  # type: ignore[override]
        return self._key() >= other._key()


@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: Pre = field(default_factory=lambda: Pre(()))

    @staticmethod
    def parse(text: str) -> "Version":
        m = _VERSION.fullmatch(text.strip())
        if not m:
            raise ValueError(f"not a version: {text!r}")
        return Version(int(m[1]), int(m[2]), int(m[3]), Pre.parse(m[4]))

    def key(self):
        """Sort key: semver precedence."""
        return (self.major, self.minor, self.patch, self.pre._key())

    def __str__(self) -> str:
        pre = "-" + ".".join(map(str, self.pre)) if self.pre else ""
        return f"{self.major}.{self.minor}.{self.patch}{pre}"


@dataclass(frozen=True)
class Comparator:
    op: str  # one of = > >= < <= ~ ^
    major: int
    minor: int | None
    patch: int | None
    pre: Pre

    @staticmethod
    def parse(text: str) -> "Comparator":
        text = text.strip()
        m = re.match(r"(>=|<=|>|<|=|\^|~)?\s*(.*)", text)
        op, rest = (m[1] or "^"), m[2].strip()
        p = _PARTIAL.fullmatch(rest)
        if not p:
            raise ValueError(f"not a version requirement: {text!r}")
        minor = int(p[2]) if p[2] is not None else None
        patch = int(p[3]) if p[3] is not None else None
        return Comparator(op, int(p[1]), minor, patch, Pre.parse(p[4]))

    # The semver crate's matches_* functions, one for one.
    def _exact(self, v: Version) -> bool:
        return (
            v.major == self.major
            and (self.minor is None or v.minor == self.minor)
            and (self.patch is None or v.patch == self.patch)
            and v.pre == self.pre
        )

    def _greater(self, v: Version) -> bool:
        if v.major != self.major:
            return v.major > self.major
        if self.minor is None:
            return False
        if v.minor != self.minor:
            return v.minor > self.minor
        if self.patch is None:
            return False
        if v.patch != self.patch:
            return v.patch > self.patch
        return v.pre > self.pre

    def _less(self, v: Version) -> bool:
        if v.major != self.major:
            return v.major < self.major
        if self.minor is None:
            return False
        if v.minor != self.minor:
            return v.minor < self.minor
        if self.patch is None:
            return False
        if v.patch != self.patch:
            return v.patch < self.patch
        return v.pre < self.pre

    def _tilde(self, v: Version) -> bool:
        if v.major != self.major:
            return False
        if self.minor is not None and v.minor != self.minor:
            return False
        if self.patch is not None and v.patch != self.patch:
            return v.patch > self.patch
        return v.pre >= self.pre

    def _caret(self, v: Version) -> bool:
        if v.major != self.major:
            return False
        if self.minor is None:
            return True
        if self.patch is None:
            return v.minor >= self.minor if self.major > 0 else v.minor == self.minor
        if self.major > 0:
            if v.minor != self.minor:
                return v.minor > self.minor
            if v.patch != self.patch:
                return v.patch > self.patch
        elif self.minor > 0:
            if v.minor != self.minor:
                return False
            if v.patch != self.patch:
                return v.patch > self.patch
        elif v.minor != self.minor or v.patch != self.patch:
            return False
        return v.pre >= self.pre

    def matches(self, v: Version) -> bool:
        return {
            "=": self._exact,
            ">": self._greater,
            ">=": lambda v: self._exact(v) or self._greater(v),
            "<": self._less,
            "<=": lambda v: self._exact(v) or self._less(v),
            "~": self._tilde,
            "^": self._caret,
        }[self.op](v)

    def allows_pre_of(self, v: Version) -> bool:
        """A pre-release matches only a requirement naming a pre-release of the same x.y.z."""
        return (
            self.major == v.major
            and self.minor == v.minor
            and self.patch == v.patch
            and bool(self.pre)
        )


def req_matches(req: str, v: Version) -> bool:
    """Whether `v` matches the requirement `req` (comparators joined by commas)."""
    comparators = [Comparator.parse(c) for c in req.split(",") if c.strip()]
    if not all(c.matches(v) for c in comparators):
        return False
    return not v.pre or any(c.allows_pre_of(v) for c in comparators)


# --- advisories ---------------------------------------------------------------------------------


@dataclass
class Advisory:
    id: str
    package: str
    title: str
    informational: str | None
    patched: list[str]
    unaffected: list[str]
    url: str
    categories: list[str]
    withdrawn: bool
    file: Path

    def affects(self, v: Version) -> bool:
        return not any(req_matches(r, v) for r in self.patched + self.unaffected)


def parse_advisory(path: Path) -> Advisory:
    text = path.read_text(encoding="utf-8")
    m = re.match(r"\s*```toml\n(.*?)\n```\s*\n(.*)", text, re.S)
    if not m:
        raise ValueError(f"{path}: no TOML front matter between ```toml and ```")
    data = tomllib.loads(m[1])
    adv, versions = data.get("advisory", {}), data.get("versions", {})
    title = next(
        (line[2:].strip() for line in m[2].splitlines() if line.startswith("# ")), ""
    )
    return Advisory(
        id=adv["id"],
        package=adv["package"],
        title=title,
        informational=adv.get("informational"),
        patched=list(versions.get("patched", [])),
        unaffected=list(versions.get("unaffected", [])),
        url=adv.get("url", ""),
        categories=list(adv.get("categories", [])),
        withdrawn="withdrawn" in adv,
        file=path,
    )


@dataclass
class Finding:
    advisory: Advisory
    version: str

    def line(self) -> str:
        a = self.advisory
        kind = a.informational or "vulnerability"
        fixed = f"fixed in {', '.join(a.patched)}" if a.patched else "no fixed release"
        if a.unaffected:
            fixed += f" (not affected: {', '.join(a.unaffected)})"
        what = f" ({', '.join(a.categories)})" if a.categories else ""
        return f"{a.id} {a.package} {self.version}: {kind}{what}: {a.title}; {fixed}; {a.url or a.file}"


def locked_packages(lock: Path) -> list[tuple[str, str]]:
    """(name, version) of every crates.io package in a Cargo.lock (workspace and git ones skipped)."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    return sorted(
        (p["name"], p["version"])
        for p in data.get("package", [])
        if p.get("source", "") == CRATES_IO
    )


def check(lock: Path, db: Path) -> tuple[list[Finding], list[Finding]]:
    """(vulnerabilities, informational findings) for the locked packages."""
    crates = db / "crates"
    if not crates.is_dir():
        raise FileNotFoundError(f"{db} holds no crates/ folder: not a RustSec advisory database")
    vulnerable: list[Finding] = []
    informational: list[Finding] = []
    for name, version in locked_packages(lock):
        folder = crates / name
        if not folder.is_dir():
            continue
        v = Version.parse(version)
        for path in sorted(folder.glob("*.md")):
            a = parse_advisory(path)
            if a.withdrawn or a.package != name or not a.affects(v):
                continue
            (informational if a.informational else vulnerable).append(Finding(a, version))
    return vulnerable, informational


def default_db(repo: Path) -> Path:
    shared = os.environ.get("FERRY_SHARED")
    return (Path(shared) if shared else repo.parent / "shared") / "advisory-db"


def main(argv: list[str]) -> int:
    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=repo / "Cargo.lock")
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args(argv)
    db = args.db or default_db(repo)
    try:
        vulnerable, informational = check(args.lock, db)
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as e:
        print(f"advisories: cannot check {args.lock} against {db}: {e}", file=sys.stderr)
        return 2
    for f in informational:
        print(f"warning: {f.line()}")
    for f in vulnerable:
        print(f"error: {f.line()}")
    n = len(locked_packages(args.lock))
    if vulnerable:
        print(
            f"advisories: {len(vulnerable)} vulnerability(ies) in {args.lock.name} "
            f"({n} crates.io packages checked against {db}); upgrade the crates named above"
        )
        return 1
    print(
        f"advisories: no vulnerability in {args.lock.name} ({n} crates.io packages, "
        f"{len(informational)} warning(s))"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
