"""The local AWS API for discovery: moto's server on loopback when it can start, else moto's in-process mock.

moto's server mode needs Flask (`moto[server]`), which the locked environment does not install; the
fallback runs the same tests through the in-process mock, where discovery is called without
`--endpoint-url` (the normal credential chain, intercepted by moto). Either way boto3 speaks the
real Secrets Manager, KMS and IAM wire protocol against moto's implementation of them.
"""

from __future__ import annotations

import importlib.util
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

from tests.fixtures import LOOPBACK

REGION = "us-east-1"


@dataclass
class AwsApi:
    endpoint_url: str | None  # None: the in-process mock (no server)
    client: Callable[[str], Any]

    def args(self) -> list[str]:
        return ["--endpoint-url", self.endpoint_url] if self.endpoint_url else []


def server_available() -> bool:
    return importlib.util.find_spec("flask") is not None and importlib.util.find_spec("flask_cors") is not None


@pytest.fixture
def aws_api(monkeypatch) -> Iterator[AwsApi]:
    """A fresh, empty AWS API per test (each seed starts from nothing)."""
    import boto3

    for name, value_ in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value_)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    if server_available():
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # Moto's backends are global to the process, not per server: empty them so each seed starts from nothing.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
        try:
            yield AwsApi(url, lambda service: boto3.client(service, region_name=REGION, endpoint_url=url))
        finally:
            server.stop()
    else:
        from moto import mock_aws

        with mock_aws():
            yield AwsApi(None, lambda service: boto3.client(service, region_name=REGION))
