"""Runtime code: call a workload's endpoint with its own ik_live_ key and print the answer.

The endpoint URL comes from the stack outputs; the data-plane key comes from the
environment (INFERENCEKEY_API_KEY) or from AWS Secrets Manager, never from the
provisioning side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from openai import OpenAI


def endpoint_from_stack(output: str, stack: str | None, cwd: str | None) -> str:
    """Read one endpoint URL from `pulumi stack output --json`."""
    command = ["pulumi", "stack", "output", "--json"] + (["--stack", stack] if stack else [])
    outputs = json.loads(subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=True).stdout)
    if output not in outputs:
        raise SystemExit(f"stack output {output!r} not found; the stack exports {', '.join(sorted(outputs))}")
    return outputs[output]


def api_key_from_secrets_manager(secret_id: str, region: str) -> str:
    """Fetch the ik_live_ key stored as the plain string value of a Secrets Manager secret."""
    import boto3

    client = boto3.client("secretsmanager", region_name=region)
    return client.get_secret_value(SecretId=secret_id)["SecretString"]


def resolve_api_key(secret_id: str | None, region: str) -> str:
    if secret_id:
        return api_key_from_secrets_manager(secret_id, region)
    key = os.environ.get("INFERENCEKEY_API_KEY")
    if not key:
        raise SystemExit("no data-plane key: set INFERENCEKEY_API_KEY or pass --secret-id for AWS Secrets Manager")
    return key


def ask(endpoint: str, api_key: str, question: str) -> str:
    """Send one chat message to the workload and return the answer text."""
    client = OpenAI(base_url=endpoint, api_key=api_key, max_retries=2, timeout=30)
    completion = client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": question}],
    )
    return completion.choices[0].message.content or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", help="endpoint URL; read from the stack outputs when omitted")
    parser.add_argument("--output", default="support_bot_endpoint", help="name of the stack output that contains the endpoint URL")
    parser.add_argument("--stack", help="stack to read the output from (default: the selected stack)")
    parser.add_argument("--cwd", help="folder of the Pulumi project (default: the current folder)")
    parser.add_argument("--secret-id", help="AWS Secrets Manager secret holding the ik_live_ key")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    parser.add_argument("--question", default="How do I reset my password?")
    args = parser.parse_args(argv)

    endpoint = args.endpoint or endpoint_from_stack(args.output, args.stack, args.cwd)
    answer = ask(endpoint, resolve_api_key(args.secret_id, args.region), args.question)
    print(f"endpoint: {endpoint}")
    print(f"answer:   {answer}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
