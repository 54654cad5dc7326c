"""Recommendations' background work: keeping the similarity model in step with the product table.

Product events only change rows; every ``model_refresh_seconds`` this task compares the table's
watermark (row count, last change) with the one the model was built from and rebuilds when they
differ, the first time as the service starts. A catalog import of a thousand products therefore
costs one or two rebuilds, not a thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from agora.platform.tasks import PeriodicTask
from agora.services.recommendations.runtime import recommendations_runtime

if TYPE_CHECKING:
    from agora.platform.service import ServiceContext

REFRESH_TASK = "recommendations.refresh_similarity"


def periodic(context: ServiceContext) -> Iterable[PeriodicTask]:
    runtime = recommendations_runtime(context)

    async def refresh() -> bool:
        # shielded: a stop (cancellation) waits for the run to finish instead of cutting a statement
        # short, which could leave a connection un-returned (aiomysql) while the engine is disposed
        run = asyncio.create_task(runtime.refresh())
        try:
            return await asyncio.shield(run)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await run
            raise

    return (PeriodicTask(REFRESH_TASK, runtime.settings.model_refresh_seconds, refresh),)
