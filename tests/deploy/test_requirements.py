"""The lock files: every declared package is pinned to the same version in its lock, every locked package
carries hashes, and the runtime and development locks agree wherever they share a package."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def declared(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[_name(match[1])] = match[2]
    return pins


def locked(path: Path) -> dict[str, list[str]]:
    """Package → [version, hashes...] from a pip-compile lock file."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _name(match[1])
            entries[current] = [match[2]]
        elif current and line.strip().startswith("--hash=sha256:"):
            entries[current].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
    return entries


@pytest.mark.parametrize(
    ("source", "lock"), [("requirements.in", "requirements.txt"), ("requirements-dev.in", "requirements-dev.txt")]
)
def test_each_declared_package_is_locked_at_its_pin(source, lock):
    pins = declared(ROOT / source)
    entries = locked(ROOT / lock)
    assert pins, f"{source} declares no pinned package"
    for name, version in pins.items():
        assert name in entries, f"{name} is declared in {source} but missing from {lock}"
        assert entries[name][0] == version, f"{name}: {source} pins {version}, {lock} has {entries[name][0]}"


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_locked_package_has_hashes(lock):
    entries = locked(ROOT / lock)
    unhashed = [name for name, (_version, *hashes) in entries.items() if not hashes]
    assert not unhashed, f"{lock}: no hash for {unhashed}"
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for _v, *hashes in entries.values() for h in hashes)


def test_runtime_and_development_locks_agree():
    runtime, development = locked(ROOT / "requirements.txt"), locked(ROOT / "requirements-dev.txt")
    differ = {name: (runtime[name][0], development[name][0]) for name in runtime.keys() & development.keys()}
    assert {name: pair for name, pair in differ.items() if pair[0] != pair[1]} == {}
