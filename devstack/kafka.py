"""A real single-node Apache Kafka (KRaft, broker+controller) assembled from Maven Central jars.

There is no registry package that ships the Kafka broker, but Maven Central has every jar of it:
we generate a one-dependency POM, let ``maven-dependency-plugin`` copy the runtime closure into
``<kafka_cache_dir>/libs-<version>`` once, and run ``kafka.Kafka`` with a config we write.

The published POM leaves out the logging backend (it is a ``releaseOnly`` dependency upstream),
so we add the Log4j 2 core plus the SLF4J **1.x** binding; without it the broker runs but logs
nothing, which makes every start-up problem invisible.

Storage is formatted once and then reused (``start(fresh=False)``), so a broker can be stopped
and started again with its topics and offsets intact, as ``make run`` and the reliability tests
need.

Every client authenticates (``docs/kafka-security.md``): the one client listener is
``SASL_PLAINTEXT`` with SCRAM-SHA-512, and the ``StandardAuthorizer`` allows nothing that no ACL
allows. Two super users exist from the start: tidegate's own user (``TIDEGATE_KAFKA_SASL_USERNAME``,
``tidegate``) and the broker's own, :data:`BROKER_USER`, which it uses to talk to itself (SCRAM on
the client listener, PLAIN on the controller listener: KRaft cannot check SCRAM there, as the
SCRAM credentials live in the metadata the controller serves). Their SCRAM credentials are
written into the metadata log when the storage is formatted; later users (the agencies) are
added through the Admin API (:mod:`runtime.ops`). Passwords are generated once per data
directory into :attr:`KafkaBroker.credentials_file` (mode 0600), never passed on a command line.
"""

from __future__ import annotations

import base64
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from config.kafka import CREDENTIALS_FILE, read_credentials
from devstack import _proc
from devstack.errors import DevstackError, FetchError, ServiceStartError, ToolMissingError

if TYPE_CHECKING:
    from config.settings import Settings

log = logging.getLogger(__name__)

SCALA_VERSION = "2.13"
LOG4J_VERSION = "2.24.3"
"""Log4j 2 version Kafka 4.0/4.1 build against (gradle/dependencies.gradle)."""
SLF4J_VERSION = "1.7.36"
"""Kafka 4.x still uses SLF4J 1.7; pinning it keeps the 1.x binding from being ignored."""
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
"""Pinned so Maven never has to resolve 'latest' plugin metadata."""
MIN_JAVA = 17
DEFAULT_HEAP = ("-Xms128m", "-Xmx512m")
_COMPLETE = ".complete"
_FETCH_TIMEOUT_S = 900.0
SASL_MECHANISM = "SCRAM-SHA-512"
"""The one mechanism clients may use on the embedded broker."""
BROKER_USER = "tidegate-broker"
"""The broker's own principal (inter-broker and controller connections); a super user."""


def require_embedded_security(settings: Settings) -> None:
    """Refuse client settings the embedded broker would turn away, before starting anything."""
    if (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) != (
        "SASL_PLAINTEXT",
        SASL_MECHANISM,
    ):
        raise DevstackError(
            "the embedded Kafka broker authenticates every client with SASL_PLAINTEXT and "
            f"{SASL_MECHANISM}; unset TIDEGATE_KAFKA_SECURITY_PROTOCOL and "
            "TIDEGATE_KAFKA_SASL_MECHANISM (other values are for a cluster of your own)"
        )
    if settings.kafka_sasl_username == BROKER_USER:
        raise DevstackError(f"TIDEGATE_KAFKA_SASL_USERNAME cannot be {BROKER_USER!r}: the broker's")


def find_java() -> str | None:
    """The ``java`` to use: ``$JAVA_HOME/bin/java`` if set, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home:
        candidate = Path(home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def java_major_version(java: str) -> int:
    """The feature version of a JVM (8 for ``1.8.0_x``, 17 for ``17.0.15``)."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolMissingError(
            f"could not run `{java} -version` ({exc}); install Java 17+"
        ) from None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise ToolMissingError(f"could not parse the version printed by `{java} -version`")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # the 1.8-era "1.x" scheme
        major = int(match.group(2))
    return major


