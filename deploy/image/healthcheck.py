"""The image's HEALTHCHECK: exit 0 when this container's Mizual answers /health with 200.

Standard library only, so that a check starts in milliseconds rather than importing Mizual."""

import os
import sys
import urllib.error
import urllib.request

port = os.environ.get("PORT", "10000")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as response:
        sys.exit(0 if response.status == 200 else 1)
except urllib.error.HTTPError as exc:  # 503: the database is down, or the server is draining
    print(f"unhealthy: /health answered {exc.code}")
except OSError as exc:
    print(f"unhealthy: {exc}")
sys.exit(1)
