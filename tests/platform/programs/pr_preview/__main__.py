"""A stack whose `pull_request` config turns its baseline into a change of every kind.

Baseline: support-bot, docs-embeddings and old-summarizer. The pull request updates
support-bot's description, changes docs-embeddings' task type (a replacement), deletes
old-summarizer and creates ticket-triage.
"""

import pulumi

from pulumi_inferencekey import Workload

pull_request = pulumi.Config().get_bool("pull_request") or False
common = {"backend": "ollama", "model": "llama3.2", "wait_for_ready": False}

support_bot = Workload(
    "support-bot",
    description="answers support questions" if pull_request else "answers questions",
    **common,
)
Workload("docs-embeddings", task_type="embedding" if pull_request else "text2text", **common)

if pull_request:
    # support-bot's endpoint_url is unknown until its update is applied, so the preview
    # checks an input whose value is not known yet.
    Workload("ticket-triage", description=support_bot.endpoint_url.apply(lambda url: f"escalates to {url}"), **common)
else:
    Workload("old-summarizer", **common)
