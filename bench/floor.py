"""The empty workflow of the benchmark's floor: one Temporal round trip and nothing else."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn
class EmptyWorkflow:
    """Starts and completes in its first workflow task."""

    @workflow.run
    async def run(self) -> None:
        """Do nothing."""
