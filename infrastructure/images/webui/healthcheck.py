"""Docker HEALTHCHECK: exit 0 when /healthz answers 200 on the port Apache listens on.

Uses the system Python and the standard library so the check works even when the app's venv or
settings are broken: then it reports the container unhealthy instead of failing to run.
"""

import os
import sys
import urllib.request

URL = f"http://127.0.0.1:{os.environ.get('APACHE_LISTEN_PORT', '8080')}/healthz"

try:
    with urllib.request.urlopen(URL, timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"{URL}: {exc}", file=sys.stderr)
    sys.exit(1)
