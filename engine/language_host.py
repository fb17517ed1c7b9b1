"""A Python language host for the Pulumi engine, used when the project builds its own CLI.

The Go module proxy reachable here does not serve Pulumi's Go language host, so this
gRPC server takes its place. It runs a Python program for the engine and serves the
few other calls that an `up`, `preview`, `refresh` or `destroy` makes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf import empty_pb2

from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

HOST_VERSION = "3.274.0"
RUN_PROGRAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_program.py")

# The program runner exits with this code after it has already reported the error to
# the engine, so the host must not report it a second time.
EXIT_AFTER_REPORTED_ERROR = 32


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """Runs Pulumi programs written in Python, each in a child interpreter."""

    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(self, request, context):
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=HOST_VERSION)

    def GetRequiredPlugins(self, request, context):
        # Dynamic providers ship with the engine; this host never needs a download.
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request, context):
        return language_pb2.GetRequiredPackagesResponse()

    def GetProgramDependencies(self, request, context):
        return language_pb2.GetProgramDependenciesResponse()

    def InstallDependencies(self, request, context):
        # Dependencies come from the project's own virtualenv, set up by `make`.
        return iter(())

    def RuntimeOptionsPrompts(self, request, context):
        return language_pb2.RuntimeOptionsResponse()

    def About(self, request, context):
        version = ".".join(str(part) for part in sys.version_info[:3])
        return language_pb2.AboutResponse(executable=sys.executable, version=version)

    def Cancel(self, request, context):
        return empty_pb2.Empty()

    def Run(self, request, context):
        command = [self._interpreter(request), "-u", RUN_PROGRAM, *self._program_arguments(request)]
        env = dict(os.environ)
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))

        completed = subprocess.run(command, cwd=request.pwd or None, env=env, check=False)

        if completed.returncode == 0:
            return language_pb2.RunResponse()
        if completed.returncode == EXIT_AFTER_REPORTED_ERROR:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Python program exited with code {completed.returncode}")

    def _interpreter(self, request) -> str:
        # Honour `runtime.options.virtualenv` in Pulumi.yaml, as Pulumi's own host does;
        # otherwise the program runs in the interpreter that runs this host.
        options = dict(request.info.options.items()) if request.HasField("info") else {}
        virtualenv = options.get("virtualenv")
        if not virtualenv:
            return sys.executable
        root = request.info.root_directory or request.pwd
        python = os.path.join(root, str(virtualenv), "bin", "python")
        return python if os.path.exists(python) else sys.executable

    def _program_arguments(self, request) -> list[str]:
        program = request.program
        if request.HasField("info"):
            program = os.path.join(request.info.program_directory, request.info.entry_point)
        return [
            f"--monitor={request.monitor_address}",
            f"--engine={self.engine_address}",
            f"--project={request.project}",
            f"--stack={request.stack}",
            f"--organization={request.organization}",
            f"--root-directory={request.info.root_directory if request.HasField('info') else ''}",
            f"--parallel={request.parallel}",
            f"--dry-run={'true' if request.dryRun else 'false'}",
            program,
            *request.args,
        ]


def main() -> None:
    # The engine passes flags first and its own address as the last argument.
    engine_address = sys.argv[-1] if len(sys.argv) > 1 else ""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(PythonLanguageHost(engine_address), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()

    # The engine reads the port from the first line of standard output.
    print(port, flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop(grace=2)


if __name__ == "__main__":
    main()
