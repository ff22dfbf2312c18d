"""Checks a Lambda zip is one the provided.al2023 runtime can start, before it is deployed:
`bootstrap` at the zip's root, executable, an ELF of the function's architecture, and needing no
newer glibc than the runtime has. Also reads the stack's architecture setting for the build.

    python -m tracklake_infra check --arch arm64 target/lambda/*/bootstrap.zip
    python -m tracklake_infra arch --stack dev   # prints: arm64 aarch64-unknown-linux-gnu --arm64

(run from infra/, or with infra/ on PYTHONPATH; scripts/build-lambdas.sh does both.)
Plain Python on purpose: no ELF library to install, and it runs wherever the program runs."""

from __future__ import annotations

import argparse
import re
import struct
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from . import contracts

# A provided.al2023 function runs on Amazon Linux 2023
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), whose C library is glibc 2.34
# (https://docs.aws.amazon.com/linux/al2023/ug/core-glibc.html). A binary that needs a newer
# GLIBC_x.y symbol version fails at start with "version `GLIBC_x.y' not found".
PROVIDED_AL2023_GLIBC = (2, 34)
# The file Lambda executes in an OS-only runtime
# (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-provided.html).
BOOTSTRAP = "bootstrap"
# Lambda runs the code as a user that does not own the files, so `bootstrap` needs read and
# execute for everyone (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-deployment.html).
BOOTSTRAP_MODE = 0o555

# ELF layout (System V gABI: https://www.sco.com/developers/gabi/latest/ch4.eheader.html,
# ch4.sheader.html; GNU symbol versioning: the LSB's "Symbol Versioning",
# https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/symversion.html).
ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
PT_INTERP = 3
SHT_GNU_VERNEED = 0x6FFFFFFE
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_PHDR = struct.Struct("<IIQQQQQQ")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_VERNEED = struct.Struct("<HHIII")
_VERNAUX = struct.Struct("<IHHII")
_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.\d+)?$")


class ArtifactError(contracts.ContractError):
    """A Lambda zip Lambda could not run; the message says what is wrong and how to rebuild."""


@dataclass(frozen=True)
class ElfInfo:
    """What the checks read from an executable."""

    machine: int
    dynamic: bool
    # Every version the executable needs, by library: {"libc.so.6": {"GLIBC_2.34", ...}}.
    version_needs: dict[str, set[str]] = field(default_factory=dict)

    @property
    def glibc_needed(self) -> tuple[int, int] | None:
        """The newest GLIBC_x.y any library version need names (None: no glibc version needed)."""
        found = [
            (int(m.group(1)), int(m.group(2)))
            for names in self.version_needs.values()
            for m in map(_GLIBC.match, names)
            if m
        ]
        return max(found) if found else None


