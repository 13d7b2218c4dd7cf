"""Code assets built at synth time without Docker: the Lambda package and the notebook bundle.

Both are ``BundlingOptions.local`` bundlers (``ILocalBundling`` implemented in Python), so CDK
stages them into ``cdk.out/asset.<hash>`` and skips the build when that hash already exists.
The hash is ours: a digest of the sources that go in plus the build mode, so an unrelated file
in the repository never changes an asset.

Dependencies are installed from PyPI for the Lambda platform (``pip install --platform
manylinux... --only-binary=:all: --target``): wheels only, no compiler, no Docker. With context
``skipDependencyBundling=true`` (the tests, or a template-only synth without a package index)
the assets hold only our own source: such a synth is NOT deployable, and says so in the asset.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

REPO = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO / "functions" / "trailhound"
SQL_DIR = REPO / "sql"
NOTEBOOKS_DIR = REPO / "notebooks"
PYPROJECT = REPO / "pyproject.toml"

# The Lambda runtime's Python: the one CI tests the package on (requires-python >= 3.11).
LAMBDA_PYTHON = "3.11"
# Wheels are resolved for these platform tags (x86_64; the Lambda runtime's glibc is newer).
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
# The notebook kernel's Python is whatever the SageMaker platform ships (3.11 or later): the
# bundle carries wheels for each, and pip picks the matching ones on the instance.
NOTEBOOK_PYTHONS = ("3.11", "3.12", "3.13")
# Provided by the Lambda runtime; bundling it would add ~25 MB for no gain.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore"})
NOT_DEPLOYABLE_NOTE = "SKIPPED-DEPENDENCIES.txt"

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".DS_Store")


class BundlingError(RuntimeError):
    """Building an asset failed; the message says which step and how to synth without it."""


def runtime_requirements(*, include_runtime_provided: bool) -> list[str]:
    """The package's runtime dependencies, from ``pyproject.toml`` (the one list of them)."""
    deps: list[str] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    if include_runtime_provided:
        return list(deps)
    return [d for d in deps if _dist_name(d) not in RUNTIME_PROVIDED]


def notebook_requirements() -> list[str]:
    """The ``notebooks`` extra (pandas, matplotlib, ipywidgets, ...): what the playbooks import."""
    extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"].get("optional-dependencies", {})
    return list(extras.get("notebooks", []))


def _dist_name(requirement: str) -> str:
    name = requirement
    for sep in "<>=!~[; ":
        name = name.split(sep, 1)[0]
    return name.strip().lower()


def _digest(paths: Iterable[Path], *extra: str) -> str:
    h = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc" or ".egg-info" in str(f):
                continue
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    for e in extra:
        h.update(e.encode())
    return h.hexdigest()


@jsii.implements(ILocalBundling)
class _LocalBuild:
    """Runs a Python build function into CDK's bundling output directory."""

    def __init__(self, build: Callable[[Path], None]) -> None:
        self._build = build

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:  # noqa: ARG002
        self._build(Path(output_dir))
        return True


def _bundling(build: Callable[[Path], None]) -> BundlingOptions:
    # The image is never pulled: the local bundler always succeeds or raises.
    return BundlingOptions(image=DockerImage.from_registry("unused-local-bundling-only"), local=_LocalBuild(build))


def _pip(args: list[str], what: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise BundlingError(f"bundling {what}: pip failed ({' | '.join(tail)}); synth with "
                            "-c skipDependencyBundling=true for a template-only (not deployable) synth")


def _platform_args(python_version: str) -> list[str]:
    args = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version]
    for p in PLATFORMS:
        args += ["--platform", p]
    return args


def _copy_source(dest: Path) -> None:
    """``trailhound/`` with the SQL inside it at ``trailhound/_sql`` (where ``sql_dir()`` looks)."""
    shutil.copytree(PACKAGE_DIR, dest / "trailhound", ignore=_IGNORE, dirs_exist_ok=True)
    # Detection and investigation SQL only: the fixtures are test data.
    shutil.copytree(SQL_DIR, dest / "trailhound" / "_sql", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".DS_Store", "fixtures"))


def _mark_not_deployable(dest: Path) -> None:
    (dest / NOT_DEPLOYABLE_NOTE).write_text(
        "Synthesized with skipDependencyBundling=true: third-party packages are missing.\n"
        "Do not deploy this asset; run `make synth` (or cdk deploy) without that flag.\n", encoding="utf-8")


def lambda_code(skip_dependencies: bool) -> lambda_.Code:
    """One asset for every TrailHound Lambda: our package, the SQL, and its dependencies."""

    def build(out: Path) -> None:
        _copy_source(out)
        if skip_dependencies:
            _mark_not_deployable(out)
            return
        _pip(["install", "--target", str(out), "--upgrade", "--no-compile", *_platform_args(LAMBDA_PYTHON),
              *runtime_requirements(include_runtime_provided=False)], "the Lambda package")
        for cache in out.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)

    digest = _digest([PACKAGE_DIR, SQL_DIR, PYPROJECT], f"lambda:{LAMBDA_PYTHON}:{PLATFORMS}:{skip_dependencies}")
    return lambda_.Code.from_asset(str(PACKAGE_DIR), asset_hash_type=AssetHashType.CUSTOM, asset_hash=digest,
                                   bundling=_bundling(build))


def notebook_bundle(scope: Construct, construct_id: str, skip_dependencies: bool) -> s3_assets.Asset:
    """A zip with ``notebooks/``, ``functions/trailhound``, ``sql/``, ``requirements.txt`` (the
    package's), ``requirements-notebooks.txt`` (the ``notebooks`` extra) and a wheelhouse
    (``wheels/``) for both, so the notebook instance installs without internet access."""

    def build(out: Path) -> None:
        (out / "notebooks").mkdir()
        if NOTEBOOKS_DIR.is_dir():
            shutil.copytree(NOTEBOOKS_DIR, out / "notebooks", ignore=_IGNORE, dirs_exist_ok=True)
        shutil.copytree(PACKAGE_DIR, out / "functions" / "trailhound", ignore=_IGNORE)
        shutil.copytree(SQL_DIR, out / "sql", ignore=_IGNORE)
        requirements = runtime_requirements(include_runtime_provided=True)
        extras = notebook_requirements()
        (out / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (out / "requirements-notebooks.txt").write_text("\n".join(extras) + "\n", encoding="utf-8")
        (out / "wheels").mkdir()
        if skip_dependencies:
            _mark_not_deployable(out)
            return
        for version in NOTEBOOK_PYTHONS:
            _pip(["download", "--dest", str(out / "wheels"), *_platform_args(version), *requirements, *extras],
                 f"the notebook wheelhouse for Python {version}")

    digest = _digest([PACKAGE_DIR, SQL_DIR, PYPROJECT, NOTEBOOKS_DIR] if NOTEBOOKS_DIR.is_dir()
                     else [PACKAGE_DIR, SQL_DIR, PYPROJECT],
                     f"notebook:{NOTEBOOK_PYTHONS}:{PLATFORMS}:{skip_dependencies}")
    return s3_assets.Asset(scope, construct_id, path=str(REPO / "notebooks" if NOTEBOOKS_DIR.is_dir() else PACKAGE_DIR),
                           asset_hash_type=AssetHashType.CUSTOM, asset_hash=digest, bundling=_bundling(build))
