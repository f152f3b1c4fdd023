"""Docker HEALTHCHECK: exit 0 when /healthz answers 200 on the port Apache listens on.

That port is the container's APACHE_LISTEN_PORT, which the webapp role sets; the image has none.

Uses the system Python and the standard library so the check works even when the app's venv or
settings are broken: then it reports the container unhealthy instead of failing to run. When the
webapp role mounted a TLS certificate, the port speaks TLS, and exactly that certificate is trusted.
"""

import os
import ssl
import sys
import urllib.request

PORT = os.environ["APACHE_LISTEN_PORT"]
CERT = "/etc/webui/tls/server.crt"

if os.path.exists(CERT):
    URL = f"https://127.0.0.1:{PORT}/healthz"
    context = ssl.create_default_context(cafile=CERT)
    # The server's own certificate is the trust anchor; its CA stays outside the container.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
else:
    URL = f"http://127.0.0.1:{PORT}/healthz"
    context = None

try:
    with urllib.request.urlopen(URL, timeout=2, context=context) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:
    print(f"{URL}: {exc}", file=sys.stderr)
    sys.exit(1)
