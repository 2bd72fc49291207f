"""Run the README's Python snippets as a reader does: each in its own interpreter, from the
repository root, where the folder pyprune/ comes first on sys.path and must import as the
installed package does, extension included. A bare `import pyprune, pyprune._core` runs first.

    .venv/bin/python scripts/test-readme-snippets.py

Files the snippets write (model.pyprune) land in the repository root, as they would for a reader.
"""

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def main() -> int:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    checks = [("a bare import", "import pyprune, pyprune._core")]
    for block in PYTHON_BLOCK.finditer(readme):
        checks.append((f"README.md line {readme.count(chr(10), 0, block.start(1)) + 1}", block[1]))
    if len(checks) == 1:
        print("test-readme-snippets: README.md has no ```python block", file=sys.stderr)
        return 1
    for name, code in checks:
        start = time.perf_counter()
        if subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode != 0:
            print(f"test-readme-snippets: {name} FAILED, run from {ROOT}", file=sys.stderr)
            return 1
        print(f"test-readme-snippets: {name}: ok in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
