"""The yoi test matrix: every package alone, with and without each optional feature.

Each ``tests`` session installs one package (with the named extras) and only its local sibling
dependencies into a fresh environment, so an import the package does not declare fails there.
``nox`` with no arguments runs the whole default matrix; ``nox -l`` lists it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ROOT / "packages"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "lint", "typecheck", "wheels"]

TEST_TOOLS = ["pytest>=8", "hypothesis>=6.100"]
#: Extra test-only tools a feature needs (the OpenAPI conformance check, for instance).
FEATURE_TEST_TOOLS = {
    ("worker-runtime", "http-server"): ["schemathesis>=4"],
}
#: Local sibling packages each package (and each of its extras) depends on.
LOCAL_DEPENDENCIES: dict[str, dict[str, list[str]]] = {
    "pod-store": {"": []},
    "session-store": {"": []},
    "worker-runtime": {"": [], "fs-store": ["pod-store", "session-store"], "http-server": []},
    "yoi-cli": {"": ["pod-store", "session-store"], "runtime": ["worker-runtime"]},
}
#: The extras ``yoi-cli[runtime]`` pulls in from worker-runtime.
EXTRAS_OF_LOCAL = {("yoi-cli", "runtime"): {"worker-runtime": ["fs-store", "http-server"]}}

#: (package, features): the matrix of the ``tests`` session.
MATRIX: list[tuple[str, tuple[str, ...]]] = [
    ("pod-store", ()),
    ("session-store", ()),
    ("worker-runtime", ()),
    ("worker-runtime", ("fs-store",)),
    ("worker-runtime", ("http-server",)),
    ("worker-runtime", ("fs-store", "http-server")),
    ("yoi-cli", ()),
    ("yoi-cli", ("runtime",)),
]


def _requirement(package: str, extras: list[str]) -> str:
    path = PACKAGES / package
    return f"{path}[{','.join(extras)}]" if extras else str(path)


def _install_package(
    session: nox.Session, package: str, features: tuple[str, ...], *, editable: bool = True
) -> None:
    """Install a package with its features and exactly the local siblings those need."""
    local_extras: dict[str, list[str]] = {}
    for feature in ("", *features):
        for sibling in LOCAL_DEPENDENCIES[package].get(feature, []):
            local_extras.setdefault(sibling, [])
        for sibling, extras in EXTRAS_OF_LOCAL.get((package, feature), {}).items():
            local_extras.setdefault(sibling, []).extend(extras)
    for sibling, extras in list(local_extras.items()):
        for extra in extras:  # a sibling's extras may need further siblings
            for further in LOCAL_DEPENDENCIES[sibling].get(extra, []):
                local_extras.setdefault(further, [])
    args: list[str] = []
    for sibling, extras in sorted(local_extras.items()):
        args.append(_requirement(sibling, extras))
    target = _requirement(package, list(features))
    args += ["-e", target] if editable else [target]
    session.install(*args)


def _label(package: str, features: tuple[str, ...]) -> str:
    return f"{package}[{','.join(features)}]" if features else package


@nox.session
@nox.parametrize(
    ("package", "features"),
    [nox.param(package, features, id=_label(package, features)) for package, features in MATRIX],
)
def tests(session: nox.Session, package: str, features: tuple[str, ...]) -> None:
    """Run one package's tests with exactly the given features installed."""
    _install_package(session, package, features)
    tools = list(TEST_TOOLS)
    for feature in features:
        tools += FEATURE_TEST_TOOLS.get((package, feature), [])
    session.install(*tools)
    if package == "yoi-cli":
        # A third-party plugin, installed like any other distribution, proves the entry points.
        session.install(str(PACKAGES / "yoi-cli" / "tests" / "example-plugin"))
    session.run(
        "pytest",
        str(PACKAGES / package / "tests"),
        *session.posargs,
        env={"YOI_TEST_FEATURES": ",".join(features)},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's sources and tests."""
    _install_package(session, "yoi-cli", ("runtime",))
    session.install("mypy", *TEST_TOOLS, "schemathesis>=4", "httpx")
    for package in sorted(LOCAL_DEPENDENCIES):
        session.run(
            "mypy",
            "--config-file",
            str(ROOT / "mypy.ini"),
            str(PACKAGES / package / "src"),
            str(PACKAGES / package / "tests"),
        )
    session.run("mypy", "--config-file", str(ROOT / "mypy.ini"), str(ROOT / "bench"))


@nox.session
def wheels(session: nox.Session) -> None:
    """Build every wheel, install them (not editable) in a fresh env and run ``yoi`` from there."""
    session.install("build")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for package in sorted(LOCAL_DEPENDENCIES):
        session.run(
            "python", "-m", "build", "--wheel", "--outdir", str(dist), str(PACKAGES / package)
        )
    built = sorted(str(path) for path in dist.glob("*.whl"))
    session.install(*(f"{path}[runtime]" if "/yoi_cli-" in path else path for path in built))
    session.run("yoi", "--help")
    session.run("yoi", "plugins")
    session.run("python", "-c", "import yoi_worker_runtime, yoi_pod_store, yoi_session_store")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ (not part of the default run)."""
    _install_package(session, "yoi-cli", ("runtime",))
    for script in sorted((ROOT / "bench").glob("*.py")):
        if script.name.startswith("_"):
            continue
        if session.posargs and script.stem not in session.posargs:
            continue
        session.run("python", str(script))


def _postgres_bin_dir(session: nox.Session) -> Path:
    """Debian's PostgreSQL server binaries, installed from the archive when missing."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        session.log("PostgreSQL server binaries not found; installing Debian's postgresql")
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", "-q", external=True, env=apt_env)
        session.run("apt-get", "install", "-y", "-q", "postgresql", external=True, env=apt_env)
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not candidates:
        session.error("no PostgreSQL server binaries (initdb) after installing postgresql")
    return Path(candidates[-1]).parent


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def postgres_server(session: nox.Session) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback; yields its URL and stops it afterwards."""
    bin_dir = _postgres_bin_dir(session)
    root = Path(tempfile.mkdtemp(prefix="yoi-pg-"))
    # initdb refuses to run as root: the cluster belongs to an unprivileged user.
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "nobody", "nogroup")
        as_user = ["runuser", "-u", "nobody", "--"]
    data, port = root / "data", _free_loopback_port()
    run = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "yoi",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    subprocess.run(
        [*run, "-l", str(root / "server.log"), "-o", options, "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://yoi@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
