"""The TLS contexts of the HTTP clients Agora opens to its own services (service clients, the
front proxy): one per process and kind instead of one per client."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def _tls_context(verifying: bool) -> ssl.SSLContext:
    if verifying:
        return httpx.create_ssl_context()
    # verifies, but trusts no certificate: a TLS connection through it fails instead of going
    # unchecked (the plain-HTTP URLs it serves never open one)
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def tls_context(*base_urls: str) -> ssl.SSLContext:
    """The TLS context for a client of ``base_urls``, one per process and kind.

    httpx builds a context per transport and loads the whole CA bundle into each (~1 MiB
    resident apiece, never given back); a process of the distributed set keeps a client to every
    service it calls. An ``https://`` URL gets one shared verifying context (httpx's own
    defaults: certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``); a plain ``http://`` URL, as the
    services of ``agora up --distributed`` and the cluster's in-cluster URLs are, one that loads
    no certificate at all.
    """
    return _tls_context(any(httpx.URL(url).scheme == "https" for url in base_urls))


__all__ = ["tls_context"]
