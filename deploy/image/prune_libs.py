"""Removes extension modules of a package that Mizual never loads, and then every library its
wheel bundled that no remaining module needs.

    python3 prune_libs.py SITE_PACKAGES PACKAGE LIBS_FOLDER MODULE_GLOB...
    python3 prune_libs.py /opt/venv/lib/python3.11/site-packages PIL pillow.libs '_avif.*.so'

(build stage only: needs readelf). What is kept is worked out from the ELF files themselves
(DT_NEEDED, transitively), so a library still needed is never removed; a package or folder
that is not there, or a missing readelf, changes nothing. The wheel's RECORD loses the removed
files, so that its metadata stays true to what is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path


def needed(elf: Path) -> list[str]:
    text = subprocess.run(["readelf", "-d", str(elf)], check=True, capture_output=True,
                          text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", text)


def main(site: Path, package: str, libs_name: str, globs: list[str]) -> None:
    folder, libs = site / package, site / libs_name
    if not folder.is_dir() or not libs.is_dir() or shutil.which("readelf") is None:
        print(f"prune_libs: {package} left as installed (no {folder} or {libs}, or no readelf)")
        return
    dropped = [p for pattern in globs for p in folder.glob(pattern) if p.is_file()]
    for path in dropped:
        path.unlink()
    bundled = {p.name for p in libs.iterdir()}
    todo = [n for p in folder.rglob("*.so*") if p.is_file() for n in needed(p) if n in bundled]
    kept: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in kept:
            kept.add(name)
            todo += [n for n in needed(libs / name) if n in bundled and n not in kept]
    unused = [libs / n for n in sorted(bundled - kept)]
    for path in unused:
        path.unlink()
    gone = {p.relative_to(site).as_posix() for p in dropped + unused}
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines()
        if any(line.split(",", 1)[0] in gone for line in lines):
            record.write_text("\n".join(l for l in lines if l.split(",", 1)[0] not in gone) + "\n")
    size = sum(p.stat().st_size for p in libs.iterdir()) // 2**20
    print(f"prune_libs: {package}: removed {', '.join(p.name for p in dropped) or 'no module'} and "
          f"{', '.join(p.name for p in unused) or 'no library'}; {libs_name} is {size} MB")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:])
