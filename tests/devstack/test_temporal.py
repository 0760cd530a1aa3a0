"""The Temporal dev server from the venv: search attributes, and state kept across restarts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import workflow
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from devstack import _proc
from devstack.temporal import SEARCH_ATTRIBUTES, TemporalDevServer


async def _custom_attributes(client: Client) -> dict[str, int]:
    response = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    return dict(response.custom_attributes)


async def test_dev_server_restarts_on_the_same_db(tmp_path: Path) -> None:
    port, ui_port = _proc.free_ports(2)
    server = TemporalDevServer(
        port=port,
        ui_port=ui_port,
        db_file=tmp_path / "temporal.db",
        log_file=tmp_path / "temporal.log",
        namespace="tidegate-test",
        headless=True,
    )
    workflow_id = f"flood-{uuid.uuid4().hex[:8]}"
    with server:
        client = await Client.connect(server.address, namespace="tidegate-test")
        assert set(SEARCH_ATTRIBUTES) <= set(await _custom_attributes(client))
        # No worker polls this queue: the workflow just stays RUNNING, which is all we need.
        await client.start_workflow("NoSuchWorkflow", id=workflow_id, task_queue="nobody")
    assert not server.is_running()
    assert not _proc.port_open(port)

    with server:
        client = await Client.connect(server.address, namespace="tidegate-test")
        handle = client.get_workflow_handle(workflow_id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("test done")


async def test_temporal_env_registers_search_attributes(temporal_env: WorkflowEnvironment) -> None:
    assert set(SEARCH_ATTRIBUTES) <= set(await _custom_attributes(temporal_env.client))


@workflow.defn(sandboxed=False)
class _ThreeDayWait:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(days=3))
        return "woke"


async def test_time_skipping_env_skips_days(time_skipping_env: WorkflowEnvironment) -> None:
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(time_skipping_env.client, task_queue=queue, workflows=[_ThreeDayWait]):
        result = await time_skipping_env.client.execute_workflow(
            _ThreeDayWait.run, id=queue, task_queue=queue
        )
    assert result == "woke"
