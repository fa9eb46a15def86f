"""Screenshots of the TensorBoard dashboards of a training run, taken with headless Chromium.

    python examples/tensorboard_screenshot.py runs/x                # an existing --logdir
    python examples/tensorboard_screenshot.py                       # trains a tiny LSTM and VAE first
    python examples/tensorboard_screenshot.py runs/x --out shots --dashboards scalars,images

Starts ``tensorboard`` on 127.0.0.1 on a free port, saves one PNG per dashboard
(``shots/scalars.png`` ...) and stops the server. The tiny run reads
tiny_shakespeare and MNIST from $KERASGEN_DATA_DIR.

Needs Chromium or Google Chrome (only this script: training and TensorBoard do not):
on Debian ``sudo apt-get install chromium``, on Ubuntu ``sudo snap install chromium``
(its apt package installs the snap); elsewhere any Chrome or Chromium build.
The script looks for chromium, chromium-browser, google-chrome and
google-chrome-stable on PATH; ``--browser PATH`` or $KERASGEN_BROWSER names another
executable. ``serve`` is also what tests/test_tensorboard_server.py uses.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
BROWSER_VARIABLE = "KERASGEN_BROWSER"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def get_json(url):
    return json.loads(get(url))


def wait_for(condition, timeout, what):
    """Poll ``condition()`` until it returns something truthy; return that, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except OSError:  # not listening yet, or the connection dropped
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.5)


@contextlib.contextmanager
def serve(logdir, timeout=60):
    """Run TensorBoard on ``logdir``; yield its base URL once it answers; stop it by PID on exit.

    The server reads ``logdir`` once, completely, before it answers (a snapshot: no reloads).
    """
    port = free_port()
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
               "--port", str(port), "--load_fast=false", "--reload_task=blocking", "--reload_interval=0"]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                  env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        url = f"http://127.0.0.1:{port}"
        try:
            def ready():
                if server.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"tensorboard exited with status {server.returncode}:\n{log.read().decode()}")
                return get_json(f"{url}/data/runs")

            wait_for(ready, timeout, f"tensorboard on {url} to list a run of {logdir}")
            yield url
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def find_browser(given=None):
    """The browser to run: ``given`` (--browser), else $KERASGEN_BROWSER, else the first of BROWSERS on PATH."""
    for source, name in (("--browser", given), (f"${BROWSER_VARIABLE}", os.environ.get(BROWSER_VARIABLE))):
        if name:
            path = shutil.which(name)
            if not path:
                sys.exit(f"tensorboard_screenshot: {source} {name} is not an executable")
            return path
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    sys.exit(f"tensorboard_screenshot: Chromium not found on PATH (looked for {', '.join(BROWSERS)}); install it "
             f"(Debian: sudo apt-get install chromium; Ubuntu: sudo snap install chromium) or pass --browser PATH "
             f"or set ${BROWSER_VARIABLE} to a Chrome or Chromium executable")


def screenshot(browser, url, out, size=(1400, 1000), budget_ms=15000):
    """Load ``url`` in headless Chromium, let the page run ``budget_ms`` of virtual time, save a PNG."""
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--window-size={size[0]},{size[1]}", f"--virtual-time-budget={budget_ms}", f"--screenshot={out}", url],
            capture_output=True, text=True, timeout=180,
        )
    if result.returncode or not out.is_file():
        raise RuntimeError(f"{browser} wrote no screenshot of {url} (status {result.returncode}):\n{result.stderr}")
    return out


def tiny_run(logdir):
    """A few short epochs of a char LSTM and a VAE, so every dashboard has something to show."""
    common = ["--epochs", "5", "--steps-per-epoch", "20", "--policy", "float32"]
    runs = {
        "lstm": ["lstm", "--text", "tiny_shakespeare", "--seq-len", "64", "--batch-size", "32", "--units", "64",
                 "--num-layers", "1", "--prompt", "ROMEO:"],
        "vae": ["vae", "--data", "mnist", "--batch-size", "64", "--latent-dim", "8"],
    }
    for name, args in runs.items():
        print(f"training a tiny {name} into {logdir}/{name} ...", flush=True)
        subprocess.run([sys.executable, "-m", "kerasgen", "train", *args, *common, "--logdir", f"{logdir}/{name}"],
                       check=True, stdout=subprocess.DEVNULL)
    return logdir


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logdir", nargs="?", help="a training --logdir (default: train a tiny run first)")
    parser.add_argument("--out", default="tensorboard_screenshots", help="folder for the PNGs")
    parser.add_argument("--dashboards", default="scalars,images,text", help="comma-separated TensorBoard tabs")
    parser.add_argument("--tag-filter", default="epoch_loss", help="scalars shown first (a regular expression)")
    parser.add_argument("--size", default="1400x1000", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--browser", help=f"Chrome or Chromium executable (default: ${BROWSER_VARIABLE}, else PATH)")
    args = parser.parse_args()
    browser = find_browser(args.browser)
    size = tuple(int(n) for n in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        logdir = args.logdir or tiny_run(stack.enter_context(tempfile.TemporaryDirectory(prefix="kerasgen-tb-")))
        url = stack.enter_context(serve(logdir))
        for dashboard in args.dashboards.split(","):
            fragment = f"scalars&tagFilter={quote(args.tag_filter)}" if dashboard == "scalars" else dashboard
            print(screenshot(browser, f"{url}/#{fragment}", out / f"{dashboard}.png", size))


if __name__ == "__main__":
    main()
