"""LLM calls per second in an LLMatic generation, with and without concurrency.

    python bench/llm_concurrency.py [--batch 8] [--latency 0.5] [--embedded]

Runs one LLMatic generation on NB201 at max_concurrency 1 and at N, in the same process,
and prints calls/s for each and their ratio.  The provider is a local OpenAI-compatible
server that answers after a fixed latency (the shape of a remote API); `--embedded` adds the
in-process SmolLM2 model, which has one llama.cpp context and so serialises its calls.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CODE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def serve(latency: float) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(latency)
            prompt = body["messages"][-1]["content"]
            match = CODE.search(prompt)
            answer = f"```python\n{match.group(1) if match else ''}```"
            payload = json.dumps({"id": "b", "object": "chat.completion", "created": 0, "model": body["model"],
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": answer}}],
                                  "usage": {"prompt_tokens": 100, "completion_tokens": 100, "total_tokens": 200}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/v1"


def calls_per_second(model_flag: str, concurrency: int, batch: int) -> float:
    from graphs.run import execute, prepare
    from memory.runs import RunDir
    from settings import load_settings

    with tempfile.TemporaryDirectory() as folder:
        settings = prepare(load_settings(runs_dir=Path(folder), graph="llmatic", model_flags=[model_flag],
                                         llmatic={"generations": 1, "batch": batch, "initial": 4,
                                                  "max_concurrency": concurrency}))
        run = RunDir.create(settings)
        execute(run)
        (event,) = [e for e in run.journal().events() if e.kind == "generation"]
        return event.data["llm_calls"] / event.data["llm_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the local server waits per call")
    parser.add_argument("--embedded", action="store_true", help="also measure the embedded model")
    args = parser.parse_args()

    server, url = serve(args.latency)
    providers = {f"openai-compatible server ({args.latency:g} s latency)": f"all=openai-compatible:bench@{url}"}
    if args.embedded:
        providers["embedded SmolLM2-135M"] = "all=embedded"
    for name, flag in providers.items():
        serial = calls_per_second(flag, 1, args.batch)
        parallel = calls_per_second(flag, args.concurrency, args.batch)
        print(f"{name}: {serial:.2f} calls/s at concurrency 1, {parallel:.2f} at {args.concurrency}: "
              f"ratio {parallel / serial:.2f}")
    server.shutdown()


if __name__ == "__main__":
    main()
