"""Quickstart: a vLLM support bot, an Ollama embedding model and an autoscaled chat model.

Each workload's OpenAI-compatible endpoint becomes a stack output that runtime code reads.
"""

import pulumi

from pulumi_inferencekey import Workload

support_bot = Workload(
    "support-bot",
    name="Support bot",
    backend="vllm",
    model="Qwen/Qwen2.5-7B-Instruct",
    task_type="text2text",
    command="vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 8192 --gpu-memory-utilization 0.9",
    vllm_version="0.11.0",
    execution_policy="fixed",
    execution_policy_config={"replicas": 1},
)

embeddings = Workload(
    "docs-embeddings",
    name="Docs embeddings",
    backend="ollama",
    model="nomic-embed-text",
    task_type="embedding",
)

burst_chat = Workload(
    "burst-chat",
    name="Burst chat",
    backend="sglang",
    model="meta-llama/Llama-3.1-8B-Instruct",
    execution_policy="autoscaling",
    execution_policy_config={
        "min_workers": 0,
        "max_workers": 4,
        "max_hourly_cost_usd": 6.0,
        "workers": {
            "source": "cloud",
            "cloud_pool": {"gpu_pool": ["NVIDIA L4", "NVIDIA A10G"], "max_hourly_cost_usd": 6.0, "max_instances": 4},
        },
    },
)

pulumi.export("support_bot_endpoint", support_bot.endpoint_url)
pulumi.export("embeddings_endpoint", embeddings.endpoint_url)
pulumi.export("burst_chat_endpoint", burst_chat.endpoint_url)
