"""The local AWS API for discovery: moto's server (`moto[server]`, in the locked dev group) on loopback, so
discovery talks to a real endpoint through `--endpoint-url` with boto3's Secrets Manager, KMS and IAM wire
protocol. `aws_in_process` is moto's in-process mock, for the one check the server cannot make: IAM
enforcement, which moto switches on per process (discovery then runs on the normal credential chain).
"""

from __future__ import annotations

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


def _environment(monkeypatch) -> None:
    for name, value_ in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value_)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws_api(monkeypatch) -> Iterator[AwsApi]:
    """A fresh, empty AWS API per test (each seed starts from nothing), served on loopback."""
    import boto3
    from moto.server import ThreadedMotoServer

    _environment(monkeypatch)
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # The server runs in this process on moto's global backends: empty them, or one seed's estate leaks into
    # the next test's (an alias "already exists").
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield AwsApi(url, lambda service: boto3.client(service, region_name=REGION, endpoint_url=url))
    finally:
        server.stop()


@pytest.fixture
def aws_in_process(monkeypatch) -> Iterator[AwsApi]:
    """moto's in-process mock: discovery without --endpoint-url, on the normal credential chain."""
    import boto3
    from moto import mock_aws

    _environment(monkeypatch)
    with mock_aws():
        yield AwsApi(None, lambda service: boto3.client(service, region_name=REGION))
