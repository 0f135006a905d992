#!/usr/bin/env python3
"""A release server for tests/tools/run.sh, on 127.0.0.1 only.

Serves ROOT like a release host. Files under ROOT/trunc/ are sent with the
Content-Length of the whole file but only half of the body, then the connection
closes (a truncated download). Missing files answer 404. Writes the port it
listens on to PORTFILE.

Usage: server.py ROOT PORTFILE
"""
import http.server
import os
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):  # quiet: the test prints what matters
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        if "/trunc/" in self.path and os.path.isfile(path):
            with open(path, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


def main():
    root, portfile = sys.argv[1], sys.argv[2]
    handler = lambda *a, **kw: Handler(*a, directory=root, **kw)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
