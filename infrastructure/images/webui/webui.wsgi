# mod_wsgi loads this file (it needs a path, not a module name); importing the package keeps the
# application's own imports absolute and its code in the venv, not here.
from webui.wsgi import application  # noqa: F401
