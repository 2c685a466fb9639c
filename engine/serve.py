"""``--serve``: the browser preview (web/) with one model, on 127.0.0.1 only.

The page runs the model in MediaPipe Tasks' ImageSegmenter (npm's @mediapipe/tasks-vision, pinned in
web/package-lock.json and installed with ``npm ci --prefix web``); this server hands out the page, the
model and MediaPipe's bundle and wasm files from web/node_modules, and nothing else.
"""
import dataclasses
import http.server
import json
import os
import sys

from config import ExportConfig, ServeConfig
from utils import UserError

WEB = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "web")
TASKS_VISION = os.path.join(WEB, "node_modules", "@mediapipe", "tasks-vision")
HOST = "127.0.0.1"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
                 ".json": "application/json", ".wasm": "application/wasm", ".tflite": "application/octet-stream"}
# The page reaches nothing but this server: MediaPipe Tasks would otherwise post usage metrics to Google
# (the privacy notice in its README). Its wasm needs 'wasm-unsafe-eval'; chosen files play from blob: URLs.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' "
                           "'unsafe-inline'; img-src 'self' data:; media-src 'self' blob: mediastream:")


def check_web_assets():
    """A UserError saying the install command unless MediaPipe's bundle and wasm files are in web/node_modules."""
    if not os.path.isfile(os.path.join(TASKS_VISION, "vision_bundle.mjs")):
        raise UserError(f"--serve: the page's web assets are not installed (no {TASKS_VISION}): "
                        f"run npm ci --prefix {os.path.relpath(WEB)}")


def tflite_to_serve(weights, export: ExportConfig):
    """The ``.tflite`` file to serve for ``--weight_dir``: itself, or for a ``.h5`` checkpoint the float32
    ``NAME.tflite`` that ``--convert`` writes with ``export``'s settings; a UserError names the flag otherwise."""
    if not os.path.isfile(weights):
        raise UserError(f"--weight_dir: no such file: {weights}")
    if weights.endswith(".tflite"):
        return weights
    if weights.endswith(".h5"):
        from convert import tflite  # TensorFlow: only a checkpoint needs it
        return tflite.convert(weights, dataclasses.replace(export, quantize=("float32",), android=False,
                                                           refiner_size=None))[0]
    raise UserError(f"--weight_dir: {weights} is neither a .tflite export nor a .h5 checkpoint")


def routes(model_path):
    """URL path -> file: the page, its script, the model, and MediaPipe's bundle and wasm files."""
    model_url = f"models/{os.path.basename(model_path)}"
    table = {"/": os.path.join(WEB, "index.html"), "/app.js": os.path.join(WEB, "app.js"),
             f"/{model_url}": model_path,
             "/tasks-vision/vision_bundle.mjs": os.path.join(TASKS_VISION, "vision_bundle.mjs")}
    wasm = os.path.join(TASKS_VISION, "wasm")
    table.update({f"/tasks-vision/wasm/{name}": os.path.join(wasm, name) for name in os.listdir(wasm)})
    return table, json.dumps({"model": model_url}).encode()


def handler(table, page_config):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/config.json":
                self.reply(200, ".json", page_config)
            elif path in table:
                with open(table[path], "rb") as f:
                    self.reply(200, os.path.splitext(table[path])[1], f.read())
            else:
                self.reply(404, ".html", b"not found")

        def reply(self, status, extension, body):
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPES[extension])
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # one line per request would drown the address
            pass

    return Handler


def serve(config: ServeConfig, export: ExportConfig = ExportConfig()):
    """Serve the page with ``config.weight_dir`` (a ``.tflite``, or a ``.h5`` exported first, see
    ``tflite_to_serve``) on 127.0.0.1:``config.port`` (0: a free port) until interrupted."""
    check_web_assets()
    model_path = tflite_to_serve(config.weight_dir, export)
    table, page_config = routes(os.path.abspath(model_path))
    try:
        server = http.server.ThreadingHTTPServer((HOST, config.port), handler(table, page_config))
    except OSError as err:
        raise UserError(f"--port: cannot listen on {HOST}:{config.port} ({err.strerror})") from None
    print(f"serving the preview of {model_path} at http://{HOST}:{server.server_address[1]}/ (Ctrl+C stops)",
          flush=True)
    with server:
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    return 0
