"""Skipping a test (exit 77: ctest SKIP) when something it needs is missing,
for the Python integration tests. Under CI (CI set, not "false" or "0")
nothing may skip: CI installs every package of firmware/packages-build.txt and
builds with every library, so a missing tool or module is a broken setup and
fails, naming the Debian package to install. The shell tests' twin: need.sh."""
import importlib
import os
import shutil
import sys


def in_ci():
    return os.environ.get("CI", "") not in ("", "false", "0")


def skip(why):
    """Skip the whole test (exit 77); under CI fail (exit 1)."""
    if in_ci():
        print("FAIL: %s (CI=%s: no test may be skipped)" % (why, os.environ["CI"]), flush=True)
        sys.exit(1)
    print("skip:", why, flush=True)
    sys.exit(77)


def _missing(what, package):
    if in_ci():
        print("FAIL: %s missing: apt-get install %s" % (what, package), flush=True)
        sys.exit(1)
    print("skip: %s missing (apt-get install %s)" % (what, package), flush=True)
    sys.exit(77)


def need_tool(tool, package):
    """TOOL on PATH (or in /usr/sbin, /sbin), else skip, or under CI fail naming PACKAGE."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    if not shutil.which(tool, path=path):
        _missing(tool, package)
    return shutil.which(tool, path=path)


def need_module(module, package):
    """Python MODULE importable (a Debian python3-* package), else as need_tool."""
    try:
        return importlib.import_module(module)
    except ImportError:
        _missing("python module " + module, package)
