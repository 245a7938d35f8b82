"""A stand-in for the one Kubernetes API call Vault's Kubernetes auth makes: TokenReview.

It listens on 127.0.0.1 only, over HTTPS with a server certificate signed by a cluster CA it generates
(`ca_pem()`, what the auth config's `kubernetes_ca_cert` must hold), and answers like the API server:
- the caller authenticates with a bearer token: one this API issued and that has not expired (else 401),
  and is authorised to create TokenReviews only if its service account is bound to `system:auth-delegator`
  (`delegators`, taken from the plan's ClusterRoleBindings; else 403);
- the review says authenticated only for a token it issued, with the audiences that token carries among
  those Vault asked for.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ISSUER = "https://kubernetes.default.svc.cluster.local"
LEGACY_ISSUER = "kubernetes/serviceaccount"  # what a kubernetes.io/service-account-token Secret's token carries


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class FakeKubernetesApi:
    key: rsa.RSAPrivateKey = field(default_factory=_new_key)  # signs service account tokens
    ca_key: rsa.RSAPrivateKey = field(default_factory=_new_key)  # the cluster CA's key
    issued: dict[str, dict] = field(default_factory=dict)
    reviews: list[dict] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)  # HTTP statuses of refused TokenReview calls
    delegators: set[tuple[str, str]] = field(default_factory=set)  # (namespace, name) bound to system:auth-delegator
    _ca: x509.Certificate | None = None

    def mint(self, namespace: str, service_account: str, audiences: list[str], ttl: int | None = 600) -> str:
        """A projected service account token (RS256) as the kubelet would mount it; `ttl=None`: a long-lived
        token as the token controller writes into a `kubernetes.io/service-account-token` Secret."""
        now = int(time.time())
        claims = {
            "iss": ISSUER if ttl is not None else LEGACY_ISSUER,
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
            "aud": audiences,
            "iat": now,
            "nbf": now,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account, "uid": str(uuid.uuid4())}},
        }
        if ttl is not None:
            claims["exp"] = now + ttl
        header = {"alg": "RS256", "typ": "JWT", "kid": "test"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{_b64(signature)}"
        self.issued[token] = claims
        return token

    def secret_token(self, namespace: str, service_account: str) -> str:
        """The long-lived token the cluster's token controller puts into a service-account-token Secret."""
        return self.mint(namespace, service_account, ["https://kubernetes.default.svc.cluster.local"], ttl=None)

    def ca_certificate(self) -> x509.Certificate:
        if self._ca is None:
            self._ca = self._certificate("kubernetes-test-ca", self.ca_key.public_key(), ca=True)
        return self._ca

    def ca_pem(self) -> str:
        """The cluster CA certificate that signed the API server's certificate."""
        return self.ca_certificate().public_bytes(serialization.Encoding.PEM).decode()

    def _certificate(self, common_name: str, public_key, ca: bool) -> x509.Certificate:
        now = datetime.now(timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-test-ca")]))
            .public_key(public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def _identity(self, token: str) -> tuple[str, str] | None:
        """The service account a bearer token authenticates as, or None."""
        claims = self.issued.get(token)
        if claims is None or claims.get("exp", float("inf")) <= time.time():
            return None
        return claims["kubernetes.io"]["namespace"], claims["kubernetes.io"]["serviceaccount"]["name"]

    def authorise(self, authorization: str | None) -> int:
        """201 when the caller may create TokenReviews, else the API server's 401 or 403."""
        scheme, _, token = (authorization or "").partition(" ")
        identity = self._identity(token.strip()) if scheme == "Bearer" else None
        if identity is None:
            return 401
        return 201 if identity in self.delegators else 403

    def review(self, body: dict) -> dict:
        spec = body.get("spec", {})
        claims = self.issued.get(spec.get("token", ""))
        self.reviews.append({"audiences": spec.get("audiences"), "known": claims is not None})
        status: dict = {"authenticated": False}
        if claims is not None and claims.get("exp", float("inf")) > time.time():
            wanted = spec.get("audiences") or claims["aud"]
            granted = [a for a in wanted if a in claims["aud"]]
            if granted:
                ns, sa = claims["kubernetes.io"]["namespace"], claims["kubernetes.io"]["serviceaccount"]
                status = {
                    "authenticated": True,
                    "audiences": granted,
                    "user": {
                        "username": claims["sub"],
                        "uid": sa["uid"],
                        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"],
                    },
                }
            else:
                status = {"authenticated": False, "error": "token audiences do not match"}
        return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.startswith("/apis/authentication.k8s.io/v1/tokenreviews"):
                    return self._answer(404, {"kind": "Status", "code": 404})
                status = api.authorise(self.headers.get("Authorization"))
                if status != 201:
                    api.refused.append(status)
                    reason = "Unauthorized" if status == 401 else "Forbidden"
                    return self._answer(status, {"kind": "Status", "status": "Failure", "reason": reason, "code": status})
                self._answer(201, api.review(body))

            def _answer(self, status: int, document: dict) -> None:
                payload = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # keep tokens out of the test output
                pass

        server_key = _new_key()
        certificate = self._certificate("kube-apiserver", server_key.public_key(), ca=False)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as directory:
            cert_file, key_file = Path(directory) / "server.crt", Path(directory) / "server.key"
            cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
            key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            context.load_cert_chain(cert_file, key_file)
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"https://127.0.0.1:{server.server_address[1]}"
