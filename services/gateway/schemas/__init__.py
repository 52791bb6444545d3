"""Request and response shapes of the HTTP API (marshmallow), one module per
resource. Requests are validated with them before any service sees them;
answers are shaped by them (``shapes.py``); the OpenAPI document is built
from them. ``fields`` holds the field types every module uses."""
