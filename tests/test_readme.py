"""The README's Python example runs exactly as written and prints what the README says it prints; its
settings table lists every setting."""

import re
import subprocess
import sys

from tests.conftest import REPO

README = REPO / "README.md"


def test_python_example_prints_what_the_readme_shows() -> None:
    section = README.read_text(encoding="utf-8").split("## Python\n", 1)[1].split("\n## ", 1)[0]
    code, shown = re.findall(r"```(?:python)?\n(.*?)```", section, flags=re.DOTALL)[:2]
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout == shown


def test_every_service_setting_is_in_the_readme_table() -> None:
    from app.settings import Settings

    rows = set(re.findall(r"^\| `(NER_[A-Z_]+)` \|", README.read_text(), flags=re.MULTILINE))
    assert rows == {f"NER_{name.upper()}" for name in Settings.model_fields}
