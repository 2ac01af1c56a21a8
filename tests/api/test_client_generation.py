"""The client generators that mobile and integration teams use run cleanly on the document."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
# Pinned like a lock file would: the versions these checks were written against.
OPENAPI_TYPESCRIPT = "openapi-typescript@7.13.0"
TYPESCRIPT = "typescript@5.9.3"


@pytest.fixture
def document(client, tmp_path: Path) -> Path:
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(client.get("/api/v1/openapi.json").json))
    return path


def test_the_python_client_generator_builds_an_importable_client(document: Path, tmp_path: Path):
    out = tmp_path / "client"
    command = [str(BIN / "openapi-python-client"), "generate", "--path", str(document)]
    run = subprocess.run(
        [*command, "--meta", "none", "--output-path", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # The generator skips request bodies of types it has no model for (a zip package, a CSV
    # roster); each of those operations also takes multipart/form-data, which it does generate.
    warnings = re.findall(r"^WARNING parsing (.+?) within .+?\n\n(.+?)$", run.stdout, re.M)
    for operation, reason in warnings:
        assert reason.startswith("Unsupported content type"), (operation, reason)
    imported = subprocess.run(
        [sys.executable, "-c", "import client.api.auth.post_api_v1_auth_login"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr


def test_the_typescript_generator_builds_types_that_compile(document: Path, tmp_path: Path):
    npx = shutil.which("npx")
    if npx is None:
        if os.environ.get("CI"):
            pytest.fail("npx (Node.js) is needed in CI for the TypeScript client check")
        pytest.skip("npx (Node.js) is not installed")
    types = tmp_path / "api.d.ts"
    generate = subprocess.run(
        [npx, "--yes", OPENAPI_TYPESCRIPT, str(document), "-o", str(types)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert generate.returncode == 0, generate.stdout + generate.stderr
    assert "export interface paths" in types.read_text()
    compile_ = subprocess.run(
        [npx, "--yes", "-p", TYPESCRIPT, "tsc", "--noEmit", "--strict", str(types)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert compile_.returncode == 0, compile_.stdout + compile_.stderr
