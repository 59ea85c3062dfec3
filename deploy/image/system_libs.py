"""Points a wheel's bundled copies of system libraries at the image's own (Debian's) copies.

    python3 system_libs.py VENV LIBS_FOLDER CHECK_CODE NAME...
    python3 system_libs.py /opt/venv psycopg_binary.libs 'import psycopg_binary.pq' libssl libcrypto

(build stage only: needs readelf and ldconfig.) psycopg-binary bundles OpenSSL and Kerberos
(about 8 MB) that the image has anyway: Debian's python3 depends on libssl3 and, through
libtirpc3, on the Kerberos libraries, so the final stage, built from the same base, has the very
files this links to. Each bundled file NAME-<hash>.so.N named on the command line becomes a
symbolic link to the system's NAME.so.N (its major version must match); then the bundled
libraries no remaining one needs are deleted. CHECK_CODE is run with the venv's Python
afterwards: when it fails (a symbol or symbol version the system copy lacks: the dynamic
linker refuses the load), every file is put back and nothing changes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def needed(elf: Path) -> list[str]:
    text = subprocess.run(["readelf", "-d", str(elf)], check=True, capture_output=True,
                          text=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", text)


def system_libraries() -> dict[str, str]:
    """soname -> path, from the dynamic linker's cache (this machine's architecture only)."""
    text = subprocess.run(["ldconfig", "-p"], check=True, capture_output=True, text=True).stdout
    found: dict[str, str] = {}
    for name, path in re.findall(r"^\s+(\S+) \([^)]*\) => (\S+)$", text, re.M):
        found.setdefault(name, path)
    return found


def main(venv: Path, libs_name: str, check: str, names: list[str]) -> None:
    site = next(iter(sorted(venv.glob("lib/python3*/site-packages"))), None)
    libs = site / libs_name if site else None
    if libs is None or not libs.is_dir() or not all(shutil.which(t) for t in ("readelf", "ldconfig")):
        print(f"system_libs: {libs_name} left as bundled (no such folder, or no readelf/ldconfig)")
        return
    system = system_libraries()
    linked: dict[Path, str] = {}
    for path in sorted(libs.iterdir()):
        match = re.fullmatch(r"(lib[\w+]+?)-[0-9a-f]{8}\.so\.(\d+)(?:\.[\d.]+)?", path.name)
        if match and match.group(1) in names and not path.is_symlink():
            target = system.get(f"{match.group(1)}.so.{match.group(2)}")
            if target and Path(target).exists():
                linked[path] = target  # the soname's path: it survives Debian updates
    if not linked:
        print(f"system_libs: {libs_name} left as bundled (no system copy of {', '.join(names)})")
        return
    python = str(venv / "bin/python")
    with tempfile.TemporaryDirectory() as scratch:
        backup = Path(scratch)
        for path, target in linked.items():
            shutil.move(str(path), backup / path.name)
            path.symlink_to(target)
        # What the package's modules still load from the folder (not through the links).
        package_elves = [p for p in site.rglob("*.so*")
                         if p.is_file() and not p.is_symlink() and libs not in p.parents]
        bundled = {p.name for p in libs.iterdir()}
        todo = [n for p in package_elves for n in needed(p) if n in bundled]
        kept: set[str] = set()
        while todo:
            name = todo.pop()
            if name not in kept:
                kept.add(name)
                if not (libs / name).is_symlink():
                    todo += [n for n in needed(libs / name) if n in bundled and n not in kept]
        unused = [libs / n for n in sorted(bundled - kept)]
        for path in unused:
            shutil.move(str(path), backup / path.name)
        done = subprocess.run([python, "-c", check], capture_output=True, text=True)
        if done.returncode != 0:
            for path in list(linked) + unused:
                if path.is_symlink():
                    path.unlink()
                shutil.move(str(backup / path.name), path)
            why = (done.stderr.strip().splitlines() or ["?"])[-1]
            print(f"system_libs: {libs_name} left as bundled: the check failed with them ({why})")
            return
    gone = {p.relative_to(site).as_posix() for p in unused}
    for record in site.glob("*.dist-info/RECORD"):
        lines = record.read_text().splitlines()
        if any(line.split(",", 1)[0] in gone for line in lines):
            record.write_text("\n".join(l for l in lines if l.split(",", 1)[0] not in gone) + "\n")
    size = sum(p.stat().st_size for p in libs.iterdir() if not p.is_symlink()) // 2**20
    print(f"system_libs: {libs_name}: "
          + ", ".join(f"{p.name} -> {t}" for p, t in linked.items())
          + f"; removed {', '.join(p.name for p in unused) or 'nothing'}; now {size} MB")


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:])
