"""Engine-free checks of docker-compose.yml, the Dockerfile and the demo files.

No Docker engine exists on these machines, so nothing here pulls or builds an
image. What can be checked without one is checked for real: the compose file
against the Compose specification (``compose-spec``, a validating parser of
the specification), its wiring against the demo values, secrets and tokens,
the init script against a real ``influxd``, and the demo configuration served
by a real ``repertoire serve`` started from the compose command line.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from server.auth import hash_token, load_tokens_file
from server.config import load_config
from tests.support import influxdb as influx_support
from tests.support.influxdb import InfluxCredentials, InfluxServer, start_influxd
from tests.support.server import RunningServer

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
INIT_SCRIPT = REPO / "docker" / "init" / "init_demo.py"
DEMO_DOC = REPO / "README.md"

INIT_SERVICE = "init"
REPERTOIRE_SERVICE = "repertoire"
DEMO_TOKEN = "rpt-demo-token-read-sasquatch"
SCOPE = "read:sasquatch"
COMPOSE_SECRETS_DIR = "/run/secrets"


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = _load_yaml(COMPOSE_FILE)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result = compose["services"]
    assert isinstance(result, dict)
    return result


@pytest.fixture(scope="module")
def init_module() -> ModuleType:
    """The init script, imported (it runs nothing on import)."""
    spec = importlib.util.spec_from_file_location("compose_init_demo", INIT_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _option(command: list[str], flag: str) -> str:
    assert flag in command, f"{flag} missing from {command}"
    return command[command.index(flag) + 1]


def _bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path → host path of a service's ``./`` bind mounts."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
        else:
            source, target = volume["source"], volume["target"]
        if source.startswith("./"):
            mounts[target] = (REPO / source).resolve()
    return mounts


def _secret_mounts(compose: dict[str, Any], service: dict[str, Any]) -> dict[str, Path]:
    """Container path → host file of a service's file-based compose secrets."""
    mounts: dict[str, Path] = {}
    for secret in service.get("secrets", []):
        name = secret if isinstance(secret, str) else secret["source"]
        target = (
            f"{COMPOSE_SECRETS_DIR}/{name}"
            if isinstance(secret, str) or "target" not in secret
            else secret["target"]
        )
        if not target.startswith("/"):
            target = f"{COMPOSE_SECRETS_DIR}/{target}"
        mounts[target] = (REPO / compose["secrets"][name]["file"]).resolve()
    return mounts


def _repertoire_command(services: dict[str, dict[str, Any]]) -> list[str]:
    command = services[REPERTOIRE_SERVICE]["command"]
    if isinstance(command, str):
        command = shlex.split(command)
    assert command[0] == "serve"
    return [str(c) for c in command]


def _repertoire_values_path(
    services: dict[str, dict[str, Any]],
) -> Path:
    values = _option(_repertoire_command(services), "--values")
    mounts = _bind_mounts(services[REPERTOIRE_SERVICE])
    assert values in mounts, f"{values} is not bind-mounted into repertoire"
    return mounts[values]


