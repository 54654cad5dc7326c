"""Reactions to other services' events.

The catalog consumes nothing yet: it is a source of truth that others follow. When it needs to
(e.g. attach media ids once the media service confirms an upload), the consumers go here and
are listed in the spec's ``consumers`` hook.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agora.platform.messaging import Consumer
    from agora.platform.service import ServiceContext


def consumers(_context: ServiceContext) -> Iterable[Consumer]:
    return ()
