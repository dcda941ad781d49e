"""`pip install .` (not only editable) must carry templates/ and migrations/."""

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_carries_templates_and_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("mailer-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mailer/_data/migrations/env.py" in names
    assert any(n.startswith("mailer/_data/migrations/versions/0001") for n in names)
    assert any(n.startswith("mailer/_data/templates/") for n in names)
    assert "subscribers/importer.py" in names

    # Installed from the wheel (unpacked; dependencies from this environment),
    # the package finds its data inside itself, not in the source tree.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from mailer.resources import migrations_dir, templates_dir;"
        "print(migrations_dir()); print(templates_dir())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(site)],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert out == [str(site / "mailer/_data/migrations"), str(site / "mailer/_data/templates")]
