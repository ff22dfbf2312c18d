"""Builds small synthetic ELF executables and Lambda zips for the artifact checks' tests: just the
parts the checks read (the ELF header, a PT_INTERP program header, the .gnu.version_r version
needs and their string table), laid out as a linker would. Not runnable programs."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

EM_AARCH64 = 183
EM_X86_64 = 62
EM_RISCV = 243


def make_elf(machine: int = EM_AARCH64, needs: dict[str, list[str]] | None = None, dynamic: bool = True,
             elf_class: int = 2) -> bytes:
    """An ELF64 little-endian executable of `machine` needing `needs` ({library: [version...]})."""
    if needs is None:
        needs = {"libc.so.6": ["GLIBC_2.17", "GLIBC_2.28"], "libgcc_s.so.1": ["GCC_3.0"]}
    interp = b"/lib/ld-linux-aarch64.so.1\0"
    # .dynstr: a leading NUL, then each library and version name.
    dynstr = bytearray(b"\0")
    offsets: dict[str, int] = {}
    for library, versions in needs.items():
        for name in [library, *versions]:
            if name not in offsets:
                offsets[name] = len(dynstr)
                dynstr += name.encode() + b"\0"
    # .gnu.version_r: one Verneed per library, each followed by its Vernaux entries.
    verneed = bytearray()
    libraries = list(needs.items())
    for i, (library, versions) in enumerate(libraries):
        size = 16 + 16 * len(versions)
        next_need = 0 if i == len(libraries) - 1 else size
        verneed += struct.pack("<HHIII", 1, len(versions), offsets[library], 16, next_need)
        for j, version in enumerate(versions):
            next_aux = 0 if j == len(versions) - 1 else 16
            verneed += struct.pack("<IHHII", 0, 0, 2 + j, offsets[version], next_aux)
    shstrtab = b"\0.dynstr\0.gnu.version_r\0.shstrtab\0"

    phnum = 1 if dynamic else 0
    at = 64 + 56 * phnum
    interp_at = at
    at += len(interp)
    dynstr_at = at
    at += len(dynstr)
    verneed_at = at
    at += len(verneed)
    shstrtab_at = at
    at += len(shstrtab)
    shoff = (at + 7) & ~7

    ident = b"\x7fELF" + bytes([elf_class, 1, 1, 0]) + bytes(8)
    out = bytearray(struct.pack("<16sHHIQQQIHHHHHH", ident, 3, machine, 1, 0, 64 if phnum else 0, shoff, 0,
                                64, 56, phnum, 64, 4, 3))
    if dynamic:
        out += struct.pack("<IIQQQQQQ", 3, 4, interp_at, interp_at, interp_at, len(interp), len(interp), 1)
        out += interp
    out += dynstr + verneed + shstrtab
    out += bytes(shoff - len(out))
    out += bytes(64)  # SHN_UNDEF
    out += struct.pack("<IIQQQQIIQQ", 1, 3, 2, 0, dynstr_at, len(dynstr), 0, 0, 1, 0)
    out += struct.pack("<IIQQQQIIQQ", 9, SHT_GNU_VERNEED, 2, 0, verneed_at, len(verneed), 1, len(libraries), 8, 0)
    out += struct.pack("<IIQQQQIIQQ", 24, 3, 0, 0, shstrtab_at, len(shstrtab), 0, 0, 1, 0)
    return bytes(out)


SHT_GNU_VERNEED = 0x6FFFFFFE


def write_zip(path: Path, data: bytes, name: str = "bootstrap", mode: int = 0o755) -> Path:
    """A zip holding `data` as `name` with unix `mode`, as cargo lambda writes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        entry = zipfile.ZipInfo(name)
        entry.create_system = 3  # Unix, so external_attr carries the mode
        entry.external_attr = (0o100000 | mode) << 16
        z.writestr(entry, data)
    return path
