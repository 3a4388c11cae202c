"""Installed the way Python users install tools: a wheel built from the tracked sources, put in a
fresh virtual environment, runs ``tt-host`` from an unrelated folder without the checkout.

The wheel carries the firmware SDK (``tt_host/sdk``, see setup.py); the installed package finds
it there and builds into ``$TT_HOME/build/<version>``. Checked end to end: ``tt-host compile``
(the planner builds the host library from the packaged sources), ``tt-host demo --board host``
(builds and boots the host twin, trains, pulls the deltas) and ``tt-host build --board
f746-qemu`` (the Arm image, where the toolchain is installed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tt_host.paths import REPO_ROOT

pytestmark = [
    pytest.mark.skipif(shutil.which("cmake") is None or not any(shutil.which(c) for c in ("cc", "gcc")),
                       reason="needs cmake and a C compiler (scripts/setup.sh installs them)"),
    pytest.mark.skipif(not (REPO_ROOT / ".git").exists() or shutil.which("git") is None,
                       reason="builds the wheel from the checkout's tracked files (needs git and a checkout)"),
]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _has_setuptools(major: int) -> bool:
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= major


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(the venv's bin folder, the environment to run it in, an unrelated working folder)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # Only what git tracks goes into the wheel: no build outputs, no local leftovers.
    src = tmp / "src"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (REPO_ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, src / name)
    env = {k: v for k, v in os.environ.items() if k not in ("TT_ROOT", "TT_BUILD", "TT_LIBTT", "PYTHONPATH")}
    dist = tmp / "dist"
    # This interpreter's setuptools builds it when it has one recent enough; else pip fetches one.
    isolation = ["--no-build-isolation"] if _has_setuptools(68) else []
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", str(src), "-w", str(dist)], tmp, env)
    # The dependencies come from this interpreter's site-packages; tt-host itself only from the wheel,
    # installed by this interpreter's pip into the venv (no ensurepip needed there).
    venv.create(tmp / "venv", system_site_packages=True, with_pip=False)
    bin_dir = tmp / "venv" / "bin"
    _run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "--no-deps", "--no-index", "-q",
          *map(str, dist.glob("*.whl"))], tmp, env)
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    env = {**env, "TT_HOME": str(tmp / "home"), "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}
    return bin_dir, env, elsewhere


def test_the_installed_package_uses_its_own_sdk(installed) -> None:
    bin_dir, env, cwd = installed
    out = _run([str(bin_dir / "python"), "-c", "import json, tt_host, tt_host.paths as p; print(json.dumps("
                "[tt_host.__file__, str(p.REPO_ROOT), str(p.build_root())]))"], cwd, env).stdout
    package, sdk, build = json.loads(out)
    assert Path(package).is_relative_to(bin_dir.parent), "imported the checkout, not the wheel"
    assert sdk == str(Path(package).parent / "sdk") and (Path(sdk) / "firmware" / "src" / "executor.c").is_file()
    assert Path(build).is_relative_to(env["TT_HOME"])


def test_compile_and_demo_run_from_the_wheel(installed, tmp_path: Path) -> None:
    bin_dir, env, cwd = installed
    tt = str(bin_dir / "tt-host")
    sdk = Path(json.loads(_run([str(bin_dir / "python"), "-c", "import json, tt_host.paths as p; "
                                "print(json.dumps(str(p.REPO_ROOT)))"], cwd, env).stdout))
    model = sdk / "examples" / "demo_model" / "fmnist6-demo-int8.tflite"
    _run([tt, "compile", str(model), "--scheme", "bias-only", "--classes", "4", "--lr", "0.003", "--out",
          str(tmp_path / "plan")], cwd, env)
    assert (tmp_path / "plan" / "plan.bin").is_file()
    demo = _run([tt, "demo", "--board", "host", "--epochs", "1", "--out", str(tmp_path / "demo")], cwd, env)
    assert "held-out accuracy" in demo.stdout
    assert (tmp_path / "demo" / "deltas.bin").is_file() and (tmp_path / "demo" / "adapted.tflite").is_file()


@pytest.mark.arm
def test_arm_build_from_the_wheel(installed) -> None:
    bin_dir, env, cwd = installed
    elf = Path(_run([str(bin_dir / "tt-host"), "build", "--board", "f746-qemu"], cwd, env).stdout.strip())
    assert elf.is_file() and elf.is_relative_to(env["TT_HOME"])