def _databases(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    values = _load_yaml(_repertoire_values_path(services))
    databases = values["config"]["influxdbDatabases"]
    assert isinstance(databases, dict)
    assert databases, "the demo values declare no InfluxDB database"
    return databases


def _container_ports(service: dict[str, Any]) -> set[int]:
    ports: set[int] = set()
    for port in service.get("ports", []):
        text = str(port["target"] if isinstance(port, dict) else port)
        ports.add(int(text.rsplit(":", 1)[-1].split("/")[0]))
    for key, value in service.get("environment", {}).items():
        if key.endswith("LISTENERS") and isinstance(value, str):
            ports.update(int(p) for p in re.findall(r":(\d+)", value))
    return ports


# --- The compose file itself ------------------------------------------------


def test_compose_validates_against_the_specification() -> None:
    compose_spec = pytest.importorskip(
        "compose_spec",
        reason="compose-spec (a Compose specification validator) not installed",
    )
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    project = compose_spec.PyCompose.from_yaml(text)
    project.validate()
    assert set(project.service_names()) == set(_load_yaml(COMPOSE_FILE)["services"])

    # The validator is not a rubber stamp: the same file with a misspelt key
    # or an unknown depends_on condition is rejected.
    broken = text.replace("    healthcheck:\n", "    healthchek:\n", 1)
    with pytest.raises(ValueError, match="healthchek"):
        compose_spec.PyCompose.from_yaml(broken)
    broken = text.replace("service_healthy", "service_ready", 1)
    with pytest.raises(ValueError, match="service_ready"):
        compose_spec.PyCompose.from_yaml(broken)


def test_compose_structure(compose: dict[str, Any]) -> None:
    assert set(compose) <= {"name", "services", "secrets", "volumes", "networks"}
    services = compose["services"]
    assert set(services) >= {
        "influxdb",
        "kafka",
        "schema-registry",
        INIT_SERVICE,
        REPERTOIRE_SERVICE,
    }
    for name, service in services.items():
        assert ("image" in service) or ("build" in service), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else None
            if source and source.startswith("./"):
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
            elif source:
                assert source in compose.get("volumes", {}), f"{name}: {source}"
        for secret in service.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            assert secret_name in compose.get("secrets", {}), f"{name}: {secret_name}"
    for name, secret in compose.get("secrets", {}).items():
        path = REPO / secret["file"]
        assert path.is_file(), f"secret {name}: {path} missing"
        assert path.stat().st_mode & 0o044, f"secret {name} must be readable (0644)"


def test_official_images(services: dict[str, dict[str, Any]]) -> None:
    images = {name: s.get("image", "") for name, s in services.items()}
    assert re.fullmatch(r"influxdb:1\.\d+.*", images["influxdb"])
    assert images["kafka"].startswith("apache/kafka:")
    assert images["schema-registry"].startswith("confluentinc/cp-schema-registry:")
    assert images[INIT_SERVICE].startswith("python:3.12")
    assert services[REPERTOIRE_SERVICE]["build"]["dockerfile"] == "Dockerfile"


def test_influxdb_has_auth_on(services: dict[str, dict[str, Any]]) -> None:
    environment = services["influxdb"]["environment"]
    assert str(environment["INFLUXDB_HTTP_AUTH_ENABLED"]).lower() == "true"


def test_kafka_is_single_node_kraft(services: dict[str, dict[str, Any]]) -> None:
    environment = services["kafka"]["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {
        "broker",
        "controller",
    }
    assert environment["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(
        f"{environment['KAFKA_NODE_ID']}@kafka:"
    )
    assert "ZOOKEEPER" not in json.dumps(environment).upper()
    registry = services["schema-registry"]["environment"]
    bootstrap = registry["SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS"]
    assert urllib.parse.urlsplit(bootstrap).hostname == "kafka"
    advertised = environment["KAFKA_ADVERTISED_LISTENERS"]
    assert urllib.parse.urlsplit(bootstrap).port == urllib.parse.urlsplit(advertised).port


def test_every_long_running_service_has_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name == INIT_SERVICE:
            assert service.get("restart", "no") == "no", "init is a one-shot"
            continue
        healthcheck = service.get("healthcheck")
        assert healthcheck, f"{name} has no healthcheck"
        assert not healthcheck.get("disable", False), name
        test = healthcheck["test"]
        assert isinstance(test, list), name
        assert test[0] in {"CMD", "CMD-SHELL"}, name
        assert len(test) > 1, name


def test_depends_on_uses_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for dependency, spec in depends_on.items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully"
                if dependency == INIT_SERVICE
                else "service_healthy"
            )
            assert spec["condition"] == expected, f"{name} → {dependency}"
    repertoire = services[REPERTOIRE_SERVICE]["depends_on"]
    assert set(repertoire) >= {"influxdb", "schema-registry", INIT_SERVICE}
    assert set(services[INIT_SERVICE]["depends_on"]) >= {"influxdb", "schema-registry"}


