"""Authentication and authorization shared by every service."""

from agora.platform.auth.dependencies import (
    Admin,
    CurrentSubject,
    OptionalSubject,
    ServiceCaller,
    ServiceOrAdmin,
    current_subject,
    optional_subject,
    require_role,
)
from agora.platform.auth.verifier import InvalidToken, Subject, TokenVerifier, jwks_from_file

__all__ = [
    "Admin",
    "CurrentSubject",
    "InvalidToken",
    "OptionalSubject",
    "ServiceCaller",
    "ServiceOrAdmin",
    "Subject",
    "TokenVerifier",
    "current_subject",
    "jwks_from_file",
    "optional_subject",
    "require_role",
]
