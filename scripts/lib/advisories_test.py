#!/usr/bin/env python3
"""Unit tests of advisories.py: Cargo's requirement rules, the advisory front matter, and whole
checks against a small database and lock file written here (plus the real snapshot's hickory
advisories when it is there). Run: python3 scripts/lib/advisories_test.py"""

import io
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stdout
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import advisories as adv  # noqa: E402

V = adv.Version.parse


class Versions(unittest.TestCase):
    def test_order_follows_semver(self):
        ordered = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
            "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0",
        ]
        shuffled = ordered[5:] + ordered[:5][::-1]
        self.assertEqual([str(v) for v in sorted(map(V, shuffled), key=adv.Version.key)], ordered)
        self.assertLess(adv.Pre.parse("rc.1"), adv.Pre.parse(None), "a release ranks above")
        self.assertLess(adv.Pre.parse("2"), adv.Pre.parse("10"), "numbers compare as numbers")

    def test_bad_versions_are_refused(self):
        for bad in ["1.2", "01.2.3", "1.2.3.4", "x"]:
            with self.assertRaises(ValueError, msg=bad):
                V(bad)
        self.assertEqual(str(V("1.2.3-rc.1+build.5")), "1.2.3-rc.1")


class Requirements(unittest.TestCase):
    def check(self, req, yes, no):
        for v in yes:
            self.assertTrue(adv.req_matches(req, V(v)), f"{v} should match {req}")
        for v in no:
            self.assertFalse(adv.req_matches(req, V(v)), f"{v} should not match {req}")

    def test_comparison_operators(self):
        self.check(">= 0.26.1", ["0.26.1", "0.26.3", "1.0.0"], ["0.26.0", "0.25.2", "0.26.1-alpha.1"])
        self.check("< 0.3.1", ["0.3.0", "0.1.9"], ["0.3.1", "0.4.0"])
        self.check("> 1.2", ["1.3.0", "2.0.0"], ["1.2.9", "1.2.0"])
        self.check("<= 1.2", ["1.2.9", "1.0.0"], ["1.3.0"])
        self.check("> 1", ["2.0.0"], ["1.9.9"])
        self.check("= 0.2.1", ["0.2.1"], ["0.2.2", "0.2.0"])
        self.check("= 1.2", ["1.2.0", "1.2.7"], ["1.3.0"])
        self.check(">= 1.2.3, < 1.3.0", ["1.2.3", "1.2.99"], ["1.3.0", "1.2.2"])

    def test_caret_and_bare_versions(self):
        self.check("^1.2.3", ["1.2.3", "1.9.0"], ["2.0.0", "1.2.2"])
        self.check("1.2.3", ["1.2.3", "1.9.0"], ["2.0.0", "1.2.2"])
        self.check("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"])
        self.check("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"])
        self.check("^1.2", ["1.2.0", "1.5.0"], ["2.0.0", "1.1.9"])
        self.check("^0.2", ["0.2.0", "0.2.9"], ["0.3.0"])
        self.check("^0.0", ["0.0.0", "0.0.9"], ["0.1.0"])
        self.check("^1", ["1.0.0", "1.9.9"], ["2.0.0", "0.9.0"])
        self.check("^0", ["0.0.0", "0.9.9"], ["1.0.0"])

    def test_tilde(self):
        self.check("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"])
        self.check("~1.2", ["1.2.0", "1.2.9"], ["1.3.0"])
        self.check("~1", ["1.0.0", "1.9.0"], ["2.0.0"])

    def test_pre_releases_match_only_a_requirement_naming_one_of_the_same_version(self):
        self.check(">= 0.25.0-alpha.3", ["0.25.0-alpha.3", "0.25.0-beta.1", "0.25.0", "0.26.0"], ["0.25.0-alpha.2", "0.26.0-alpha.1"])
        self.check("< 0.25.0-alpha.3", ["0.24.0", "0.25.0-alpha.2"], ["0.25.0-alpha.3"])
        self.check(">= 0.26.0-beta.1", ["0.26.0-beta.1", "0.26.0", "0.26.3"], ["0.26.0-alpha.9", "0.27.0-beta.1"])


ADVISORY = """```toml
[advisory]
id = "{id}"
package = "{package}"
date = "2026-01-01"
url = "https://example.invalid/{id}"
categories = ["denial-of-service"]
{extra}
[versions]
patched = {patched}
unaffected = {unaffected}
```

# {title}

Body text, with a [link](https://example.invalid) and ``` fences ``` later on.
"""


def lock_text(packages):
    out = ["version = 4", ""]
    for name, version, source in packages:
        out += ["[[package]]", f'name = "{name}"', f'version = "{version}"']
        if source:
            out.append(f'source = "{source}"')
        out.append("")
    return "\n".join(out)