def test_repertoire_values_point_at_compose_services(
    services: dict[str, dict[str, Any]],
) -> None:
    for label, database in _databases(services).items():
        for key in ("url", "schemaRegistry"):
            parts = urllib.parse.urlsplit(database[key])
            assert parts.hostname in services, (
                f"{label}.{key}: {parts.hostname} is not a compose service"
            )
            target = services[parts.hostname]
            assert parts.port in _container_ports(target), (
                f"{label}.{key}: {parts.hostname} does not listen on {parts.port}"
            )
        assert urllib.parse.urlsplit(database["url"]).hostname == "influxdb"
        assert urllib.parse.urlsplit(database["schemaRegistry"]).hostname == "schema-registry"
    # And the lead's loader accepts the file as it is.
    config = load_config([_repertoire_values_path(services)])
    assert set(config.influxdb_databases) == set(_databases(services))


def test_secret_is_mounted_under_the_password_key(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    command = _repertoire_command(services)
    secrets_dir = _option(command, "--secrets-dir").rstrip("/")
    mounts = _secret_mounts(compose, services[REPERTOIRE_SERVICE])
    init_env = services[INIT_SERVICE]["environment"]
    init_mounts = _secret_mounts(compose, services[INIT_SERVICE])
    for label, database in _databases(services).items():
        key = database["passwordKey"]
        mounted = f"{secrets_dir}/{key}"
        assert mounted in mounts, f"{label}: no secret mounted at {mounted}"
        assert Path(mounted).name == key
        assert mounts[mounted].read_text().strip(), f"{label}: empty secret"
        # The init service sets efdreader's password from the same file.
        reader_file = init_env["INFLUXDB_READER_PASSWORD_FILE"]
        assert reader_file in init_mounts
        assert init_mounts[reader_file] == mounts[mounted]


def test_tokens_file_accepts_the_documented_demo_token(
    services: dict[str, dict[str, Any]],
) -> None:
    command = _repertoire_command(services)
    assert _option(command, "--auth") == "tokens"
    tokens_file = _bind_mounts(services[REPERTOIRE_SERVICE])[_option(command, "--tokens-file")]
    entries = load_tokens_file(tokens_file)
    digest = "sha256:" + hashlib.sha256(DEMO_TOKEN.encode("utf-8")).hexdigest()
    assert hash_token(DEMO_TOKEN) == digest
    assert digest in entries
    assert SCOPE in entries[digest].scopes
    assert DEMO_TOKEN not in tokens_file.read_text().split("hash:")[1]
    assert DEMO_TOKEN in DEMO_DOC.read_text()


# --- Init script and test suite agree -----------------------------------------


def test_init_script_and_tests_agree_on_names(
    init_module: ModuleType, services: dict[str, dict[str, Any]]
) -> None:
    assert init_module.ADMIN_USERNAME == influx_support.ADMIN_USERNAME
    assert init_module.READER_USERNAME == influx_support.READER_USERNAME
    assert init_module.DATABASE == influx_support.DATABASE
    assert init_module.MEASUREMENT == influx_support.MEASUREMENT
    for database in _databases(services).values():
        assert database["username"] == init_module.READER_USERNAME
        assert database["database"] == init_module.DATABASE
    # The script is what the init service runs.
    init = services[INIT_SERVICE]
    command = init["command"]
    script = command[-1] if isinstance(command, list) else shlex.split(command)[-1]
    assert _bind_mounts(init)[str(Path(script).parent)] == INIT_SCRIPT.parent
    assert Path(script).name == INIT_SCRIPT.name


def test_init_script_uses_only_the_standard_library() -> None:
    tree = ast.parse(INIT_SCRIPT.read_text(encoding="utf-8"))
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert modules - {"__future__"} <= set(sys.stdlib_module_names)


def test_avro_schema_describes_the_written_points(init_module: ModuleType) -> None:
    schema = init_module.AVRO_SCHEMA
    assert schema["type"] == "record"
    assert f"{schema['namespace']}.{schema['name']}" == init_module.TOPIC
    assert f"{init_module.TOPIC}-value" == init_module.SUBJECT
    names = {f["name"] for f in schema["fields"]}
    lines = init_module.line_protocol(init_module.demo_points(10**18, 3))
    for line in lines.splitlines():
        series, fields, _ = line.split(" ")
        measurement, *tags = series.split(",")
        assert measurement == init_module.MEASUREMENT
        written = {t.split("=")[0] for t in tags} | {f.split("=")[0] for f in fields.split(",")}
        assert written == names


@pytest.fixture
def fresh_influxdb(tmp_path: Path) -> Iterator[InfluxServer]:
    """A second, empty influxd (no users), as the compose influxdb starts."""
    server = start_influxd(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def _demo_secret(compose: dict[str, Any], name: str) -> str:
    path = REPO / str(compose["secrets"][name]["file"])
    return path.read_text().rstrip("\r\n")


def test_init_script_initialises_a_real_influxdb(
    fresh_influxdb: InfluxServer, compose: dict[str, Any], tmp_path: Path
) -> None:
    """Run the init service's script (InfluxDB part) against a real influxd."""
    env = {
        "PATH": "/usr/bin:/bin",
        "INFLUXDB_URL": fresh_influxdb.url.rstrip("/"),
        "INFLUXDB_ADMIN_PASSWORD_FILE": str(
            REPO / compose["secrets"]["influxdb-admin-password"]["file"]
        ),
        "INFLUXDB_READER_PASSWORD_FILE": str(
            REPO / compose["secrets"]["demo_efd-password"]["file"]
        ),
    }
    for run in range(2):  # idempotent: a second `docker compose up` works too
        result = subprocess.run(
            [sys.executable, str(INIT_SCRIPT), "--skip-schema-registry"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"run {run}: {result.stderr[-2000:]}"
        assert "init: done" in result.stdout
        for name in ("influxdb-admin-password", "demo_efd-password"):
            leaked = _demo_secret(compose, name) in result.stdout + result.stderr
            assert not leaked, f"init printed the {name}"

    admin = InfluxCredentials(
        influx_support.ADMIN_USERNAME, _demo_secret(compose, "influxdb-admin-password")
    )
    reader = InfluxCredentials(
        influx_support.READER_USERNAME, _demo_secret(compose, "demo_efd-password")
    )
    select = f'SELECT * FROM "{influx_support.MEASUREMENT}"'  # noqa: S608
    rows = fresh_influxdb.query(select, credentials=reader, database=influx_support.DATABASE)
    assert rows.status == 200, rows.error()
    assert len(rows.rows()) >= 10
    written = fresh_influxdb.write(
        "lsst.sal.ATDome.position,salIndex=0 azimuthPosition=1.0",
        credentials=reader,
        database=influx_support.DATABASE,
    )
    assert written.status == 403
    users = fresh_influxdb.query("SHOW USERS", credentials=admin)
    assert users.status == 200, users.error()
    assert {(r["user"], r["admin"]) for r in users.rows()} == {
        (influx_support.ADMIN_USERNAME, True),
        (influx_support.READER_USERNAME, False),
    }
    grants = fresh_influxdb.query(
        f'SHOW GRANTS FOR "{influx_support.READER_USERNAME}"', credentials=admin
    )
    assert grants.rows() == [{"database": influx_support.DATABASE, "privilege": "READ"}]


# --- Repertoire serves the demo configuration ---------------------------------


def test_repertoire_serves_the_compose_configuration(
    compose: dict[str, Any],
    services: dict[str, dict[str, Any]],
    server_factory: Callable[..., RunningServer],
    tmp_path: Path,
) -> None:
    """Start ``repertoire serve`` with the compose command line, paths mapped."""
    service = services[REPERTOIRE_SERVICE]
    command = _repertoire_command(services)
    secrets_dir = tmp_path / "run-secrets"
    secrets_dir.mkdir()
    for target, source in _secret_mounts(compose, service).items():
        assert target.startswith(COMPOSE_SECRETS_DIR + "/")
        (secrets_dir / Path(target).name).write_bytes(source.read_bytes())
    mapped = {path: str(host) for path, host in _bind_mounts(service).items()}
    mapped[COMPOSE_SECRETS_DIR] = str(secrets_dir)
    mapped["0.0.0.0"] = "127.0.0.1"  # never bind all interfaces in tests
    args = [mapped.get(arg, arg) for arg in command[1:]]
    server = server_factory(args)  # appends its own free --port

    discovery_url = server.base_url + "/repertoire/discovery"
    with urllib.request.urlopen(discovery_url, timeout=10) as response:  # noqa: S310
        discovery = json.load(response)
    entries = discovery["influxdb_databases"]
    assert set(entries) == set(_databases(services))
    for label, database in _databases(services).items():
        entry = entries[label]
        assert entry["url"] == database["url"]
        request = urllib.request.Request(  # noqa: S310
            entry["credentials_url"],
            headers={"Authorization": f"Bearer {DEMO_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            served = json.load(response)
        expected = _demo_secret(compose, database["passwordKey"])
        same = served["password"] == expected
        assert same, f"{label}: served password is not the mounted secret"
        assert served["username"] == database["username"]


# --- Dockerfile -----------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        keyword, _, rest = stripped.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def test_dockerfile_slim_base_and_non_root_user() -> None:
    instructions = _dockerfile_instructions()
    bases = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert bases
    assert re.fullmatch(r"python:3\.12[.\d]*-slim(-\w+)?", bases[-1].split()[0])
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "no USER: the image would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    # The USER comes after the last RUN, so nothing later runs as root.
    last_user = max(i for i, (k, _) in enumerate(instructions) if k == "USER")
    last_run = max(i for i, (k, _) in enumerate(instructions) if k == "RUN")
    assert last_user > last_run


def test_dockerfile_installs_and_runs_repertoire_serve() -> None:
    instructions = _dockerfile_instructions()
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert re.search(r"pip install [^&]*\.", runs)
    entrypoint = json.loads(dict(instructions)["ENTRYPOINT"])
    cmd = json.loads(dict(instructions)["CMD"])
    assert [*entrypoint, *cmd][:2] == ["repertoire", "serve"]
    copied = [rest.split()[:-1] for keyword, rest in instructions if keyword == "COPY"]
    ignore = DOCKERIGNORE.read_text().splitlines()
    for sources in copied:
        for source in sources:
            assert f"!{source.rstrip('/')}" in ignore, f"{source} is .dockerignored"
            assert (REPO / source).exists() or source == "README.md", source


def test_dockerfile_healthcheck_hits_health_with_python() -> None:
    instructions = _dockerfile_instructions()
    healthchecks = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    exec_form = healthchecks[0][healthchecks[0].index("CMD") + 3 :].strip()
    command = json.loads(exec_form)
    assert command[:2] == ["python", "-c"]
    assert "curl" not in healthchecks[0]
    code = command[2]
    compile(code, "<HEALTHCHECK>", "exec")
    assert "urllib.request" in code
    assert "/health" in code
    port = _option(json.loads(dict(instructions)["CMD"]), "--port")
    assert f":{port}/health" in code
    assert f"EXPOSE {port}" in DOCKERFILE.read_text()


def test_compose_repertoire_healthcheck_is_valid_python(
    services: dict[str, dict[str, Any]],
) -> None:
    test = services[REPERTOIRE_SERVICE]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], "<healthcheck>", "exec")
    port = _option(_repertoire_command(services), "--port")
    assert f":{port}/health" in test[3]
