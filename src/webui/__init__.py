"""A small, framework-free WSGI question-and-answer app in front of Ollama."""

from webui.app import create_app

__all__ = ["create_app"]
