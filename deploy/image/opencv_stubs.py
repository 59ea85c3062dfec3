"""Replaces what OpenCV bundles for video I/O, AVIF and LAPACK with small stub libraries.

    python3 opencv_stubs.py /opt/venv [opencv] [pillow]    (build stage: needs nm, readelf, gcc)

opencv-python-headless links cv2.abi3.so against FFmpeg (libavcodec, libavformat, libavutil,
libswscale and, through them, libaom, libvpx, libdav1d, libswresample, libssl, libcrypto,
libdrm), libavif and OpenBLAS (with libgfortran and libquadmath): about 83 MB of the wheel's
opencv_python_headless.libs. Mizual uses none of it: pyvips reads and writes images, and the
OpenCV functions it calls (filters, grabCut, connected components, Haar cascades) do not
reach FFmpeg, libavif or LAPACK.

Python loads extensions with RTLD_NOW, so every symbol cv2.abi3.so imports must still resolve.
For each of those libraries this writes one of the same file name and SONAME that defines
exactly the symbols cv2.abi3.so takes from it, with the same symbol versions (a linker version
script), functions as "print one line, then abort()" and data objects as zeroes of the
original size; then it deletes the libraries nothing needs any more. A call into a stub ends
the process with a message naming the function, never a wrong result.

`pillow`: the same for Pillow's libxcb (and libXau, 2.3 MB), which only ImageGrab's X11 screen
grab calls; Mizual opens BMPs with Pillow and nothing else.

It changes nothing (and says why) when the layout is not the one it knows: no OpenCV wheel, a
library named differently, a symbol it cannot place, missing tools. It checks its work by
importing cv2 and, if that fails, puts the original libraries back. Run twice, the second run
finds the stubs and does nothing.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Per wheel: the package, its extension module, the folder auditwheel bundled libraries in, the
# libraries replaced (by the start of their file names: auditwheel adds a hash and keeps the
# version; everything else, e.g. OpenCV's libpng, is kept), what they were for, and a check.
TARGETS = {
    "opencv": (
        "cv2", "cv2*.so", "opencv_python_headless.libs",
        ("libavcodec-", "libavformat-", "libavutil-", "libswscale-", "libavif-", "libopenblas"),
        "OpenCV video I/O, AVIF and LAPACK",
        "import cv2, numpy as n; a = n.zeros((64, 64, 3), n.uint8); "
        "cv2.GaussianBlur(a, (5, 5), 0); cv2.CascadeClassifier(); print(cv2.__version__)",
    ),
    "pillow": (
        "PIL", "_imaging.*.so", "pillow.libs", ("libxcb-",),
        "Pillow's X11 screen grab",
        "from PIL import Image; Image.new('RGB', (8, 8)).convert('L').tobytes()",
    ),
}
MARKER = "mizual_opencv_stub"
WHAT = ""  # set per target


class Skip(Exception):
    """The layout is not the expected one: OpenCV is left as the wheel installed it."""


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def needed(elf: Path) -> list[str]:
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", run("readelf", "-d", str(elf)))


def rpath(elf: Path) -> str:
    found = re.search(r"\((?:RPATH|RUNPATH)\)\s+Library r(?:un)?path: \[([^\]]+)\]",
                      run("readelf", "-d", str(elf)))
    return found.group(1) if found else ""


def version_files(elf: Path) -> dict[str, str]:
    """Version name -> the file that must provide it, from the "Version needs" section."""
    versions: dict[str, str] = {}
    current = ""
    for line in run("readelf", "-V", "--wide", str(elf)).splitlines():
        if (file := re.search(r"Version: \d+\s+File: (\S+)", line)) is not None:
            current = file.group(1)
        elif (name := re.search(r"Name: (\S+)\s+Flags", line)) is not None and current:
            versions[name.group(1)] = current
    return versions


def imports(elf: Path) -> list[tuple[str, str]]:
    """(name, version or "") of every undefined dynamic symbol."""
    found = []
    for line in run("nm", "-D", "--undefined-only", str(elf)).splitlines():
        symbol = line.split()[-1]
        name, _, version = symbol.partition("@")
        found.append((name, version.lstrip("@")))
    return found


def exports(elf: Path) -> dict[str, tuple[str, int]]:
    """Defined dynamic symbol -> (nm type letter, size in bytes)."""
    found = {}
    for line in run("nm", "-D", "-S", "--defined-only", str(elf)).splitlines():
        fields = line.split()
        if len(fields) == 4:
            _, size, kind, symbol = fields
        elif len(fields) == 3:
            _, kind, symbol = fields
            size = "0"
        else:
            continue
        found[symbol.split("@")[0]] = (kind, int(size, 16))
    return found


def is_stub(elf: Path) -> bool:
    return MARKER in exports(elf)


def stub_source(library: str, symbols: dict[str, list[str]], original: dict) -> str:
    """C for one stub: `symbols` maps a version ("" for none) to the names it needs."""
    lines = [
        f"/* Stub of {library}: {WHAT} is left out of this image (deploy/image/opencv_stubs.py). */",
        "void abort(void) __attribute__((noreturn));",
        "long write(int, const void *, unsigned long);",
        f"int {MARKER} = 1;",
        "static void left_out(const char *line, unsigned long length)",
        "    __attribute__((noreturn, noinline));",
        "static void left_out(const char *line, unsigned long length) {",
        "    (void)!write(2, line, length);",
        "    abort();",
        "}",
    ]
    for name in sorted({name for names in symbols.values() for name in names}):
        kind, size = original[name]
        if kind in "TtWwiI":
            message = (
                f"{name}: left out of this image ({WHAT}; {library} is a stub). "
                "Mizual does not call it; this is a bug in the image, see "
                "deploy/image/opencv_stubs.py\\n"
            )
            length = len(message) - 1  # the two characters \n are one byte
            lines.append(f'void {name}(void) {{ left_out("{message}", {length}); }}')
        else:  # a data object: zeroes of the original size, read-only ones stay read-only
            const = "const " if kind in "Rr" else ""
            lines.append(f"{const}unsigned char {name}[{max(size, 1)}] __attribute__((aligned(16))) = {{0}};")
    return "\n".join(lines) + "\n"


def version_script(symbols: dict[str, list[str]], all_versions: list[str]) -> str:
    nodes = []
    for version in all_versions:
        names = sorted(symbols.get(version, []))
        if not names:  # a version cv2.abi3.so requires but takes no symbol from
            names = [f"{MARKER}_{re.sub(r'[^A-Za-z0-9_]', '_', version)}"]
        nodes.append(f"{version} {{\n  global:\n" + "".join(f"    {n};\n" for n in names) + "};\n")
    return "".join(nodes)


def build_stub(library: str, symbols: dict[str, list[str]], original: dict,
               all_versions: list[str], work: Path) -> Path:
    source = work / f"{library}.c"
    text = stub_source(library, symbols, original)
    # Symbols a version script must name but that no function defines: empty versions.
    for version in all_versions:
        if not symbols.get(version):
            text += f"int {MARKER}_{re.sub(r'[^A-Za-z0-9_]', '_', version)} = 0;\n"
    source.write_text(text)
    output = work / library
    command = ["gcc", "-shared", "-fPIC", "-O2", "-s", "-fno-builtin", f"-Wl,-soname,{library}",
               "-Wl,--no-undefined", "-o", str(output), str(source)]
    if all_versions:
        script = work / f"{library}.map"
        script.write_text(version_script(symbols, all_versions))
        command.append(f"-Wl,--version-script={script}")
    subprocess.run(command, check=True)
    return output


def record_path(site: Path, path: Path) -> str:
    return path.relative_to(site).as_posix()


def update_record(site: Path, changed: list[Path], removed: list[Path]) -> None:
    """Keeps the wheel's RECORD true to the files (sizes and hashes of stubs, no deleted ones)."""
    names = {record_path(site, p) for p in changed + removed}
    records = [r for r in site.glob("*.dist-info/RECORD")
               if names & {line.split(",", 1)[0] for line in r.read_text().splitlines()}]
    if not records:
        return
    gone = {record_path(site, p) for p in removed}
    now = {}
    for path in changed:
        digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=")
        now[record_path(site, path)] = f"sha256={digest.decode()},{path.stat().st_size}"
    lines = []
    for line in records[0].read_text().splitlines():
        name = line.split(",", 1)[0]
        if name in gone:
            continue
        lines.append(f"{name},{now[name]}" if name in now else line)
    records[0].write_text("\n".join(lines) + "\n")