def read_elf(data: bytes) -> ElfInfo:
    """Reads the machine and the GNU version needs (.gnu.version_r) of a 64-bit little-endian ELF
    (both Lambda architectures are). Raises ArtifactError when it is not one, or is malformed."""
    if data[:4] != ELF_MAGIC:
        raise ArtifactError(f"is not an ELF executable (starts with {data[:4]!r})")
    if data[4] != ELFCLASS64 or data[5] != ELFDATA2LSB:
        raise ArtifactError("is not a 64-bit little-endian ELF, which every Lambda architecture runs")
    try:
        (_, _, machine, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = _EHDR.unpack_from(data)
        dynamic = any(
            _PHDR.unpack_from(data, phoff + i * phentsize)[0] == PT_INTERP for i in range(phnum)
        )
        sections = [_SHDR.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
        needs: dict[str, set[str]] = {}
        for sh in sections:
            if sh[1] != SHT_GNU_VERNEED:
                continue
            strtab = sections[sh[6]][4]  # sh_link: the string table; its sh_offset
            count = sh[7]  # sh_info: number of Verneed entries
            at = sh[4]
            for _ in range(count):
                _, cnt, file_name, aux, next_need = _VERNEED.unpack_from(data, at)
                names = needs.setdefault(_string(data, strtab + file_name), set())
                aux_at = at + aux
                for _ in range(cnt):
                    _, _, _, name, next_aux = _VERNAUX.unpack_from(data, aux_at)
                    names.add(_string(data, strtab + name))
                    aux_at += next_aux
                at += next_need
    except (struct.error, IndexError, UnicodeDecodeError) as e:
        raise ArtifactError(f"is a malformed ELF ({e})") from None
    if dynamic and not sections:
        raise ArtifactError("is dynamically linked but has no section headers, so its glibc needs cannot be read")
    return ElfInfo(machine=machine, dynamic=dynamic, version_needs=needs)


def _string(data: bytes, at: int) -> str:
    end = data.index(b"\0", at)
    return data[at:end].decode()


def check_lambda_zip(path: Path, arch: str, stack: str | None = None) -> ElfInfo:
    """Checks one zip for the architecture `arch` (arm64 | x86_64). Raises ArtifactError naming
    every problem found, and the command that rebuilds the zips (for `stack`, when given)."""
    architecture = _architecture(arch)
    rebuild = _rebuild_command(architecture.name, stack)
    path = Path(path)
    problems: list[str] = []
    info = None
    if not path.is_file():
        raise ArtifactError(f"{path} does not exist; build it with `{rebuild}`")
    try:
        with zipfile.ZipFile(path) as z:
            try:
                entry = z.getinfo(BOOTSTRAP)
            except KeyError:
                names = ", ".join(z.namelist()[:5]) or "nothing"
                raise ArtifactError(
                    f"{path} has no `{BOOTSTRAP}` at its root (it holds {names}); Lambda runs "
                    f"/var/task/{BOOTSTRAP}. Rebuild with `{rebuild}`"
                ) from None
            mode = (entry.external_attr >> 16) & 0o7777
            if mode & BOOTSTRAP_MODE != BOOTSTRAP_MODE:
                problems.append(
                    f"`{BOOTSTRAP}` has mode {mode:04o} in the zip; Lambda needs it readable and "
                    f"executable by everyone ({BOOTSTRAP_MODE:04o}), or the function fails with "
                    "'permission denied'"
                )
            data = z.read(entry)
    except zipfile.BadZipFile as e:
        raise ArtifactError(f"{path} is not a zip file ({e})") from None
    try:
        info = read_elf(data)
    except ArtifactError as e:
        problems.append(f"`{BOOTSTRAP}` {e}")
    if info is not None:
        if info.machine != architecture.elf_machine:
            known = {a.elf_machine: a.name for a in contracts.LAMBDA_ARCHITECTURES.values()}
            problems.append(
                f"`{BOOTSTRAP}` is built for {known.get(info.machine, f'ELF machine {info.machine}')}, "
                f"not {architecture.name} (ELF machine {architecture.elf_machine}); Lambda would fail "
                "with 'exec format error'"
            )
        glibc = info.glibc_needed
        if glibc is not None and glibc > PROVIDED_AL2023_GLIBC:
            problems.append(
                f"`{BOOTSTRAP}` needs glibc {glibc[0]}.{glibc[1]}, newer than provided.al2023's "
                f"{PROVIDED_AL2023_GLIBC[0]}.{PROVIDED_AL2023_GLIBC[1]}; build with cargo lambda's zig "
                "linker (the build script's default), which links against an older glibc"
            )
    if problems:
        raise ArtifactError(
            f"{path} cannot run on Lambda ({architecture.name}, provided.al2023): "
            + "; ".join(problems)
            + f". Rebuild with `{rebuild}`"
        )
    return info


def _rebuild_command(arch: str, stack: str | None) -> str:
    if stack or arch == contracts.DEFAULT_LAMBDA_ARCHITECTURE:
        return contracts.build_command(stack)
    return f"{contracts.build_command()} --arch {arch}"


def _architecture(name: str) -> contracts.LambdaArchitecture:
    try:
        return contracts.LAMBDA_ARCHITECTURES[name]
    except KeyError:
        raise ArtifactError(
            f"unknown Lambda architecture {name!r}; use one of {', '.join(contracts.LAMBDA_ARCHITECTURES)}"
        ) from None


def stack_architecture(stack: str, root: Path | None = None) -> str:
    """The `tracklake:lambdaArchitecture` of Pulumi.<stack>.yaml (the default when it is not set)."""
    import yaml  # Pulumi's SDK depends on PyYAML

    root = contracts.REPO_ROOT if root is None else root
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ArtifactError(
            f"{path} does not exist: create the stack first (`pulumi stack init {stack}`, and see "
            "Pulumi.example.yaml), or pass --arch arm64|x86_64 instead of --stack"
        )
    key = f"tracklake:{contracts.LAMBDA_ARCHITECTURE_KEY}"
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ArtifactError(f"{path} is not valid YAML: {e}") from None
    config = document.get("config") or {}
    value = config.get(key, contracts.DEFAULT_LAMBDA_ARCHITECTURE)
    if value not in contracts.LAMBDA_ARCHITECTURES:
        raise ArtifactError(
            f"{path} sets {key} to {value!r}; use one of {', '.join(contracts.LAMBDA_ARCHITECTURES)} "
            f"(`pulumi config set {key} arm64 --stack {stack}`)"
        )
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracklake_infra", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check Lambda zips for an architecture")
    check.add_argument("zips", nargs="+", type=Path)
    check.add_argument("--arch", default=contracts.DEFAULT_LAMBDA_ARCHITECTURE, choices=list(contracts.LAMBDA_ARCHITECTURES))
    arch = commands.add_parser(
        "arch", help="print an architecture's name, Rust target and cargo lambda flag (of a stack, or named)"
    )
    source = arch.add_mutually_exclusive_group()
    source.add_argument("--stack", help="read tracklake:lambdaArchitecture from Pulumi.<stack>.yaml")
    source.add_argument("--name", help="an architecture by name (arm64 | x86_64)")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            for z in args.zips:
                info = check_lambda_zip(z, args.arch)
                glibc = info.glibc_needed
                needs = f"glibc {glibc[0]}.{glibc[1]}" if glibc else "no glibc version"
                print(f"ok: {z} ({args.arch} ELF, needs {needs}; provided.al2023 has "
                      f"{PROVIDED_AL2023_GLIBC[0]}.{PROVIDED_AL2023_GLIBC[1]})")
        else:
            name = (
                stack_architecture(args.stack) if args.stack
                else _architecture(args.name).name if args.name
                else contracts.DEFAULT_LAMBDA_ARCHITECTURE
            )
            a = contracts.LAMBDA_ARCHITECTURES[name]
            print(a.name, a.rust_target, a.cargo_lambda_flag)
    except ArtifactError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
