"""`python -m offline.discover aws|vault|kubernetes ... --stack NAME --out Pulumi.NAME.yaml --report report.md`

Reads a live estate (describe and list only: never a secret value, never a write) and writes a draft
stack file that keeps every existing name and adopts every existing resource by its id, plus a report
of the access as it is against the drafted least-privilege access.

  aws         --region REGION --prefix PREFIX [--endpoint-url URL]   (no URL: the normal AWS credential chain)
  vault       --address URL --mount MOUNT [--token-env VAULT_TOKEN]
  kubernetes  --manifests DIR
`--manifests DIR` on aws and vault adds the cluster's ExternalSecrets, stores and ServiceAccounts.

Exit status: 0 written, 2 bad input or an estate that cannot be read (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from offline.discover.draft import analyse, draft, environment_of
from offline.discover.model import DiscoverError, Estate
from offline.discover.report import as_json, findings, markdown, over_broad

HEADER = """# Draft written by `python -m offline.discover {command}` from {source}.
# Names are kept as they are; `adopt` is the id each existing resource is imported by. Keys proposed
# for the spec: offline/discover/SPEC_KEYS.md. Review the report before the first `pulumi up`.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, as every other bad input
        self.exit(2, f"{self.prog}: {message}\n")


def parser() -> argparse.ArgumentParser:
    main_ = _Parser(prog="python -m offline.discover", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main_.add_subparsers(dest="command", required=True, parser_class=_Parser)
    aws = commands.add_parser("aws", help="Secrets Manager secrets under a prefix, their keys, the IAM roles that reach them")
    aws.add_argument("--region", required=True)
    aws.add_argument("--prefix", required=True, help="secret name prefix, e.g. `prod/` or `autolytiq/prod/`")
    aws.add_argument("--endpoint-url", help="an AWS-compatible API (e.g. a local moto server); default: AWS itself")
    vault = commands.add_parser("vault", help="KV paths of a mount, the policies naming it, Kubernetes and AppRole roles")
    vault.add_argument("--address", required=True)
    vault.add_argument("--mount", default="secret")
    vault.add_argument("--token-env", default="VAULT_TOKEN", help="the environment variable holding the token (default VAULT_TOKEN)")
    kubernetes = commands.add_parser("kubernetes", help="ExternalSecrets, stores and ServiceAccounts from manifests")
    for command in (aws, vault, kubernetes):
        command.add_argument("--manifests", metavar="DIR", required=command is kubernetes, help="Kubernetes manifests to read as well")
        command.add_argument("--stack", required=True, help="the stack name the draft is for")
        command.add_argument("--environment", choices=("dev", "staging", "prod"), help="default: from the stack name or prefix")
        command.add_argument("--out", required=True, metavar="FILE", help="the draft stack file (Pulumi.<stack>.yaml)")
        command.add_argument("--report", required=True, metavar="FILE", help="the report (Markdown)")
        command.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    return main_


def read_estate(args: argparse.Namespace) -> Estate:
    if args.command == "aws":
        from offline.discover.aws import discover_aws

        estate = discover_aws(args.region, args.prefix, args.endpoint_url)
    elif args.command == "vault":
        from offline.discover.vault import discover_vault

        token = os.environ.get(args.token_env)
        if not token:
            raise DiscoverError(f"no Vault token: set the environment variable {args.token_env} (or name another with --token-env)")
        estate = discover_vault(args.address, token, args.mount)
    else:
        estate = Estate(source="")
    if args.manifests:
        from offline.discover.kubernetes import discover_manifests

        found = discover_manifests(args.manifests)
        if estate.source:
            estate.merge(found)
        else:
            estate = found
    return estate


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    prefix = getattr(args, "prefix", "") or ""
    environment = args.environment or environment_of(args.stack, prefix)
    try:
        if environment is None:
            raise DiscoverError(f"cannot tell the environment from stack {args.stack!r}: pass --environment dev, staging or prod")
        estate = read_estate(args)
        discovery = analyse(estate, args.stack, environment, prefix)
        stack_file = draft(discovery, prefix)
        broad = over_broad(discovery)
        pack, undecided = findings(discovery)
        header = HEADER.format(command=args.command, source=estate.source)
        _write(args.out, header + yaml.safe_dump(stack_file, sort_keys=False, width=160))
        _write(args.report, markdown(discovery, broad, pack, undecided))
        if args.json:
            _write(args.json, json.dumps(as_json(discovery, broad, pack, undecided), indent=2) + "\n")
    except DiscoverError as error:
        print(f"discover {args.command}: {error}", file=sys.stderr)
        return 2
    print_summary(discovery, broad, args.out, args.report)
    return 0


def print_summary(discovery, broad, out: str, report: str) -> None:
    """For people: the over-broad grants in a table (folded, never cut), then what was written."""
    from rich.console import Console
    from rich.table import Table

    # No markup or emoji: an ARN's `:secret:` is text, not the emoji code rich would draw for it.
    console = Console(width=None if sys.stdout.isatty() else 160, highlight=False, markup=False, emoji=False)
    if broad:
        table = Table(title="Over-broad grants", title_justify="left")
        for column in ("holder", "where", "grant", "reaches"):
            table.add_column(column, overflow="fold")
        for b in broad:
            table.add_row(b.holder, b.where, b.grant, ", ".join(b.reaches) or "only secrets created later")
        console.print(table)
    console.print(f"{len(discovery.secrets)} secret(s), {len(discovery.workloads)} workload(s), {len(broad)} over-broad grant(s), "
                  f"{len(discovery.removed)} access(es) the draft removes, {len(discovery.review)} item(s) to review: "
                  f"draft {out}, report {report}", soft_wrap=True)


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as error:
        raise DiscoverError(f"{path}: cannot be written ({error.strerror})") from None


if __name__ == "__main__":
    sys.exit(main())