def closure(start: list[str], folder: Path) -> set[str]:
    """The files of `folder` that loading libraries named `start` would load."""
    seen: set[str] = set()
    todo = [name for name in start if (folder / name).exists()]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += [n for n in needed(folder / name) if (folder / n).exists() and n not in seen]
    return seen


def import_check(python: str, site: Path, code: str) -> str:
    """"" when the check runs with the stubs in place, else its error."""
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["?"])[-1]


def main(venv: Path, target: str) -> int:
    global WHAT
    package, pattern, libs_name, STUBBED, WHAT, check = TARGETS[target]
    sites = sorted(venv.glob("lib/python3*/site-packages"))
    if not sites:
        raise Skip(f"no site-packages under {venv}")
    site = sites[0]
    extensions = sorted((site / package).glob(pattern))
    libs = site / libs_name
    if len(extensions) != 1 or not libs.is_dir():
        raise Skip(f"no wheel of the expected layout ({package}/{pattern} and {libs_name}/)")
    for tool in ("nm", "readelf", "gcc"):
        if shutil.which(tool) is None:
            raise Skip(f"{tool} is not installed")
    extension = extensions[0]
    if f"$ORIGIN/../{libs_name}" not in rpath(extension).split(":"):
        raise Skip(f"{extension.name} does not find its libraries through $ORIGIN/../{libs_name}")
    direct = needed(extension)
    targets = [n for n in direct if n.startswith(STUBBED)]
    # The package's other modules that load from the folder: they keep what they need, and
    # none may need a library that becomes a stub.
    others = [p for p in (site / package).rglob("*.so*") if p.is_file() and p != extension]
    if any(set(needed(p)) & set(targets) for p in others):
        raise Skip(f"another module of {package} links {', '.join(targets)} too")
    if not targets:
        raise Skip(f"{extension.name} needs none of {', '.join(STUBBED)}")
    for name in targets:
        if not (libs / name).is_file():
            raise Skip(f"{name} (needed by {extension.name}) is not a file in {libs.name}")
    if all(is_stub(libs / name) for name in targets):
        print(f"opencv_stubs: {target}: {', '.join(targets)} are stubs already; nothing to do")
        return 0
    if any(is_stub(libs / name) for name in targets):
        raise Skip("some of the libraries are stubs and some are not")

    files_of_version = version_files(extension)
    originals = {name: exports(libs / name) for name in targets}
    wanted: dict[str, dict[str, list[str]]] = {name: {} for name in targets}
    for symbol, version in imports(extension):
        if version:
            owner = files_of_version.get(version)
            if owner not in wanted:
                continue  # glibc, libstdc++, libpng, ...
            if symbol not in originals[owner]:
                raise Skip(f"{symbol}@{version} is not defined by {owner}")
            wanted[owner].setdefault(version, []).append(symbol)
        else:
            owners = [n for n in direct if n in wanted and symbol in originals[n]]
            if owners:  # the first in load order is the one the dynamic linker binds
                wanted[owners[0]].setdefault("", []).append(symbol)

    for by in wanted.values():
        for names in by.values():
            if odd := [n for n in names if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n)]:
                raise Skip(f"symbols that are not C names: {', '.join(odd[:3])}")
    total = sum(len(names) for by in wanted.values() for names in by.values())
    before = sum(f.stat().st_size for f in libs.iterdir()) // 2**20
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        stubs = {}
        for name in targets:
            versions = [v for v, owner in files_of_version.items() if owner == name]
            stubs[name] = build_stub(name, wanted[name], originals[name], versions, work)
        # Which bundled libraries are still loaded once the stubs (which need only libc) are in.
        kept = closure([n for n in direct if n not in targets]
                       + [n for p in others for n in needed(p)], libs)
        removed = [f for f in libs.iterdir() if f.name not in kept and f.name not in targets]
        backup = work / "originals"
        backup.mkdir()
        for f in [libs / n for n in targets] + removed:
            shutil.move(str(f), backup / f.name)
        for name, stub in stubs.items():
            shutil.copy2(stub, libs / name)
            os.chmod(libs / name, 0o755)
        python = venv / "bin/python"
        failure = import_check(str(python) if python.exists() else sys.executable, site, check)
        if failure:
            for name in targets:
                (libs / name).unlink()
            for f in backup.iterdir():
                shutil.move(str(f), libs / f.name)
            raise Skip(f"the check failed with the stubs ({failure}); the originals are back")
    update_record(site, [libs / n for n in targets], removed)
    after = sum(f.stat().st_size for f in libs.iterdir()) // 2**20
    print(f"opencv_stubs: {target}: {total} symbols in stubs of {', '.join(targets)}; removed "
          f"{', '.join(sorted(f.name for f in removed))}; {libs.name} from {before} MB to {after} MB")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2 or not set(sys.argv[2:]) <= set(TARGETS):
        sys.exit(__doc__)
    for chosen in sys.argv[2:] or ["opencv"]:
        try:
            main(Path(sys.argv[1]), chosen)
        except Skip as why:
            print(f"opencv_stubs: {chosen} left as installed: {why}")
        except (OSError, subprocess.CalledProcessError) as error:
            print(f"opencv_stubs: {chosen} left as installed: {error}")
