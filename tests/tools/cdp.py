"""cdp.py: drive headless Chromium through the DevTools protocol, stdlib only.

Chromium's --remote-debugging-pipe speaks the protocol on file descriptors
3 (commands in) and 4 (replies and events out), one JSON message per
NUL-terminated record: no WebSocket, no port to collide with, no package
from outside Debian.  Used by tests/integration/test_ui.sh and
bench/ui_bench.py.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--remote-debugging-pipe"]


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Chrome:
    def __init__(self, width=1280, height=1000, timeout=20):
        self.dir = tempfile.mkdtemp(prefix="cloister-chrome.")
        self.timeout = timeout
        # Our ends and the child's, moved above 10 so that placing the
        # child's on 3 and 4 cannot clobber one with the other.
        cmd_r, cmd_w = os.pipe()
        out_r, out_w = os.pipe()
        hi = [os.dup2(fd, 100 + i, inheritable=False) for i, fd in enumerate((cmd_r, out_w))]
        for fd in (cmd_r, out_w):
            os.close(fd)

        def child():
            os.dup2(hi[0], 3)  # inheritable, unlike the rest
            os.dup2(hi[1], 4)

        self.log = open(os.path.join(self.dir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(
            [find_chromium()] + FLAGS + [f"--user-data-dir={self.dir}/profile",
                                         f"--window-size={width},{height}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            # Every descriptor of ours is close-on-exec; only the two the
            # child placed on 3 and 4 survive into chromium.
            preexec_fn=child, close_fds=False)
        for fd in hi:
            os.close(fd)
        self.wfd, self.rfd = cmd_w, out_r
        self.next_id = 0
        self.replies = {}
        self.events = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.session = None
        try:
            targets = self.send("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self.session = self.send("Target.attachToTarget",
                                     targetId=page["targetId"], flatten=True)["sessionId"]
            self.send("Page.enable")
            self.send("Runtime.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            # No __exit__ runs for a constructor that raised: stop the
            # browser here, by its PID, rather than leave it behind.
            self.proc.kill()
            self.proc.wait()
            self._release()
            raise

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self.rfd, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self.cond:
                    self.replies[None] = "closed"
                    self.cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                msg, buf = buf.split(b"\0", 1)
                m = json.loads(msg)
                with self.cond:
                    if "id" in m:
                        self.replies[m["id"]] = m
                    else:
                        self.events.append(m)
                        del self.events[:-200]
                    self.cond.notify_all()

    def send(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        msg = {"id": mid, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + self.timeout
        with self.cond:
            while mid not in self.replies:
                if None in self.replies or time.time() > deadline:
                    raise RuntimeError(f"chromium did not answer {method}")
                self.cond.wait(0.2)
            r = self.replies.pop(mid)
        if "error" in r:
            raise RuntimeError(f"{method}: {r['error']}")
        return r.get("result", {})

    def navigate(self, url):
        return self.send("Page.navigate", url=url)

    def eval(self, expr):
        r = self.send("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def wait(self, expr, timeout, poll=0.05):
        """Polls expr in the page until it is truthy; its value, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                v = self.eval(expr)
            except RuntimeError:
                v = None
            if v:
                return v
            time.sleep(poll)
        return None

    def screenshot(self, path):
        data = self.send("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._release()

    def _release(self):
        for fd in (self.wfd, self.rfd):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