def require_java() -> str:
    """Path of a Java 17+ runtime, or a ToolMissingError saying how to get one."""
    java = find_java()
    if java is None:
        raise ToolMissingError(
            "java not found: install Java 17+ (apt-get install openjdk-17-jre-headless) "
            "or set JAVA_HOME"
        )
    major = java_major_version(java)
    if major < MIN_JAVA:
        raise ToolMissingError(
            f"{java} is Java {major}, Kafka 4 needs Java {MIN_JAVA}+: install "
            f"openjdk-17-jre-headless or point JAVA_HOME at a newer JDK"
        )
    return java


def require_mvn() -> str:
    """Path of ``mvn``, or a ToolMissingError saying how to get it."""
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissingError(
            "mvn not found: install Maven 3.8+ (apt-get install maven); it is needed once "
            "to fetch the Kafka jars"
        )
    return mvn


def new_cluster_id() -> str:
    """A KRaft cluster id shaped like ``org.apache.kafka.common.Uuid.randomUuid()``."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not value.startswith("-"):  # Kafka rejects ids that look like a CLI flag
            return value


def _pom(version: str) -> str:
    def dep(group: str, artifact: str, ver: str) -> str:
        return (
            f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{ver}</version></dependency>\n"
        )

    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.tidegate</groupId><artifactId>kafka-runtime</artifactId>"
        f"<version>{version}</version>\n"
        "  <packaging>pom</packaging>\n"
        "  <dependencies>\n"
        + dep("org.apache.kafka", f"kafka_{SCALA_VERSION}", version)
        + dep("org.apache.logging.log4j", "log4j-api", LOG4J_VERSION)
        + dep("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION)
        + dep("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION)
        + dep("org.slf4j", "slf4j-api", SLF4J_VERSION)
        + "  </dependencies>\n</project>\n"
    )


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise fetches: two pytest sessions or a `make setup` may fetch at the same time."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def libs_dir(cache_dir: Path, version: str) -> Path:
    """Where the jars of one Kafka version are cached."""
    return cache_dir / f"libs-{version}"


def is_fetched(cache_dir: Path, version: str) -> bool:
    """Whether a complete jar set for ``version`` is already cached."""
    libs = libs_dir(cache_dir, version)
    return (libs / _COMPLETE).is_file() and (
        libs / f"kafka_{SCALA_VERSION}-{version}.jar"
    ).is_file()


def fetch(cache_dir: Path, version: str, *, maven_repo: Path | None = None) -> Path:
    """Resolve the broker's jars from Maven Central into the cache (idempotent) and return it.

    The copy lands in a ``.partial`` directory and is renamed into place only when complete,
    so an interrupted fetch is simply redone next time.
    """
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 4:
        raise DevstackError(f"Kafka {version} is not supported: use a 4.x version (e.g. 4.1.1)")
    libs = libs_dir(cache_dir, version)
    if is_fetched(cache_dir, version):
        return libs
    mvn = require_mvn()
    with _locked(cache_dir / f".libs-{version}.lock"):
        if is_fetched(cache_dir, version):
            return libs
        started = time.monotonic()
        log.info("fetching Kafka %s jars from Maven Central into %s", version, libs)
        pom_dir = cache_dir / f"pom-{version}"
        pom_dir.mkdir(parents=True, exist_ok=True)
        (pom_dir / "pom.xml").write_text(_pom(version))
        partial = cache_dir / f"libs-{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        mvn_log = cache_dir / f"mvn-{version}.log"
        argv = [
            mvn,
            "-B",
            "-ntp",
            "-f",
            str(pom_dir / "pom.xml"),
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ]
        if maven_repo is not None:
            argv.append(f"-Dmaven.repo.local={maven_repo}")
        with mvn_log.open("wb") as out:
            try:
                result = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=_FETCH_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                raise FetchError(
                    f"Maven did not finish fetching Kafka {version} in {_FETCH_TIMEOUT_S:.0f}s; "
                    f"see {mvn_log}"
                ) from None
        if result.returncode != 0:
            raise FetchError(
                f"Maven could not resolve Kafka {version} ({_first_error(mvn_log)}); "
                f"see {mvn_log}; check Maven Central access or set TIDEGATE_KAFKA_VERSION "
                f"to another 4.x release"
            )
        _check_jars(partial, version, mvn_log)
        shutil.rmtree(libs, ignore_errors=True)
        partial.rename(libs)
        (libs / _COMPLETE).write_text(f"{version}\n")
        log.info(
            "fetched %d Kafka %s jars in %.1fs",
            len(list(libs.glob("*.jar"))),
            version,
            time.monotonic() - started,
        )
    return libs


def _first_error(mvn_log: Path) -> str:
    for line in mvn_log.read_text(errors="replace").splitlines():
        if line.startswith("[ERROR]") and line[7:].strip():
            return line[7:].strip()[:300]
    return "no [ERROR] line in the Maven output"


def _check_jars(libs: Path, version: str, mvn_log: Path) -> None:
    """Refuse a jar set that would run without logs or with the wrong SLF4J generation."""
    names = {p.name for p in libs.glob("*.jar")}
    required = [
        f"kafka_{SCALA_VERSION}-{version}.jar",
        f"log4j-core-{LOG4J_VERSION}.jar",
        f"log4j-slf4j-impl-{LOG4J_VERSION}.jar",
        f"slf4j-api-{SLF4J_VERSION}.jar",
    ]
    missing = [name for name in required if name not in names]
    if missing:
        raise FetchError(f"Kafka {version} jar set lacks {', '.join(missing)}; see {mvn_log}")
    slf4j = sorted(n for n in names if n.startswith("slf4j-api-"))
    if slf4j != [f"slf4j-api-{SLF4J_VERSION}.jar"]:
        raise FetchError(f"conflicting SLF4J APIs in the Kafka {version} jar set: {slf4j}")


_LOG4J2_PROPERTIES = """\
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


