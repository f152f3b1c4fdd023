"""The module mod_wsgi loads: ``application`` built from the ``WEBUI_*`` environment.

Settings are validated on import, so a misconfigured deployment fails when Apache loads it and
the error log names the bad setting, instead of failing on a user's first question.
"""

import logging

from webui.app import create_app
from webui.settings import load_settings

logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
application = create_app(load_settings())
