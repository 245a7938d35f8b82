"""Discover a live estate (AWS, Vault, Kubernetes manifests) and draft a stack file that adopts it:
`python -m offline.discover --help`. Describe and list only; never a secret value, never a write."""