class Checks(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.db = self.dir / "db"

    def tearDown(self):
        self.tmp.cleanup()

    def advisory(self, id, package, patched, unaffected="[]", extra="", title="A flaw"):
        folder = self.db / "crates" / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{id}.md").write_text(
            ADVISORY.format(id=id, package=package, patched=patched, unaffected=unaffected, extra=extra, title=title)
        )

    def lock(self, packages):
        path = self.dir / "Cargo.lock"
        path.write_text(lock_text(packages))
        return path

    def run_main(self, lock):
        out = io.StringIO()
        with redirect_stdout(out):
            code = adv.main(["--lock", str(lock), "--db", str(self.db)])
        return code, out.getvalue()

    def test_a_vulnerable_locked_version_fails_the_check_and_is_named(self):
        self.advisory("RUSTSEC-2026-0119", "hickory-proto", '[">= 0.26.1"]', '["< 0.3.1"]', title="CPU exhaustion")
        lock = self.lock([("hickory-proto", "0.25.2", adv.CRATES_IO), ("ferry-imap", "0.1.0", None)])
        code, out = self.run_main(lock)
        self.assertEqual(code, 1)
        self.assertEqual(
            out.splitlines(),
            [
                "error: RUSTSEC-2026-0119 hickory-proto 0.25.2: vulnerability (denial-of-service): CPU exhaustion; "
                "fixed in >= 0.26.1 (not affected: < 0.3.1); https://example.invalid/RUSTSEC-2026-0119",
                f"advisories: 1 vulnerability(ies) in Cargo.lock (1 crates.io packages checked against {self.db}); upgrade the crates named above",
            ],
        )
        # Patched, or never affected: passes.
        for version in ["0.26.1", "0.3.0"]:
            code, out = self.run_main(self.lock([("hickory-proto", version, adv.CRATES_IO)]))
            self.assertEqual(code, 0, out)

    def test_informational_advisories_are_listed_without_failing(self):
        self.advisory("RUSTSEC-2024-0001", "old-crate", "[]", extra='informational = "unmaintained"', title="old-crate is unmaintained")
        self.advisory("RUSTSEC-2024-0002", "shaky", '[">= 2.0.0"]', extra='informational = "unsound"', title="Unsound iterator")
        code, out = self.run_main(self.lock([("old-crate", "1.0.0", adv.CRATES_IO), ("shaky", "1.5.0", adv.CRATES_IO)]))
        self.assertEqual(code, 0)
        lines = out.splitlines()
        self.assertEqual(lines[0], "warning: RUSTSEC-2024-0001 old-crate 1.0.0: unmaintained (denial-of-service): old-crate is unmaintained; no fixed release; https://example.invalid/RUSTSEC-2024-0001")
        self.assertTrue(lines[1].startswith("warning: RUSTSEC-2024-0002 shaky 1.5.0: unsound"), lines[1])
        self.assertEqual(lines[2], "advisories: no vulnerability in Cargo.lock (2 crates.io packages, 2 warning(s))")

    def test_withdrawn_advisories_and_other_sources_are_skipped(self):
        self.advisory("RUSTSEC-2024-0003", "gone", "[]", extra='withdrawn = "2024-02-01"')
        self.advisory("RUSTSEC-2024-0004", "forked", "[]")
        lock = self.lock([
            ("gone", "1.0.0", adv.CRATES_IO),
            ("forked", "1.0.0", "git+https://example.invalid/forked?rev=abc#abc"),
        ])
        code, out = self.run_main(lock)
        self.assertEqual(code, 0, out)

    def test_an_unreadable_database_or_front_matter_is_an_error_not_a_pass(self):
        lock = self.lock([("x", "1.0.0", adv.CRATES_IO)])
        err = io.StringIO()
        from contextlib import redirect_stderr
        with redirect_stderr(err):
            code, _ = self.run_main(lock)
        self.assertEqual(code, 2)
        self.assertIn("not a RustSec advisory database", err.getvalue())
        (self.db / "crates" / "x").mkdir(parents=True)
        (self.db / "crates" / "x" / "RUSTSEC-2024-0005.md").write_text("no front matter\n")
        with redirect_stderr(io.StringIO()):
            code, _ = self.run_main(lock)
        self.assertEqual(code, 2)


class RealSnapshot(unittest.TestCase):
    """The hickory advisories of the shared snapshot, when it is there."""

    def test_hickory_proto_advisories(self):
        db = adv.default_db(Path(__file__).resolve().parents[2])
        folder = db / "crates" / "hickory-proto"
        if not folder.is_dir():
            self.skipTest(f"no snapshot at {db}")
        ids = lambda v: sorted(a.id for a in map(adv.parse_advisory, folder.glob("*.md")) if a.affects(V(v)) and not a.withdrawn)
        self.assertEqual(ids("0.25.2"), ["RUSTSEC-2026-0118", "RUSTSEC-2026-0119"])
        self.assertEqual(ids("0.26.1"), [])


if __name__ == "__main__":
    unittest.main(verbosity=1)
