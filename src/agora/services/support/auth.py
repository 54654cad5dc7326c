"""The route guards support uses, and who counts as an agent.

Every route needs a signed-in caller (bearer token or the browser's session cookie, CSRF-checked
on writes). Which conversations a caller sees is decided by the repository's visibility (the
conversation's customer, or an agent); the WebSocket authenticates in :mod:`.socket`.
"""

from __future__ import annotations

from agora.platform.auth import CurrentSubject, Subject

#: Roles that answer customers and see every conversation.
AGENT_ROLES = ("support", "admin")
#: The role that may open a conversation.
CUSTOMER_ROLE = "customer"


def is_agent(subject: Subject) -> bool:
    return subject.has_role(*AGENT_ROLES)


__all__ = ["AGENT_ROLES", "CUSTOMER_ROLE", "CurrentSubject", "is_agent"]
