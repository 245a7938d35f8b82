"""A stand-in for the one Kubernetes API call Vault's Kubernetes auth makes: TokenReview.

It listens on 127.0.0.1 only, knows the service account tokens the test minted, and answers like
the API server: authenticated only for a token it issued, with the audiences that token carries
among those Vault asked for.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER = "https://kubernetes.default.svc.cluster.local"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class FakeKubernetesApi:
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))
    issued: dict[str, dict] = field(default_factory=dict)
    reviews: list[dict] = field(default_factory=list)

    def mint(self, namespace: str, service_account: str, audiences: list[str], ttl: int = 600) -> str:
        """A projected service account token (RS256) as the kubelet would mount it."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": f"system:serviceaccount:{namespace}:{service_account}",
            "aud": audiences,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": service_account, "uid": str(uuid.uuid4())}},
        }
        header = {"alg": "RS256", "typ": "JWT", "kid": "test"}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        token = f"{signing_input}.{_b64(signature)}"
        self.issued[token] = claims
        return token

    def ca_pem(self) -> str:
        """A self-signed cluster CA certificate for the auth method's config (the API itself is served over
        plain HTTP on loopback, so Vault never uses it to verify anything here)."""
        from datetime import datetime, timedelta, timezone

        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.x509.oid import NameOID

        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes-test-ca")])
        now = datetime.now(timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode()

    def review(self, body: dict) -> dict:
        spec = body.get("spec", {})
        claims = self.issued.get(spec.get("token", ""))
        self.reviews.append({"audiences": spec.get("audiences"), "known": claims is not None})
        status: dict = {"authenticated": False}
        if claims is not None and claims["exp"] > time.time():
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
                    self.send_response(404)
                    self.end_headers()
                    return
                payload = json.dumps(api.review(body)).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # keep tokens out of the test output
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"
