"""The Lambda zip checks (tracklake_infra.artifacts) on synthetic zips: a good one passes, and each
broken variant a build could produce fails with a message naming the problem. scripts/test.sh runs
the same checks on the real zips that scripts/build-lambdas.sh builds."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from elf_builder import EM_AARCH64, EM_RISCV, EM_X86_64, make_elf, write_zip
from tracklake_infra import artifacts, contracts
from tracklake_infra.artifacts import ArtifactError, check_lambda_zip


def test_a_good_arm64_zip_passes_and_reports_its_glibc(tmp_path):
    info = check_lambda_zip(write_zip(tmp_path / "bootstrap.zip", make_elf()), "arm64")
    assert info.machine == EM_AARCH64 and info.dynamic
    assert info.glibc_needed == (2, 28)
    assert info.version_needs["libgcc_s.so.1"] == {"GCC_3.0"}


def test_a_good_x86_64_zip_passes_for_x86_64(tmp_path):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(machine=EM_X86_64))
    assert check_lambda_zip(path, "x86_64").machine == EM_X86_64


def test_glibc_2_34_is_the_newest_allowed(tmp_path):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(needs={"libc.so.6": ["GLIBC_2.2.5", "GLIBC_2.34"]}))
    assert check_lambda_zip(path, "arm64").glibc_needed == artifacts.PROVIDED_AL2023_GLIBC == (2, 34)


def test_a_static_executable_needs_no_glibc(tmp_path):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(needs={}, dynamic=False))
    assert check_lambda_zip(path, "arm64").glibc_needed is None


def test_no_bootstrap_at_the_root_fails(tmp_path):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(), name="producer/bootstrap")
    with pytest.raises(ArtifactError, match=r"no `bootstrap` at its root \(it holds producer/bootstrap\)"):
        check_lambda_zip(path, "arm64")


def test_a_bootstrap_without_the_executable_bit_fails(tmp_path):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(), mode=0o644)
    with pytest.raises(ArtifactError, match=r"mode 0644.*0555"):
        check_lambda_zip(path, "arm64")


def test_a_bootstrap_only_its_owner_may_run_fails(tmp_path):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(), mode=0o700)
    with pytest.raises(ArtifactError, match="mode 0700"):
        check_lambda_zip(path, "arm64")


@pytest.mark.parametrize("machine,arch,needle", [
    (EM_X86_64, "arm64", "built for x86_64, not arm64"),
    (EM_AARCH64, "x86_64", "built for arm64, not x86_64"),
    (EM_RISCV, "arm64", "built for ELF machine 243, not arm64"),
])
def test_the_wrong_architecture_fails(tmp_path, machine, arch, needle):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(machine=machine))
    with pytest.raises(ArtifactError, match=needle):
        check_lambda_zip(path, arch)


@pytest.mark.parametrize("version", ["GLIBC_2.35", "GLIBC_2.38", "GLIBC_3.0"])
def test_a_newer_glibc_than_provided_al2023_fails(tmp_path, version):
    needs = {"libm.so.6": ["GLIBC_2.17"], "libc.so.6": ["GLIBC_2.17", version]}
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(needs=needs))
    with pytest.raises(ArtifactError, match=r"needs glibc \d\.\d+, newer than provided.al2023's 2.34"):
        check_lambda_zip(path, "arm64")


@pytest.mark.parametrize("data,needle", [
    (b"#!/bin/sh\nexec ./producer\n", "is not an ELF executable"),
    (b"", "is not an ELF executable"),
    (make_elf(elf_class=1), "not a 64-bit little-endian ELF"),
    (make_elf()[:100], "malformed ELF"),
])
def test_a_bootstrap_that_is_not_a_64_bit_elf_fails(tmp_path, data, needle):
    path = write_zip(tmp_path / "bootstrap.zip", data)
    with pytest.raises(ArtifactError, match=needle):
        check_lambda_zip(path, "arm64")


def test_a_dynamic_elf_without_sections_fails_rather_than_passing_unread(tmp_path):
    data = bytearray(make_elf())
    struct.pack_into("<H", data, 60, 0)  # e_shnum = 0
    path = write_zip(tmp_path / "bootstrap.zip", bytes(data))
    with pytest.raises(ArtifactError, match="no section headers"):
        check_lambda_zip(path, "arm64")


def test_every_problem_is_named_with_the_build_command(tmp_path):
    path = write_zip(tmp_path / "bootstrap.zip", make_elf(machine=EM_X86_64, needs={"libc.so.6": ["GLIBC_2.39"]}),
                     mode=0o644)
    with pytest.raises(ArtifactError) as e:
        check_lambda_zip(path, "arm64")
    message = str(e.value)
    assert "mode 0644" in message and "built for x86_64" in message and "glibc 2.39" in message
    assert "./scripts/build-lambdas.sh" in message


def test_not_a_zip_and_no_file_fail(tmp_path):
    (tmp_path / "bootstrap.zip").write_bytes(make_elf())
    with pytest.raises(ArtifactError, match="is not a zip file"):
        check_lambda_zip(tmp_path / "bootstrap.zip", "arm64")
    with pytest.raises(ArtifactError, match="does not exist.*build-lambdas.sh"):
        check_lambda_zip(tmp_path / "missing.zip", "arm64")


def test_an_unknown_architecture_is_refused(tmp_path):
    with pytest.raises(ArtifactError, match="unknown Lambda architecture 'aarch64'; use one of arm64, x86_64"):
        check_lambda_zip(write_zip(tmp_path / "bootstrap.zip", make_elf()), "aarch64")


# ---- the command line, as scripts/build-lambdas.sh and scripts/test.sh use it ------------------

def test_the_cli_passes_good_zips_and_fails_on_a_broken_one(tmp_path, capsys):
    good = write_zip(tmp_path / "producer" / "bootstrap.zip", make_elf())
    broken = write_zip(tmp_path / "firehose-transform" / "bootstrap.zip", make_elf(machine=EM_X86_64))
    assert artifacts.main(["check", "--arch", "arm64", str(good)]) == 0
    assert "ok:" in capsys.readouterr().out
    assert artifacts.main(["check", "--arch", "arm64", str(good), str(broken)]) == 1
    assert "built for x86_64, not arm64" in capsys.readouterr().err


def test_the_cli_prints_the_build_parameters_of_an_architecture(capsys):
    assert artifacts.main(["arch"]) == 0
    assert capsys.readouterr().out.split() == ["arm64", "aarch64-unknown-linux-gnu", "--arm64"]
    assert artifacts.main(["arch", "--name", "x86_64"]) == 0
    assert capsys.readouterr().out.split() == ["x86_64", "x86_64-unknown-linux-gnu", "--x86-64"]
    assert artifacts.main(["arch", "--name", "mips"]) == 1
    assert "unknown Lambda architecture 'mips'" in capsys.readouterr().err


# ---- the stack setting the build reads -------------------------------------------------------

def test_the_build_reads_the_stack_setting(tmp_path):
    key = f"tracklake:{contracts.LAMBDA_ARCHITECTURE_KEY}"
    (tmp_path / "Pulumi.dev.yaml").write_text(f"config:\n  aws:region: eu-west-1\n  {key}: x86_64\n")
    assert artifacts.stack_architecture("dev", tmp_path) == "x86_64"


def test_an_unset_stack_setting_means_arm64(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  tracklake:spotifyClientId: abc\n")
    assert artifacts.stack_architecture("dev", tmp_path) == contracts.DEFAULT_LAMBDA_ARCHITECTURE == "arm64"


def test_a_bad_stack_setting_or_a_missing_stack_file_is_refused(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  tracklake:lambdaArchitecture: aarch64\n")
    with pytest.raises(ArtifactError, match="sets tracklake:lambdaArchitecture to 'aarch64'; use one of arm64, x86_64"):
        artifacts.stack_architecture("dev", tmp_path)
    with pytest.raises(ArtifactError, match=r"Pulumi.prod.yaml does not exist.*--arch"):
        artifacts.stack_architecture("prod", tmp_path)


def test_the_module_entry_point_the_scripts_run(tmp_path):
    import subprocess
    import sys

    good = write_zip(tmp_path / "bootstrap.zip", make_elf())
    infra = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-m", "tracklake_infra", "check", "--arch", "x86_64", str(good)],
                         cwd=infra, capture_output=True, text=True)
    assert run.returncode == 1 and "built for arm64, not x86_64" in run.stderr, run
    run = subprocess.run([sys.executable, "-m", "tracklake_infra", "arch", "--name", "x86_64"],
                         cwd=infra, capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.split() == ["x86_64", "x86_64-unknown-linux-gnu", "--x86-64"], run
    assert run.stderr == "", run.stderr
