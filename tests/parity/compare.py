#!/usr/bin/env python3
"""The cross-language parity check (see README.md beside this file).

Reads target/parity/{python,node,kotlin}.json (written by each binding's test suite), asks the core for its
expectation for each language (`cargo run -p confirma --features ffi --example parity -- <language>`), and
checks (1) every language against the core's expectation for it (the language's units and option names), and
(2) the three languages against each other (codes, kinds, every error field, every effective configuration).
Prints one line per check and a closing `N passed, N failed` line; exits 1 on any failure.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LANGUAGES = ["python", "node", "kotlin"]
UA_PREFIX = re.compile(r"^([a-z]+)/\S+ confirma-\1/\S+")

passed = 0
failed = 0


def check(ok, label, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {label}{': ' + detail if detail else ''}")


def normalize_config(outcome):
    """The user agent's binding part (language and versions differ by design) becomes `<binding>`."""
    outcome = json.loads(json.dumps(outcome))
    cfg = outcome.get("config")
    if isinstance(cfg, dict) and isinstance(cfg.get("userAgentSuffix"), str):
        cfg["userAgentSuffix"] = UA_PREFIX.sub("<binding>", cfg["userAgentSuffix"])
    return outcome


def diff(a, b, path=""):
    """The first difference between two JSON values, as text (None if equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return f"{path}.{k}: missing (expected {json.dumps(b[k])[:120]})"
            if k not in b:
                return f"{path}.{k}: unexpected key"
            d = diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if a != b:
        return f"{path or '.'}: {json.dumps(a)[:160]} != expected {json.dumps(b)[:160]}"
    return None


def expectation(language):
    out = subprocess.run(
        ["cargo", "run", "-q", "--locked", "-p", "confirma", "--features", "ffi", "--example", "parity", "--",
         language, os.path.join(ROOT, "tests", "parity", "configs.json")],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    return json.loads(out.stdout)


def main():
    cases = json.load(open(os.path.join(ROOT, "tests", "parity", "configs.json")))["cases"]
    got = {}
    for lang in LANGUAGES:
        path = os.path.join(ROOT, "target", "parity", f"{lang}.json")
        if not os.path.exists(path):
            check(False, f"{lang}: {path} exists", "run the binding's test suite first (./scripts/test " + lang + ")")
            continue
        got[lang] = json.load(open(path))
        want = expectation(lang)
        for name, expected in want["errors"].items():
            actual = got[lang].get("errors", {}).get(name)
            d = "missing" if actual is None else diff(actual, expected)
            check(d is None, f"{lang}: error {name}", d or "")
        for name in got[lang].get("errors", {}):
            check(name in want["errors"], f"{lang}: error {name} is a core sample")
        for case in cases:
            name = case["name"]
            actual = got[lang].get("configs", {}).get(name)
            expected = want["configs"][name]
            if actual is None:
                check(False, f"{lang}: config {name}", "missing")
                continue
            if "skipped" in expected:
                check("skipped" in actual, f"{lang}: config {name} skipped", case["skip"][lang])
                continue
            d = diff(normalize_config(actual), normalize_config(expected))
            check(d is None, f"{lang}: config {name}", d or "")

    # Across languages: every error field identical; every configuration outcome identical apart from the
    # option names in messages (checked per language above) and the binding's part of the user agent.
    langs = [lang for lang in LANGUAGES if lang in got]
    for a, b in zip(langs, langs[1:]):
        for name, ea in got[a].get("errors", {}).items():
            eb = got[b].get("errors", {}).get(name)
            d = "missing" if eb is None else diff(ea, eb)
            check(d is None, f"{a} = {b}: error {name}", d or "")
        for case in cases:
            name = case["name"]
            oa = normalize_config(got[a].get("configs", {}).get(name, {}))
            ob = normalize_config(got[b].get("configs", {}).get(name, {}))
            if "skipped" in oa or "skipped" in ob:
                continue
            oa.pop("message", None)
            ob.pop("message", None)
            d = diff(oa, ob)
            check(d is None, f"{a} = {b}: config {name}", d or "")
    print(f"parity: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
