"""List reuse within max_age, merged concurrent lists, invalidation by writes, and the shared client."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from scripted_server import SDK_TOKEN, Reply, workload

from pulumi_inferencekey.client import ControlPlaneClient, shared_client
from pulumi_inferencekey.errors import ServerError
from pulumi_inferencekey.models import WorkloadCreate, WorkloadPatch
from pulumi_inferencekey.settings import Settings

LIST_PATH = "/api/projects/acme/workloads"


def test_list__reused_within_max_age(server, client):
    server.reply(200, [workload()])

    first = client.list_workloads("acme", max_age=30)
    second = client.find_workload("acme", "support-bot", max_age=30)

    assert [record.id for record in first] == ["wl_1"]
    assert second is not None
    assert len(server.requests) == 1


def test_list__max_age_zero_fetches_again(server, client):
    server.add(Reply(200, [workload()]), Reply(200, []))

    client.list_workloads("acme", max_age=30)
    records = client.list_workloads("acme")

    assert records == []
    assert len(server.requests) == 2


def test_list__cache_is_per_project(server, client):
    server.add(Reply(200, [workload()]), Reply(200, []))

    client.list_workloads("acme", max_age=30)
    client.list_workloads("globex", max_age=30)

    assert server.calls() == [("GET", LIST_PATH), ("GET", "/api/projects/globex/workloads")]


def test_list__concurrent_calls_share_one_request(server, client):
    server.reply(200, [workload()], delay=0.3)
    start = threading.Barrier(8)

    def read(_: int) -> list[str]:
        start.wait(timeout=5)
        return [record.id for record in client.list_workloads("acme")]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(read, range(8), timeout=10))

    assert results == [["wl_1"]] * 8
    assert len(server.requests) == 1


def test_list__concurrent_calls_share_failure(server, settings):
    server.reply(500, {"error": {"code": "internal", "message": "down"}}, delay=0.3)
    start = threading.Barrier(4)

    with ControlPlaneClient(settings) as client:

        def read(_: int) -> str:
            start.wait(timeout=5)
            with pytest.raises(ServerError) as caught:
                client.list_workloads("acme")
            return caught.value.reason

        with ThreadPoolExecutor(max_workers=4) as pool:
            reasons = list(pool.map(read, range(4), timeout=10))

    assert reasons == ["server error (HTTP 500): down"] * 4
    assert len(server.requests) == 1


@pytest.mark.parametrize("write", ["create", "update", "delete", "failed-create"])
def test_list__write_invalidates_cache(server, client, write):
    server.reply(200, [workload()])
    client.list_workloads("acme", max_age=60)

    if write == "create":
        server.reply(201, workload("new", "wl_2"))
        client.create_workload("acme", WorkloadCreate(name="New", backend="ollama", model_name="m"))
    elif write == "update":
        server.reply(200, workload())
        client.update_workload("acme", "wl_1", WorkloadPatch(name="Renamed"))
    elif write == "delete":
        server.reply(204)
        client.delete_workload("acme", "wl_1")
    else:
        server.reply(500, {"error": {"code": "internal", "message": "down"}})
        with pytest.raises(ServerError):
            client.create_workload("acme", WorkloadCreate(name="New", backend="ollama", model_name="m"))
    server.reply(200, [])
    records = client.list_workloads("acme", max_age=60)

    assert records == []
    assert [method for method, _ in server.calls()].count("GET") == 2


def test_list__write_during_fetch_is_not_hidden(server, client):
    # The list in flight may predate the write, so it must not be cached for later readers.
    server.reply(200, [workload()], delay=0.3)
    server.reply(204)
    server.reply(200, [])

    with ThreadPoolExecutor(max_workers=1) as pool:
        slow_list = pool.submit(client.list_workloads, "acme", max_age=60)
        _wait_for_first_request(server)
        client.delete_workload("acme", "wl_1")
        slow_list.result(timeout=5)

    assert client.list_workloads("acme", max_age=60) == []
    assert [method for method, _ in server.calls()] == ["GET", "DELETE", "GET"]


def _wait_for_first_request(server) -> None:
    deadline = time.monotonic() + 5
    while not server.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.requests


def test_list__returns_copies(server, client):
    server.reply(200, [workload()])

    first = client.list_workloads("acme", max_age=60)
    first[0].name = "changed by caller"
    second = client.list_workloads("acme", max_age=60)

    assert second[0].name == "Support Bot"


def test_shared_client__one_per_base_url_and_token():
    settings = Settings(base_url="http://127.0.0.1:9", project="acme", sdk_token=SDK_TOKEN)
    other_token = Settings(base_url="http://127.0.0.1:9", project="acme", sdk_token=SDK_TOKEN.replace("0badc0de", "0badc0df"))
    other_project = Settings(base_url="http://127.0.0.1:9", project="globex", sdk_token=SDK_TOKEN)

    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = list(pool.map(lambda _: shared_client(settings), range(16)))

    assert all(client is clients[0] for client in clients)
    assert shared_client(other_project) is clients[0]
    assert shared_client(other_token) is not clients[0]
