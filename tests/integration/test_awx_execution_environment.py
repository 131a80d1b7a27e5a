"""The collection's execution-environment metadata, read by ansible-builder from the built and installed tarball,
and the execution environment definition of the repository turned into a build context by ansible-builder create.

Building the image needs a container engine and base images, which this machine cannot pull; the build context is
what the engine would get, and its own introspection script is run here on the installed collection.
"""

from __future__ import annotations

import re
import subprocess
import tarfile

import pytest
import yaml

from awx_job import BIN, REPO, clean_environment, installed_collection  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.tooling

# What the collection needs in an execution environment: lower bounds only.
EE_REQUIREMENTS = ["requests>=2.14.0", "hvac>=1.1.0"]
# An exact pin (==, ===) or an upper bound would be forced on every image that includes the collection.
PIN = re.compile(r"===?|<|~=")


def requirement_lines(text: str) -> list[str]:
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_the_tarball_ships_the_metadata_and_no_exact_pin(installed_collection):  # noqa: F811
    with tarfile.open(installed_collection.tarball) as tarball:
        names = set(tarball.getnames())
        # Development files that would pin an image's packages, or describe an image holding the collection.
        assert not names & {"requirements.txt", "requirements-test.txt", "constraints.txt", "execution-environment.yml"}
        assert {"meta/execution-environment.yml", "meta/ee-requirements.txt"} <= names
        texts = {name: tarball.extractfile(name).read().decode() for name in names
                 if name.endswith(".txt") and ("requirements" in name or "bindep" in name or "constraints" in name)}
    assert "meta/ee-requirements.txt" in texts
    for name, text in texts.items():
        pinned = [line for line in requirement_lines(text) if PIN.search(line)]
        assert not pinned, f"{name}: {pinned}"
    assert requirement_lines(texts["meta/ee-requirements.txt"]) == EE_REQUIREMENTS


def test_ansible_builder_introspect_reports_the_lower_bounds(installed_collection):  # noqa: F811
    metadata = yaml.safe_load((installed_collection.root / "meta" / "execution-environment.yml").read_text())
    assert metadata == {"version": 3, "dependencies": {"python": "meta/ee-requirements.txt"}}
    for sanitize in ([], ["--sanitize"]):
        done = subprocess.run(
            [BIN / "ansible-builder", "introspect", *sanitize, installed_collection.collections_path],
            env=clean_environment(), capture_output=True, text=True, timeout=120, check=True,
        )
        report = yaml.safe_load(done.stdout[done.stdout.index("---"):])
        assert report == {
            "python": [f"{line}  # from collection onedrive.connection" for line in EE_REQUIREMENTS],
            "system": [],
        }, done.stdout


def test_ansible_builder_create_makes_a_build_context_that_installs_the_collection(tmp_path, installed_collection):  # noqa: F811
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    context = tmp_path / "context"
    done = subprocess.run(
        [BIN / "ansible-builder", "create", "--file", REPO / "execution-environment.yml", "--context", context,
         "--output-filename", "Containerfile"],
        env=clean_environment(), cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    files = sorted(str(path.relative_to(context)) for path in context.rglob("*") if path.is_file())
    assert files == [
        "Containerfile",
        "_build/requirements.yml",
        *(f"_build/scripts/{name}" for name in sorted(
            ["assemble", "check_ansible", "check_galaxy", "entrypoint", "install-from-bindep", "introspect.py",
             "pip_install"])),
    ]
    # The collection comes from Galaxy, within the major version this definition was written for.
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert galaxy == {"collections": [{"name": "onedrive.connection", "version": ">=1.0.0,<2.0.0"}]}

    containerfile = (context / "Containerfile").read_text()
    arguments = dict(re.findall(r'^ARG (\w+)="(.*)"$', containerfile, re.M))
    assert arguments["EE_BASE_IMAGE"] == definition["images"]["base_image"]["name"]
    assert arguments["PYCMD"] == "/usr/bin/python3.12" and arguments["PYPKG"] == "python3.12"
    assert arguments["ANSIBLE_INSTALL_REFS"] == "ansible-core>=2.16,<2.22 ansible-runner>=2.4,<3"
    for step in (
        "ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml",
        "introspect.py introspect --write-bindep=/tmp/src/bindep.txt --write-pip=/tmp/src/requirements.txt",
        "RUN /output/scripts/assemble",
        "LABEL ansible-execution-environment=true",
    ):
        assert step in containerfile, step

    # The build runs the context's own introspection over the installed collections, and installs what it writes.
    pip, bindep = tmp_path / "requirements.txt", tmp_path / "bindep.txt"
    done = subprocess.run(
        [BIN / "python", context / "_build" / "scripts" / "introspect.py", "introspect",
         f"--write-pip={pip}", f"--write-bindep={bindep}", installed_collection.collections_path],
        env=clean_environment(), capture_output=True, text=True, timeout=120, check=True,
    )
    assert requirement_lines(pip.read_text()) == EE_REQUIREMENTS
    assert not bindep.exists()
