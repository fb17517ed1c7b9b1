"""A stack of the platform module: the environment is the stack name (dev or prod)."""

import pulumi

from inference_platform import Catalogue, InferencePlatform, Override
from pulumi_inferencekey import WorkloadArgs

CATALOGUE = Catalogue(
    workloads={
        "chat": WorkloadArgs(
            backend="vllm",
            model="Qwen/Qwen2.5-7B-Instruct",
            command="vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 8192",
            execution_policy="fixed",
            execution_policy_config={"replicas": 1},
        ),
        "embeddings": WorkloadArgs(backend="ollama", model="nomic-embed-text", task_type="embedding"),
        "reranker": WorkloadArgs(backend="vllm", model="BAAI/bge-reranker-v2-m3", task_type="reranker"),
    },
    overrides={
        # dev runs a small chat model and no reranker; prod scales chat on cloud GPUs.
        "dev": {"chat": Override(model="Qwen/Qwen2.5-1.5B-Instruct"), "reranker": Override(enabled=False)},
        "prod": {
            "chat": Override(
                execution_policy="autoscaling",
                execution_policy_config={
                    "min_workers": 1,
                    "max_workers": 6,
                    "max_hourly_cost_usd": 12.0,
                    "workers": {"source": "cloud", "cloud_pool": {"gpu_pool": ["NVIDIA L40S", "NVIDIA A100 80GB"]}},
                },
            ),
        },
    },
)

environment = pulumi.Config().get("environment") or pulumi.get_stack()
platform = InferencePlatform("platform", CATALOGUE, environment)
pulumi.export("endpoints", platform.endpoints)