class KafkaBroker(_proc.Service):
    """One local KRaft broker+controller process.

    Args:
        version: Kafka release (``kafka_2.13`` artifact version, 4.x).
        port: SASL_PLAINTEXT client listener port (the bootstrap port).
        controller_port: KRaft controller listener port.
        cache_dir: where jars are cached, shared by all brokers of the same version.
        data_dir: this broker's own directory: configs, credentials, ``data/`` (log.dirs),
            ``logs/``, pid.
        detach: leave the JVM running when this Python process exits (``devstack up``).
        admin_user: the super user clients log in as (tidegate's own principal).
        admin_password: its password; ``None``: generated once into :attr:`credentials_file`.
    """

    def __init__(
        self,
        *,
        version: str,
        port: int,
        controller_port: int,
        cache_dir: Path,
        data_dir: Path,
        host: str = _proc.LOOPBACK,
        heap_opts: tuple[str, ...] = DEFAULT_HEAP,
        detach: bool = False,
        maven_repo: Path | None = None,
        admin_user: str = "tidegate",
        admin_password: str | None = None,
    ) -> None:
        self.version = version
        self.port = port
        self.controller_port = controller_port
        self.cache_dir = cache_dir.resolve()
        self.data_dir = data_dir.resolve()
        self.host = host
        self.heap_opts = heap_opts
        self.detach = detach
        self.maven_repo = maven_repo
        self.admin_user = admin_user
        self._admin_password = admin_password or None
        self._popen: subprocess.Popen[bytes] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, detach: bool = False) -> KafkaBroker:
        """The broker that ``settings`` describe, with its state under ``data_dir/kafka``."""
        return cls(
            version=settings.kafka_version,
            port=settings.kafka_port,
            controller_port=settings.kafka_controller_port,
            cache_dir=settings.kafka_cache_dir,
            data_dir=settings.data_dir / "kafka",
            detach=detach,
            admin_user=settings.kafka_sasl_username,
            admin_password=settings.kafka_sasl_password.get_secret_value() or None,
        )

    # -- paths -----------------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def log_dir(self) -> Path:
        """Directory of ``server.log`` (the broker's own log) and ``stdout.log``."""
        return self.data_dir / "logs"

    @property
    def server_log(self) -> Path:
        """The broker's Log4j 2 log file."""
        return self.log_dir / "server.log"

    @property
    def storage_dir(self) -> Path:
        """``log.dirs``: partitions and the KRaft metadata log."""
        return self.data_dir / "data"

    @property
    def server_properties(self) -> Path:
        """Generated broker config; its path also identifies our JVM in ``ps`` output."""
        return self.data_dir / "server.properties"

    @property
    def credentials_file(self) -> Path:
        """``{"users": {name: password}}``, mode 0600: read by :mod:`config.kafka`."""
        return self.data_dir / CREDENTIALS_FILE

    @property
    def pid_file(self) -> Path:
        """Pid of the running JVM, so another process (``devstack down``) can stop it."""
        return self.data_dir / "kafka.pid"

    def is_formatted(self) -> bool:
        """Whether the storage directory holds a formatted KRaft log."""
        return (self.storage_dir / "meta.properties").is_file()

    # -- users ---------------------------------------------------------------------------
    def passwords(self, users: Iterable[str] = ()) -> dict[str, str]:
        """Every user's password, generating one for each of ``users`` that has none yet.

        Only the broker's own users exist on the broker by themselves; others (the agencies')
        must then be created with these passwords (:func:`runtime.ops.ensure_users`).
        """
        known = read_credentials(self.credentials_file)
        updated = dict(known)
        given = self._admin_password
        if given is not None:
            if self.is_formatted() and known.get(self.admin_user, given) != given:
                raise DevstackError(
                    f"TIDEGATE_KAFKA_SASL_PASSWORD is not the password of {self.admin_user!r} on "
                    f"the embedded broker (see {self.credentials_file}); unset it"
                )
            updated[self.admin_user] = given
        for user in (self.admin_user, BROKER_USER, *users):
            updated.setdefault(user, secrets.token_urlsafe(24))
        if updated != known:
            self._write_private(self.credentials_file, json.dumps({"users": updated}, indent=1))
        return updated

    def password(self, user: str) -> str:
        """The password of one user (generated if it has none yet)."""
        return self.passwords([user])[user]

    # -- lifecycle -------------------------------------------------------------------------
    def fetch(self) -> Path:
        """Make sure the jars are cached (see :func:`fetch`)."""
        return fetch(self.cache_dir, self.version, maven_repo=self.maven_repo)

    def pid(self) -> int | None:
        """Pid of our running broker JVM, if any."""
        if self._popen is not None and self._popen.poll() is None:
            return self._popen.pid
        return _proc.read_pid(self.pid_file, str(self.server_properties))

    def is_running(self) -> bool:
        """Whether our broker JVM is alive (it may still be starting)."""
        return self.pid() is not None

    def start(self, *, fresh: bool = False, timeout: float = 90.0) -> None:
        """Start the broker and return once its client listener accepts connections.

        Args:
            fresh: wipe topics, offsets and logs first. Otherwise existing storage is reused
                and only formatted if it has never been (or if it was formatted before
                authentication: then it has no users, and is formatted afresh).
            timeout: seconds to wait for readiness. Kafka opens the client socket only once
                the broker is unfenced, so an open port means it can serve requests.
        """
        running = self.pid()
        if running is not None:
            raise DevstackError(
                f"Kafka from {self.data_dir} is already running (pid {running}); stop it first"
            )
        _proc.require_ports_free(
            {"Kafka": self.port, "Kafka controller": self.controller_port}, self.host
        )
        libs = self.fetch()
        java = require_java()
        started = time.monotonic()
        if self.is_formatted() and not self.credentials_file.is_file():
            log.warning(
                "Kafka storage in %s predates authentication (no %s): formatting it afresh; "
                "its topics and offsets are gone",
                self.storage_dir,
                self.credentials_file.name,
            )
            fresh = True
        if fresh:
            shutil.rmtree(self.storage_dir, ignore_errors=True)
            shutil.rmtree(self.log_dir, ignore_errors=True)
        passwords = self.passwords()
        self._write_configs(passwords[BROKER_USER])
        classpath = f"{libs}/*"  # the JVM expands the wildcard itself
        log_opts = [
            f"-Dkafka.logs.dir={self.log_dir}",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            # Log4j's own shutdown hook would otherwise race Kafka's and swallow the shutdown
            # log lines; the file appender flushes every line, so nothing is lost without it.
            "-Dlog4j2.shutdownHookEnabled=false",
        ]
        if not self.is_formatted():
            self._format(java, classpath, log_opts, passwords)
        argv = [
            java,
            *self.heap_opts,
            "-server",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-Djava.awt.headless=true",
            *log_opts,
            "-cp",
            classpath,
            "kafka.Kafka",
            str(self.server_properties),
        ]
        popen = _proc.spawn(
            argv, log_path=self.log_dir / "stdout.log", cwd=self.data_dir, detach=self.detach
        )
        self._popen = popen
        self.pid_file.write_text(f"{popen.pid}\n")
        try:
            _proc.wait_for_port(
                self.port,
                host=self.host,
                timeout=timeout,
                alive=lambda: popen.poll() is None,
                what=f"Kafka {self.version}",
                log_hint=self.server_log,
            )
        except ServiceStartError as exc:
            details = _proc.tail(self.server_log) or _proc.tail(self.log_dir / "stdout.log")
            self.stop()
            if details:
                log.error("last lines of the Kafka log:\n%s", details)
            raise exc from None
        log.info(
            "Kafka %s ready on %s (pid %d, %.1fs)",
            self.version,
            self.bootstrap,
            popen.pid,
            time.monotonic() - started,
        )

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop the broker: SIGTERM (controlled shutdown), SIGKILL after ``timeout`` seconds.

        Safe to call when nothing runs. Works from another process through the pid file.
        """
        pid = self.pid()
        if pid is not None:
            started = time.monotonic()
            _proc.terminate(pid, timeout=timeout, what="Kafka", popen=self._popen)
            log.info("Kafka stopped (%.1fs)", time.monotonic() - started)
        elif self._popen is not None:
            self._popen.wait()  # reap an already-dead child
        self._popen = None
        self.pid_file.unlink(missing_ok=True)

    # -- internals -------------------------------------------------------------------------
    def _write_private(self, path: Path, text: str) -> None:
        """Write a file only its owner can read (it holds passwords), replacing it atomically."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        partial.replace(path)

    def _write_configs(self, broker_password: str) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        client = f"SASL_PLAINTEXT://{self.host}:{self.port}"
        scram = SASL_MECHANISM.lower()
        login = f'username="{BROKER_USER}" password="{broker_password}"'
        # Single-node overrides: the defaults (RF 3, min ISR 2, 50 partitions, 128 MiB dedupe
        # buffer, 3 s rebalance delay) make a one-broker cluster fail or start slowly.
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"{client},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": client,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "SASL_PLAINTEXT",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,"
            "CONTROLLER:SASL_PLAINTEXT",
            "sasl.mechanism.inter.broker.protocol": SASL_MECHANISM,
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms": SASL_MECHANISM,
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            f"listener.name.sasl_plaintext.{scram}.sasl.jaas.config": (
                f"org.apache.kafka.common.security.scram.ScramLoginModule required {login};"
            ),
            # The controller listener knows one user, the broker itself.
            "listener.name.controller.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {login} "
                f'user_{BROKER_USER}="{broker_password}";'
            ),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:{self.admin_user};User:{BROKER_USER}",
            "allow.everyone.if.no.acl.found": "false",
            "log.dirs": str(self.storage_dir),
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        }
        self._write_private(self.server_properties, "".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(_LOG4J2_PROPERTIES)

    def _format(
        self, java: str, classpath: str, log_opts: list[str], passwords: dict[str, str]
    ) -> None:
        # A half-written storage dir (no meta.properties) would make the formatter refuse.
        shutil.rmtree(self.storage_dir, ignore_errors=True)
        cluster_id = new_cluster_id()
        args = [
            *log_opts,
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.server_properties),
        ]
        for user in (self.admin_user, BROKER_USER):
            args += ["--add-scram", f"{SASL_MECHANISM}=[name={user},password={passwords[user]}]"]
        # The passwords go in a private argument file, not on a command line anyone can read.
        argfile = self.data_dir / "format.args"
        self._write_private(argfile, "".join(f"{_java_quote(arg)}\n" for arg in args))
        try:
            result = subprocess.run(
                [java, f"@{argfile}"],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                cwd=self.data_dir,
            )
        finally:
            argfile.unlink(missing_ok=True)
        (self.log_dir / "format.log").write_text(result.stdout + result.stderr)
        if result.returncode != 0 or not self.is_formatted():
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ServiceStartError(
                f"formatting Kafka storage failed: {last[0]}; see {self.log_dir / 'format.log'}"
            )
        log.info("formatted Kafka storage in %s (cluster id %s)", self.storage_dir, cluster_id)


def _java_quote(arg: str) -> str:
    """One argument of a ``java @argfile``: double-quoted, backslashes and quotes escaped."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
